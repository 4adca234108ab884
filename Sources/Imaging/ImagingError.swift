/// Why an image could not be read or written. Every case names the file (or "PNG data" for in-memory
/// bytes), and the description reads as one user-facing line: `scan.png: truncated: chunk IDAT ...`.
public enum ImagingError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The file ends before the image does.
    case truncated(file: String, detail: String)
    /// The bytes are not a valid image: bad signature, checksum, header or compressed data.
    case corrupt(file: String, detail: String)
    /// A valid file using a feature this reader does not implement.
    case unsupported(file: String, detail: String)
    /// Reading or writing the file failed.
    case io(file: String, detail: String)

    public var description: String {
        switch self {
        case let .truncated(file, detail): return "\(file): truncated: \(detail)"
        case let .corrupt(file, detail): return "\(file): corrupt: \(detail)"
        case let .unsupported(file, detail): return "\(file): unsupported: \(detail)"
        case let .io(file, detail): return "\(file): \(detail)"
        }
    }

    public var file: String {
        switch self {
        case let .truncated(f, _), let .corrupt(f, _), let .unsupported(f, _), let .io(f, _): return f
        }
    }
}
