import Foundation

// The bridge between safetensors files and tensors.

extension SafetensorsDType {
    public var dtype: DType {
        switch self {
        case .F64: .float64
        case .F32: .float32
        case .F16: .float16
        case .BF16: .bfloat16
        case .I64: .int64
        case .I32: .int32
        case .I16: .int16
        case .I8: .int8
        case .U8: .uint8
        case .BOOL: .bool
        }
    }

    public init(_ dtype: DType) {
        switch dtype {
        case .float64: self = .F64
        case .float32: self = .F32
        case .float16: self = .F16
        case .bfloat16: self = .BF16
        case .int64: self = .I64
        case .int32: self = .I32
        case .int16: self = .I16
        case .int8: self = .I8
        case .uint8: self = .U8
        case .bool: self = .BOOL
        }
    }
}

extension SafetensorsFile {
    /// The named tensor. Aligned data is used in place (no copy; the file stays mapped while any such tensor
    /// lives); unaligned data is copied.
    public func tensor(_ name: String) throws -> Tensor {
        tensor(for: try requireInfo(name))
    }

    public func tensor(for info: SafetensorsTensorInfo) -> Tensor {
        if info.isAligned && info.byteCount > 0 && mode == .copyOnWrite {
            let pointer = UnsafeMutableRawPointer(mutating: baseAddress + info.fileOffset)
            return Tensor.wrapping(pointer, shape: info.shape, dtype: info.dtype.dtype, owner: self)
        }
        return Tensor(bytes: bytes(of: info), shape: info.shape, dtype: info.dtype.dtype)
    }

    /// Every tensor by name.
    public func allTensors() -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, tensor(for: $0)) })
    }
}

public enum Safetensors {
    /// Reads every tensor of a file. The mapping is copy-on-write, so in-place ops on the results never
    /// reach the file.
    public static func load(_ url: URL) throws -> [String: Tensor] {
        try SafetensorsFile(url: url, mode: .copyOnWrite).allTensors()
    }

    /// Writes tensors (any device; moved to the CPU one at a time while writing) atomically: to a temporary
    /// name in the same folder, renamed when complete.
    public static func save(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String]? = nil, to url: URL) throws {
        var writer = SafetensorsWriter(metadata: metadata)
        for (name, tensor) in tensors {
            try writer.add(name, dtype: SafetensorsDType(tensor.dtype), shape: tensor.shape, byteCount: tensor.byteCount) { emit in
                let cpu = tensor.detach().to(.cpu).contiguous()
                let bytes = cpu.bytes()
                try bytes.withUnsafeBytes { try emit($0) }
            }
        }
        try writer.write(to: url)
    }
}
