import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Files that appear whole or not at all.
public enum AtomicFile {
    /// Writes `data` to `.NAME.tmp-PID-N` beside `url` (the names `removeAbandonedTemporaryFiles` clears after a
    /// kill), syncs it and renames it over `url`: a reader sees the old file or the new one, never a part. The
    /// folder must exist; a failure names the file and the system's reason, and leaves no temporary file.
    public static func write(_ data: Data, to url: URL) throws {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(
            ".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        func failure(_ what: String) -> FileSystemError {
            let error = FileSystemError(path: url.path, reason: "cannot \(what) (\(String(cString: strerror(errno))))")
            unlink(temporary.path)
            return error
        }
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("be written") }
        let written = data.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let n = posixWrite(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; return false }
                offset += n
            }
            return fsync(fd) == 0
        }
        guard written else { defer { close(fd) }; throw failure("be written") }
        guard close(fd) == 0 else { throw failure("be written") }
        guard rename(temporary.path, url.path) == 0 else { throw failure("take the place of the old file") }
    }
}

/// POSIX `write(2)` (inside `AtomicFile` the name means the method above).
private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { write(fd, buffer, count) }
