import CTorch

/// Element types a tensor can hold. Raw values are the shim's `pt_dtype` codes.
public enum DType: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case float32 = 0, float16, bfloat16, float64, int64, int32, int16, int8, uint8, bool

    public var isFloatingPoint: Bool { self == .float32 || self == .float16 || self == .bfloat16 || self == .float64 }

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .float64, .int64: 8
        case .float32, .int32: 4
        case .float16, .bfloat16, .int16: 2
        case .int8, .uint8, .bool: 1
        }
    }

    /// The short name used on command lines and in safetensors headers' spirit: fp32, fp16, bf16, ...
    public var description: String {
        switch self {
        case .float32: "fp32"
        case .float16: "fp16"
        case .bfloat16: "bf16"
        case .float64: "fp64"
        case .int64: "int64"
        case .int32: "int32"
        case .int16: "int16"
        case .int8: "int8"
        case .uint8: "uint8"
        case .bool: "bool"
        }
    }

    /// Parses `fp32`, `float32`, `fp16`, `half`, `bf16`, `bfloat16`, ...
    public init?(name: String) {
        switch name.lowercased() {
        case "fp32", "float32", "float", "f32": self = .float32
        case "fp16", "float16", "half", "f16": self = .float16
        case "bf16", "bfloat16": self = .bfloat16
        case "fp64", "float64", "double", "f64": self = .float64
        case "int64", "i64", "long": self = .int64
        case "int32", "i32", "int": self = .int32
        case "int16", "i16": self = .int16
        case "int8", "i8": self = .int8
        case "uint8", "u8": self = .uint8
        case "bool": self = .bool
        default: return nil
        }
    }
}

/// Where a tensor lives.
public enum Device: Sendable, Equatable, Hashable, CustomStringConvertible {
    case cpu
    case cuda(Int)

    /// True when the linked libtorch has CUDA and a GPU is visible.
    public static var cudaAvailable: Bool { pt_cuda_available() }
    public static var cudaDeviceCount: Int { Int(pt_cuda_device_count()) }

    /// The best device this process can use: the first GPU when CUDA is available, else the CPU.
    public static var best: Device { cudaAvailable ? .cuda(0) : .cpu }

    public var isCUDA: Bool { if case .cuda = self { true } else { false } }

    public var description: String {
        switch self {
        case .cpu: "cpu"
        case .cuda(let i): "cuda:\(i)"
        }
    }

    /// Parses `cpu`, `cuda`, `cuda:1`, `auto`.
    public init?(name: String) {
        let n = name.lowercased()
        if n == "cpu" { self = .cpu; return }
        if n == "auto" { self = Device.best; return }
        if n == "cuda" || n == "gpu" { self = .cuda(0); return }
        if n.hasPrefix("cuda:"), let i = Int(n.dropFirst(5)), i >= 0 { self = .cuda(i); return }
        return nil
    }

    var c: pt_device {
        switch self {
        case .cpu: pt_device(type: Int32(PT_CPU.rawValue), index: -1)
        case .cuda(let i): pt_device(type: Int32(PT_CUDA.rawValue), index: Int32(i))
        }
    }

    init(_ d: pt_device) {
        self = d.type == Int32(PT_CUDA.rawValue) ? .cuda(Int(max(d.index, 0))) : .cpu
    }

    /// Waits for queued GPU work (for timing); a no-op on the CPU.
    public func synchronize() {
        if case .cuda(let i) = self { _ = pt_cuda_synchronize(Int64(i)) }
    }
}

/// Swift scalar types that map one-to-one onto a tensor dtype.
public protocol TensorElement: Sendable {
    static var dtype: DType { get }
}
extension Float: TensorElement { public static var dtype: DType { .float32 } }
extension Double: TensorElement { public static var dtype: DType { .float64 } }
extension Int64: TensorElement { public static var dtype: DType { .int64 } }
extension Int32: TensorElement { public static var dtype: DType { .int32 } }
extension Int16: TensorElement { public static var dtype: DType { .int16 } }
extension Int8: TensorElement { public static var dtype: DType { .int8 } }
extension UInt8: TensorElement { public static var dtype: DType { .uint8 } }
extension Bool: TensorElement { public static var dtype: DType { .bool } }
#if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
extension Float16: TensorElement { public static var dtype: DType { .float16 } }
#endif
