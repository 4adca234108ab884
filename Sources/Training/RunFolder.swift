import Core
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A problem with a training run as a whole (its output folder, how it was started, its data), one line.
public struct TrainingRunError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The output folder of a training run, whatever the model: the trainer's `checkpoints/` and `log.csv`, the run's
/// description (`run.json`), and a lock. Every model's run (Stable Diffusion, classifiers) keeps these the same way:
/// it refuses to start over an earlier run unless resuming, resumes only with the options it started with, never
/// shares the folder with a second process, and cleans up what a killed process left.
public struct RunFolder: Sendable {
    public let url: URL

    public init(_ url: URL) { self.url = url }

    public var checkpoints: CheckpointFolder { CheckpointFolder(root: url.appendingPathComponent("checkpoints")) }
    public var logURL: URL { url.appendingPathComponent("log.csv") }
    public var descriptionURL: URL { url.appendingPathComponent("run.json") }

    /// Refuses to start over a previous run unless resuming.
    public func refuseOverwrite(resuming: Bool) throws {
        let existing = checkpoints.steps()
        let hasLog = FileManager.default.fileExists(atPath: logURL.path)
        if !resuming && (!existing.isEmpty || hasLog) {
            let what = existing.last.map { "a checkpoint at step \($0)" } ?? "a training log"
            throw TrainingRunError("\(url.path) already holds a training run (\(what)): pass --resume to continue it, "
                                   + "or choose another --output")
        }
    }

    /// Takes an exclusive lock on `.lock` for as long as the returned descriptor stays open, so that two processes
    /// never train into one folder (the kernel drops the lock when a process dies, even by SIGKILL).
    public func lock() throws -> Int32 {
        let path = url.appendingPathComponent(".lock").path
        let fd = open(path, O_RDWR | O_CREAT, 0o644)
        guard fd >= 0 else { throw TrainingRunError("\(path): cannot open (\(String(cString: strerror(errno))))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
            close(fd)
            throw TrainingRunError("\(url.path): another training process (pid \(holder)) is writing to this folder; "
                                   + "wait for it or stop it before resuming")
        }
        let pid = Data("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, pid.count, 0) }
        return fd
    }

    /// What a killed earlier process left: half-written files and folders go, a folder moved aside comes back.
    public func cleanUpAfterKill() {
        removeAbandonedTemporaryFiles(under: url)
        StagedFolder.recoverInterrupted(in: url)
        checkpoints.removeLeftovers()
    }

    /// On resume: the run must be described as it was when it started (`run.json`; absent: nothing to compare).
    public func checkDescription(_ now: [String: String]) throws {
        guard FileManager.default.fileExists(atPath: descriptionURL.path) else { return }
        let saved: [String: String]
        do { saved = try JSONFile.decode([String: String].self, from: descriptionURL) } catch {
            throw TrainingRunError("\(error); it describes how the run in \(url.path) was started: "
                                   + "restore it, or start in a new --output")
        }
        if let changes = RunIdentity.changes(from: saved, to: now) {
            throw TrainingRunError("\(descriptionURL.path): the run was started differently (\(changes)); "
                                   + "resume with the same options, or start in a new --output")
        }
    }

    public func writeDescription(_ description: [String: String]) throws {
        try createFolder(url)
        try AtomicFile.write(JSONFile.encode(description), to: descriptionURL, durability: .unsynced)
    }
}

/// What a resumed run must share with the run it continues, as `key: value` pairs: the trainer's settings (saved
/// in each checkpoint) and the run's options (saved in run.json) are compared the same way.
public enum RunIdentity {
    /// "key: old → new, …" for every key whose value differs (a missing one reads "none"), or nil when none does.
    public static func changes(from saved: [String: String], to now: [String: String]) -> String? {
        let changed = Set(saved.keys).union(now.keys).filter { saved[$0] != now[$0] }.sorted()
        guard !changed.isEmpty else { return nil }
        return changed.map { "\($0): \(saved[$0] ?? "none") → \(now[$0] ?? "none")" }.joined(separator: ", ")
    }
}
