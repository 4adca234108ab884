import Foundation

/// The element types Prism reads and writes in safetensors files. The raw value is the name used in
/// the header's `"dtype"` field. All values are little-endian, C (row-major) order.
public enum SafetensorsDType: String, Sendable, CaseIterable, Hashable {
    case F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .F64, .I64: 8
        case .F32, .I32: 4
        case .F16, .BF16, .I16: 2
        case .I8, .U8, .BOOL: 1
        }
    }

    /// The position of this dtype in the reference implementation's `Dtype` enum, which is declared in
    /// increasing alignment order. Writers lay tensors out by descending rank, then by name (byte order),
    /// so that every tensor's data stays aligned; mirroring it makes Swift's output byte-identical to
    /// Python's `safetensors.torch.save_file`.
    var layoutRank: Int {
        switch self {
        case .BOOL: 0
        case .U8: 1
        case .I8: 2
        case .I16: 3
        case .F16: 4
        case .BF16: 5
        case .I32: 6
        case .F32: 7
        case .F64: 8
        case .I64: 9
        }
    }

    /// Dtype names the safetensors format defines that Prism does not support; a file using one is
    /// reported as "unsupported" rather than "unknown".
    static let knownUnsupportedNames: Set<String> = [
        "F4", "F6_E2M3", "F6_E3M2", "F8_E5M2", "F8_E4M3", "F8_E8M0", "U16", "U32", "U64", "C64",
    ]
}
