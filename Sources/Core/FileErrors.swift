import Foundation

/// A file-system operation that failed: the path and the system's reason ("/data/x.png: No such file or
/// directory"). What Foundation's own errors become before a user sees them: on Linux those print as "The
/// operation could not be completed. (NSCocoaErrorDomain error 256.)", naming neither the file nor the cause.
public struct FileSystemError: Error, CustomStringConvertible, Sendable, Equatable {
    public let path: String
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }

    /// The same failure with its file and cause spelled out, for a Foundation file error that carries a path;
    /// nil for any other error (which is left to describe itself).
    public init?(_ error: Error) {
        guard !(error is FileSystemError) else { return nil }
        let ns = error as NSError
        guard ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain else { return nil }
        let path = ns.userInfo[NSFilePathErrorKey] as? String ?? (ns.userInfo[NSURLErrorKey] as? URL)?.path
        guard let path else { return nil }
        self.init(path: path, reason: Self.reason(ns))
    }

    /// The POSIX cause where Foundation kept one, else a plain reading of the Cocoa code.
    static func reason(_ error: NSError) -> String {
        if error.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(error.code))) }
        if let underlying = (error.userInfo[NSUnderlyingErrorKey] as? Error).map({ $0 as NSError }),
           underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        switch CocoaError.Code(rawValue: error.code) {
        case .fileNoSuchFile, .fileReadNoSuchFile: return "no such file"
        case .fileReadNoPermission, .fileWriteNoPermission: return "permission denied"
        case .fileReadCorruptFile: return "not in the expected format"
        case .fileReadInapplicableStringEncoding: return "not UTF-8 text"
        case .fileWriteOutOfSpace: return "no space left on the device"
        case .fileWriteVolumeReadOnly: return "read-only file system"
        case .fileWriteFileExists: return "already exists"
        default: return "cannot be read or written (\(error.domain) \(error.code))"
        }
    }
}

/// `error`, with a Foundation file error replaced by a ``FileSystemError`` that names the file and the cause.
public func describingFileErrors(_ error: Error) -> Error { FileSystemError(error) ?? error }
