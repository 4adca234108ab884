import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Folders that appear whole or not at all: a checkpoint, a published model component.
///
/// The new folder is filled under a hidden name beside its final place (`.NAME.partial-PID`) and then takes the
/// final name with one atomic `renameat2(RENAME_EXCHANGE)` when an older folder holds it, so that at every instant
/// the final name is the old folder or the new one, complete. Where the file system cannot exchange, the old folder
/// is first renamed aside (`.NAME.old-PID`); a kill between the two renames leaves it there, and
/// ``recoverInterrupted(in:)`` puts it back instead of deleting it.
public enum StagedFolder {
    /// Fills a hidden folder with `fill` and puts it at `final`, replacing what was there.
    public static func write(_ final: URL, _ fill: (URL) throws -> Void) throws {
        let staged = hiddenSibling(of: final, "partial")
        removeTree(staged)
        try makeFolder(staged)
        do {
            try fill(staged)
            try replace(final, with: staged)
        } catch {
            removeTree(staged)
            throw error
        }
    }

    /// Puts the complete folder `staged` at `final`; `staged` is gone afterwards.
    public static func replace(_ final: URL, with staged: URL) throws {
        if exchange(staged, final) {
            removeTree(staged)  // now the old folder
            return
        }
        guard errno == ENOENT || errno == EINVAL || errno == ENOSYS || errno == ENOTSUP else {
            throw FileSystemError(path: final.path, reason: "cannot put the new folder in place (\(String(cString: strerror(errno))))")
        }
        var aside: URL? = nil
        if FileManager.default.fileExists(atPath: final.path) {
            let old = hiddenSibling(of: final, "old")
            removeTree(old)
            guard rename(final.path, old.path) == 0 else {
                throw FileSystemError(path: final.path, reason: "cannot move the old folder aside (\(String(cString: strerror(errno))))")
            }
            aside = old
        }
        guard rename(staged.path, final.path) == 0 else {
            let reason = String(cString: strerror(errno))
            if let aside { _ = rename(aside.path, final.path) }
            throw FileSystemError(path: final.path, reason: "cannot put the new folder in place (\(reason))")
        }
        if let aside { removeTree(aside) }
    }

    /// Cleans up after a process killed while writing folders in `parent`: an old folder moved aside whose
    /// replacement never arrived goes back to its name; half-filled folders, and old ones already replaced, are
    /// removed. Folders of processes still running are left alone.
    public static func recoverInterrupted(in parent: URL) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: parent.path)) ?? []
        for name in names {
            guard let (finalName, kind, pid) = parseHidden(name), !isRunning(pid) else { continue }
            let url = parent.appendingPathComponent(name), final = parent.appendingPathComponent(finalName)
            if kind == "old" && !FileManager.default.fileExists(atPath: final.path) && rename(url.path, final.path) == 0 {
                continue
            }
            removeTree(url)
        }
    }

    // MARK: Pieces

    static func hiddenSibling(of final: URL, _ kind: String) -> URL {
        final.deletingLastPathComponent().appendingPathComponent(".\(final.lastPathComponent).\(kind)-\(getpid())")
    }

    /// (final name, "partial" or "old", pid) for a name made by `hiddenSibling`.
    static func parseHidden(_ name: String) -> (String, String, Int32)? {
        guard name.hasPrefix("."), let dash = name.lastIndex(of: "-"), let pid = Int32(name[name.index(after: dash)...]) else {
            return nil
        }
        let stem = name[name.index(after: name.startIndex)..<dash]
        for kind in ["partial", "old"] where stem.hasSuffix(".\(kind)") {
            return (String(stem.dropLast(kind.count + 1)), kind, pid)
        }
        return nil
    }

    static func isRunning(_ pid: Int32) -> Bool {
        pid == getpid() || kill(pid, 0) == 0 || errno == EPERM
    }

    private typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32

    /// glibc's renameat2, looked up at run time (Swift's Glibc module does not declare it); nil where it is absent.
    nonisolated(unsafe) private static let renameat2: RenameAt2? = {
        #if os(Linux)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "renameat2") else { return nil }
        return unsafeBitCast(symbol, to: RenameAt2.self)
        #else
        return nil
        #endif
    }()

    /// Swaps two existing paths atomically; false (errno set) where either is missing or it is not supported.
    static func exchange(_ a: URL, _ b: URL) -> Bool {
        guard let renameat2 else { errno = ENOSYS; return false }
        let renameExchange: UInt32 = 2, atCWD: Int32 = -100
        return renameat2(atCWD, a.path, atCWD, b.path, renameExchange) == 0
    }

    static func makeFolder(_ url: URL) throws {
        do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
            throw describingFileErrors(error)
        }
    }

    static func removeTree(_ url: URL) { try? FileManager.default.removeItem(at: url) }
}

/// Removes the temporary files that processes killed in the middle of an atomic write left under `root`
/// (`.NAME.tmp-PID-N`, the names `writeAtomically` uses), skipping those of processes still running. A rerun calls
/// it first, so that a kill leaves no trace once the work is done again.
public func removeAbandonedTemporaryFiles(under root: URL) {
    guard let enumerator = FileManager.default.enumerator(atPath: root.path) else { return }
    while let relative = enumerator.nextObject() as? String {
        let name = (relative as NSString).lastPathComponent
        guard name.hasPrefix("."), let marker = name.range(of: ".tmp-", options: .backwards) else { continue }
        let pidText = name[marker.upperBound...].prefix { $0 != "-" }
        guard let pid = Int32(pidText), !StagedFolder.isRunning(pid) else { continue }
        try? FileManager.default.removeItem(at: root.appendingPathComponent(relative))
    }
}
