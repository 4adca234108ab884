import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes `data` to a temporary file in the destination's folder, then renames it over `url`, so that an
/// interrupted run never leaves a half-written file under the final name. The folder must exist.
/// Plain POSIX calls, so that an error names its reason (Foundation's on Linux says only "the operation could
/// not be completed").
public func writeAtomically(_ data: Data, to url: URL) throws {
    let folder = url.deletingLastPathComponent()
    let temp = folder.appendingPathComponent(
        ".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    /// The error for the call that just failed; the temporary file goes (errno is read first).
    func failure(_ what: String) -> ImagingError {
        let error = ImagingError.io(file: url.path, detail: "cannot \(what) (\(String(cString: strerror(errno))))")
        unlink(temp.path)
        return error
    }
    let fd = open(temp.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
    guard fd >= 0 else { throw failure("write") }
    let written = data.withUnsafeBytes { raw -> Bool in
        var offset = 0
        while offset < raw.count {
            let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
            if n < 0 { if errno == EINTR { continue }; return false }
            offset += n
        }
        return true
    }
    guard written else { defer { close(fd) }; throw failure("write") }
    guard close(fd) == 0 else { throw failure("write") }
    guard rename(temp.path, url.path) == 0 else { throw failure("rename the temporary file into place") }
}

/// Makes `url` and any missing parents (mkdir -p), or accepts it if it is already a folder; an error names the
/// part of the path that failed and why.
public func createFolder(_ url: URL) throws {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) {
        guard isDirectory.boolValue else { throw ImagingError.io(file: url.path, detail: "a file, not a folder") }
        return
    }
    var made = ""
    for component in url.pathComponents {
        made = component == "/" ? "/" : (made.hasSuffix("/") ? made : made + "/") + component
        if mkdir(made, 0o755) != 0 && errno != EEXIST {
            throw ImagingError.io(file: url.path, detail: "cannot create the folder (\(made): \(String(cString: strerror(errno))))")
        }
    }
}
