import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Files that appear whole or not at all.
public enum AtomicFile {
    /// Whether `write` waits for the bytes to reach the disk before the new file takes the old one's name.
    ///
    /// Either way a reader, or a run killed midway, sees the old file or the new one, never a part: the rename
    /// does that. Syncing adds only survival of a power loss or a kernel crash in the seconds after the write,
    /// and it is not free: fsync took 3.3 to 4.5 ms a file here, 1.8 s of a 200-image `prism phantom generate`
    /// (402 files), more than rendering them takes in a release build. So the many files a rerun recreates
    /// (images, phantom cases, reports, logs) are `.unsynced`, and files whose loss costs more than a rerun (a
    /// published tokenizer) are `.synced`.
    public enum Durability: Sendable {
        case synced, unsynced
    }

    /// Writes `data` to `.NAME.tmp-PID-N` beside `url` (the names `removeAbandonedTemporaryFiles` clears after a
    /// kill) and renames it over `url`. The folder must exist; a failure names the file and the system's reason
    /// ("x.png: cannot write (No space left on device)"), and leaves no temporary file.
    public static func write(_ data: Data, to url: URL, durability: Durability) throws {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(
            ".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        /// The error for the call that just failed; the temporary file goes (errno is read first).
        func failure(_ what: String) -> FileSystemError {
            let error = FileSystemError(path: url.path, reason: "cannot \(what) (\(String(cString: strerror(errno))))")
            unlink(temporary.path)
            return error
        }
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("write") }
        let written = data.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let n = posixWrite(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; return false }
                offset += n
            }
            return durability == .unsynced || fsync(fd) == 0
        }
        guard written else { defer { close(fd) }; throw failure("write") }
        guard close(fd) == 0 else { throw failure("write") }
        guard rename(temporary.path, url.path) == 0 else { throw failure("rename the temporary file into place") }
    }
}

/// `AtomicFile.write` without syncing: what the outputs a rerun recreates use (see `AtomicFile.Durability`).
public func writeAtomically(_ data: Data, to url: URL) throws {
    try AtomicFile.write(data, to: url, durability: .unsynced)
}

/// Makes `url` and any missing parents (mkdir -p), or accepts it if it is already a folder; an error names the
/// part of the path that failed and why (Foundation's on Linux says only "the operation could not be completed").
public func createFolder(_ url: URL) throws {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) {
        guard isDirectory.boolValue else { throw FileSystemError(path: url.path, reason: "a file, not a folder") }
        return
    }
    var made = ""
    for component in url.pathComponents {
        made = component == "/" ? "/" : (made.hasSuffix("/") ? made : made + "/") + component
        if mkdir(made, 0o755) != 0 && errno != EEXIST {
            throw FileSystemError(path: url.path, reason: "cannot create the folder (\(made): \(String(cString: strerror(errno))))")
        }
    }
}

/// POSIX `write(2)` (inside `AtomicFile` the name means the method above).
private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { write(fd, buffer, count) }
