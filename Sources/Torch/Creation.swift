import CTorch

extension Tensor {
    // MARK: From Swift values

    /// A tensor holding a copy of `values` in the given shape (default: one dimension).
    public convenience init<T: TensorElement>(_ values: [T], shape: [Int]? = nil) {
        let shape = shape ?? [values.count]
        precondition(shape.reduce(1, *) == values.count,
                     "Tensor(values:shape:): \(values.count) values do not fill shape \(shape)")
        var out: OpaquePointer?
        let status = values.withUnsafeBytes { bytes in
            withInt64s(shape) { pt_from_data(bytes.baseAddress, $0, $1, T.dtype.rawValue, &out) }
        }
        precondition(status == 0, String(cString: pt_last_error()))
        self.init(handle: out!)
    }

    /// Integer values as an int64 tensor (Swift `Int` is 64-bit).
    public convenience init(ints values: [Int], shape: [Int]? = nil) {
        self.init(values.map(Int64.init), shape: shape)
    }

    /// A zero-dimensional tensor.
    public convenience init(scalar value: Double, dtype: DType = .float32, device: Device = .cpu) {
        var out: OpaquePointer?
        precondition(pt_scalar_tensor(value, options(dtype, device), &out) == 0, String(cString: pt_last_error()))
        self.init(handle: out!)
    }

    /// Wraps raw memory without copying. `owner` is kept alive until libtorch frees the last tensor using it.
    public static func wrapping(
        _ pointer: UnsafeMutableRawPointer, shape: [Int], dtype: DType, owner: AnyObject
    ) -> Tensor {
        let context = Unmanaged.passRetained(owner).toOpaque()
        return Tensor.make("from_blob", []) { out in
            withInt64s(shape) {
                pt_from_blob(pointer, $0, $1, dtype.rawValue, { ctx in
                    Unmanaged<AnyObject>.fromOpaque(ctx!).release()
                }, context, out)
            }
        }
    }

    // MARK: Filled

    public static func empty(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu) -> Tensor {
        make("empty", []) { out in withInt64s(shape) { pt_empty($0, $1, options(dtype, device), out) } }
    }
    public static func zeros(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu) -> Tensor {
        make("zeros", []) { out in withInt64s(shape) { pt_zeros($0, $1, options(dtype, device), out) } }
    }
    public static func ones(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu) -> Tensor {
        make("ones", []) { out in withInt64s(shape) { pt_ones($0, $1, options(dtype, device), out) } }
    }
    public static func full(_ shape: [Int], _ value: Double, dtype: DType = .float32, device: Device = .cpu) -> Tensor {
        make("full", []) { out in withInt64s(shape) { pt_full($0, $1, value, options(dtype, device), out) } }
    }
    /// Values from `start` up to (not including) `end`, as `torch.arange`.
    public static func arange(
        _ start: Double = 0, _ end: Double, step: Double = 1, dtype: DType = .float32, device: Device = .cpu
    ) -> Tensor {
        make("arange", []) { pt_arange(start, end, step, options(dtype, device), $0) }
    }
    public static func linspace(
        _ start: Double, _ end: Double, steps: Int, dtype: DType = .float32, device: Device = .cpu
    ) -> Tensor {
        make("linspace", []) { pt_linspace(start, end, Int64(steps), options(dtype, device), $0) }
    }

    public func zerosLike() -> Tensor { Tensor.make("zeros_like", [self]) { pt_zeros_like(handle, $0) } }
    public func onesLike() -> Tensor { Tensor.make("ones_like", [self]) { pt_ones_like(handle, $0) } }

    // MARK: Random

    /// Standard normal samples. With a generator, they are drawn on the CPU (bit-identical to PyTorch's CPU
    /// `torch.randn` for the same seed) and then moved to `device`, as diffusers does for reproducible noise.
    public static func randn(
        _ shape: [Int], generator: Generator? = nil, dtype: DType = .float32, device: Device = .cpu
    ) -> Tensor {
        let onCPU = generator != nil || device == .cpu
        let t = make("randn", []) { out in
            withInt64s(shape) { pt_randn($0, $1, options(dtype, onCPU ? .cpu : device), generator?.handle, out) }
        }
        return onCPU && device != .cpu ? t.to(device) : t
    }
    /// Uniform samples in [0, 1), drawn like ``randn(_:generator:dtype:device:)``.
    public static func rand(
        _ shape: [Int], generator: Generator? = nil, dtype: DType = .float32, device: Device = .cpu
    ) -> Tensor {
        let onCPU = generator != nil || device == .cpu
        let t = make("rand", []) { out in
            withInt64s(shape) { pt_rand($0, $1, options(dtype, onCPU ? .cpu : device), generator?.handle, out) }
        }
        return onCPU && device != .cpu ? t.to(device) : t
    }
    /// Integers in [low, high).
    public static func randint(
        _ low: Int, _ high: Int, _ shape: [Int], generator: Generator? = nil, device: Device = .cpu
    ) -> Tensor {
        let t = make("randint", []) { out in
            withInt64s(shape) { pt_randint(Int64(low), Int64(high), $0, $1, options(.int64, .cpu), generator?.handle, out) }
        }
        return device == .cpu ? t : t.to(device)
    }
    /// A random permutation of 0..<n (int64).
    public static func randperm(_ n: Int, generator: Generator? = nil) -> Tensor {
        make("randperm", []) { pt_randperm(Int64(n), options(.int64, .cpu), generator?.handle, $0) }
    }
    /// Standard normal samples shaped like this tensor, drawn on the CPU and moved to its device.
    public func randnLike(generator: Generator? = nil) -> Tensor {
        Tensor.make("randn_like", [self]) { pt_randn_like(handle, generator?.handle, $0) }
    }
}

// MARK: - To Swift values

extension Tensor {
    /// The elements in row-major order. The tensor's dtype must be `T`'s (convert with `to(_:)` first).
    public func toArray<T: TensorElement>(_ type: T.Type = T.self) -> [T] {
        precondition(dtype == T.dtype, "toArray: tensor is \(dtype), asked for \(T.dtype)")
        let n = count
        return [T](unsafeUninitializedCapacity: n) { buffer, initialized in
            let status = pt_copy_to_buffer(handle, UnsafeMutableRawPointer(buffer.baseAddress), n * T.dtype.byteSize)
            precondition(status == 0, String(cString: pt_last_error()))
            initialized = n
        }
    }

    /// The elements converted to Float (any dtype).
    public func floats() -> [Float] { (dtype == .float32 ? self : to(.float32)).toArray(Float.self) }
    /// The elements converted to Int (any dtype).
    public func ints() -> [Int] { (dtype == .int64 ? self : to(.int64)).toArray(Int64.self).map(Int.init) }

    /// The single value of a one-element tensor.
    public func item() -> Double {
        var v = 0.0
        Tensor.check("item", [self], pt_item_double(handle, &v))
        return v
    }
    public func itemInt() -> Int {
        var v: Int64 = 0
        Tensor.check("item", [self], pt_item_int64(handle, &v))
        return Int(v)
    }

    /// Raw bytes of the tensor's elements, row-major, moved to the CPU.
    public func bytes() -> [UInt8] {
        let n = byteCount
        return [UInt8](unsafeUninitializedCapacity: n) { buffer, initialized in
            let status = pt_copy_to_buffer(handle, UnsafeMutableRawPointer(buffer.baseAddress), n)
            precondition(status == 0, String(cString: pt_last_error()))
            initialized = n
        }
    }

    /// A tensor of the given dtype and shape holding a copy of `bytes`.
    public convenience init(bytes: UnsafeRawBufferPointer, shape: [Int], dtype: DType) {
        precondition(bytes.count == shape.reduce(1, *) * dtype.byteSize, "Tensor(bytes:): size mismatch")
        var out: OpaquePointer?
        let status = withInt64s(shape) { pt_from_data(bytes.baseAddress, $0, $1, dtype.rawValue, &out) }
        precondition(status == 0, String(cString: pt_last_error()))
        self.init(handle: out!)
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        guard isDefined else { return "Tensor(undefined)" }
        return "Tensor(shape: \(shape), dtype: \(dtype), device: \(device))"
    }

    /// libtorch's own printout of the values.
    public var valuesDescription: String {
        var out: UnsafeMutablePointer<CChar>?
        guard pt_to_string(handle, &out) == 0, let out else { return description }
        defer { pt_free(out) }
        return String(cString: out)
    }
}
