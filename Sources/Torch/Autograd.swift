import CTorch

extension Tensor {
    /// Whether autograd records operations on this tensor.
    public var requiresGrad: Bool {
        get { pt_requires_grad(handle) }
        set { Tensor.check("requires_grad_", [self], pt_set_requires_grad(handle, newValue)) }
    }
    public var isLeaf: Bool { pt_is_leaf(handle) }

    /// Marks the tensor as a leaf that accumulates gradients, and returns it.
    @discardableResult
    public func requiringGrad(_ flag: Bool = true) -> Tensor {
        requiresGrad = flag
        return self
    }

    /// Back-propagates from this tensor. A non-scalar tensor needs `gradient` (d loss / d self).
    public func backward(gradient: Tensor? = nil, retainGraph: Bool = false) {
        Tensor.check("backward", [self], pt_backward(handle, gradient.handle, retainGraph))
    }

    /// The gradient accumulated by `backward`, or nil.
    public var grad: Tensor? {
        get {
            var out: OpaquePointer?
            Tensor.check("grad", [self], pt_grad(handle, &out))
            return out.map(Tensor.init(handle:))
        }
        set { Tensor.check("set_grad", [self], pt_set_grad(handle, newValue.handle)) }
    }

    /// Drops the accumulated gradient (as `optimizer.zero_grad(set_to_none=True)`).
    public func zeroGrad() { grad = nil }

    /// The same values, cut from the autograd graph.
    public func detach() -> Tensor { unary(.detach, "detach") }
}

// MARK: - In-place updates (optimizers, EMA, initialisation); run them under `withNoGrad` on parameters.

extension Tensor {
    /// self += alpha * other
    public func addInPlace(_ other: Tensor, alpha: Double = 1) { Tensor.check("add_", [self, other], pt_add_(handle, other.handle, alpha)) }
    public func mulInPlace(_ other: Tensor) { Tensor.check("mul_", [self, other], pt_mul_(handle, other.handle)) }
    public func addInPlace(_ s: Double) { Tensor.check("add_", [self], pt_add_scalar_(handle, s)) }
    public func mulInPlace(_ s: Double) { Tensor.check("mul_", [self], pt_mul_scalar_(handle, s)) }
    /// self += value * t1 * t2
    public func addcmulInPlace(_ t1: Tensor, _ t2: Tensor, value: Double = 1) {
        Tensor.check("addcmul_", [self, t1, t2], pt_addcmul_(handle, t1.handle, t2.handle, value))
    }
    /// self += value * t1 / t2
    public func addcdivInPlace(_ t1: Tensor, _ t2: Tensor, value: Double = 1) {
        Tensor.check("addcdiv_", [self, t1, t2], pt_addcdiv_(handle, t1.handle, t2.handle, value))
    }
    /// self += weight * (end - self)
    public func lerpInPlace(_ end: Tensor, weight: Double) { Tensor.check("lerp_", [self, end], pt_lerp_(handle, end.handle, weight)) }
    public func copyFrom(_ source: Tensor) { Tensor.check("copy_", [self, source], pt_copy_(handle, source.handle)) }
    /// Replaces this tensor's data (dtype, device, values) by `source`'s, keeping its identity and grad flag.
    public func setData(_ source: Tensor) { Tensor.check("set_data", [self, source], pt_set_data(handle, source.handle)) }
    public func zeroInPlace() { Tensor.check("zero_", [self], pt_zero_(handle)) }
    /// `relu_`: as `nn.ReLU(inplace=True)`, no new tensor; recorded by autograd, so only on a tensor no earlier op
    /// saved for its backward (a batch norm's output is such a tensor). Returns self.
    @discardableResult public func reluInPlace() -> Tensor { Tensor.check("relu_", [self], pt_relu_(handle)); return self }
    public func fillInPlace(_ value: Double) { Tensor.check("fill_", [self], pt_fill_(handle, value)) }
    public func normalInPlace(mean: Double = 0, std: Double = 1, generator: Generator? = nil) {
        Tensor.check("normal_", [self], pt_normal_(handle, mean, std, generator?.handle))
    }
    public func uniformInPlace(_ low: Double, _ high: Double, generator: Generator? = nil) {
        Tensor.check("uniform_", [self], pt_uniform_(handle, low, high, generator?.handle))
    }
}

// MARK: - Scopes

/// Runs `body` with gradient recording off (as `torch.no_grad()`), restoring the previous mode after.
public func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
    let previous = pt_grad_enabled()
    pt_set_grad_enabled(false)
    defer { pt_set_grad_enabled(previous) }
    return try body()
}

/// Runs `body` with gradient recording on (inside a no-grad region, for example).
public func withGrad<R>(_ body: () throws -> R) rethrows -> R {
    let previous = pt_grad_enabled()
    pt_set_grad_enabled(true)
    defer { pt_set_grad_enabled(previous) }
    return try body()
}

/// Runs `body` under automatic mixed precision (as `torch.autocast(device_type, dtype)`): matmuls and
/// convolutions compute in `dtype`, precision-sensitive ops stay in fp32.
public func withAutocast<R>(_ dtype: DType = .bfloat16, device: Device = .cpu, _ body: () throws -> R) rethrows -> R {
    var previousEnabled = false
    var previousDType: Int32 = -1
    let type = device.isCUDA ? Int32(PT_CUDA.rawValue) : Int32(PT_CPU.rawValue)
    let status = pt_autocast_enter(type, dtype.rawValue, &previousEnabled, &previousDType)
    precondition(status == 0, "autocast: \(String(cString: pt_last_error()))")
    defer { _ = pt_autocast_exit(type, previousEnabled, previousDType) }
    return try body()
}

extension Torch {
    /// Whether autograd records operations on this thread now (false inside ``withNoGrad(_:)``).
    public static var isGradEnabled: Bool { pt_grad_enabled() }

    /// Whether an autocast region is open for `device`'s type.
    public static func isAutocastEnabled(_ device: Device = .cpu) -> Bool {
        pt_autocast_enabled(device.isCUDA ? Int32(PT_CUDA.rawValue) : Int32(PT_CPU.rawValue))
    }

    /// Whether this libtorch has oneDNN (MKL-DNN) and registers the ops that run prepacked CPU convolutions and
    /// linear layers.
    public static var hasMKLDNN: Bool { pt_mkldnn_available() }
}
