import Core
import Foundation
import Torch

/// Checkpoint folders under a training run's output folder: `checkpoint-000100/`, each complete or absent.
///
/// A checkpoint is written into a hidden temporary folder beside its final place and renamed when every
/// file is in it, so a kill at any moment leaves either the previous checkpoints or the new one, never half
/// of one. The marker of completeness is `training_state.json`, written last.
public struct CheckpointFolder: Sendable {
    public let root: URL
    static let prefix = "checkpoint-"
    static let stateFile = "training_state.json"

    public init(root: URL) { self.root = root }

    public func url(step: Int) -> URL { root.appendingPathComponent(String(format: "\(Self.prefix)%06d", step)) }

    /// The steps of the complete checkpoints, ascending.
    public func steps() -> [Int] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.compactMap { name -> Int? in
            guard name.hasPrefix(Self.prefix), let step = Int(name.dropFirst(Self.prefix.count)) else { return nil }
            let state = root.appendingPathComponent(name).appendingPathComponent(Self.stateFile)
            return FileManager.default.fileExists(atPath: state.path) ? step : nil
        }.sorted()
    }

    public var latest: URL? { steps().last.map { url(step: $0) } }

    /// Writes a checkpoint: `write` fills a temporary folder, which then becomes `checkpoint-<step>`
    /// (replacing an older one of the same step). Keeps the newest `keep` checkpoints (all when nil).
    public func save(step: Int, keep: Int? = nil, _ write: (URL) throws -> Void) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: root, withIntermediateDirectories: true)
        let final = url(step: step)
        let tmp = root.appendingPathComponent(".\(final.lastPathComponent).partial-\(ProcessInfo.processInfo.processIdentifier)")
        try? fm.removeItem(at: tmp)
        try fm.createDirectory(at: tmp, withIntermediateDirectories: true)
        do {
            try write(tmp)
            guard fm.fileExists(atPath: tmp.appendingPathComponent(Self.stateFile).path) else {
                throw CheckpointError(tmp.path, "was written without \(Self.stateFile)")
            }
            if fm.fileExists(atPath: final.path) {
                let old = root.appendingPathComponent(".\(final.lastPathComponent).old-\(ProcessInfo.processInfo.processIdentifier)")
                try fm.moveItem(at: final, to: old)
                try fm.moveItem(at: tmp, to: final)
                try? fm.removeItem(at: old)
            } else {
                try fm.moveItem(at: tmp, to: final)
            }
        } catch {
            try? fm.removeItem(at: tmp)
            throw error
        }
        if let keep {
            for s in steps().dropLast(max(keep, 1)) { try? fm.removeItem(at: url(step: s)) }
        }
        removeLeftovers()
    }

    /// Removes temporary folders that a killed run left behind.
    public func removeLeftovers() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        for name in names where name.hasPrefix(".\(Self.prefix)") && !name.hasSuffix("-\(ProcessInfo.processInfo.processIdentifier)") {
            try? FileManager.default.removeItem(at: root.appendingPathComponent(name))
        }
    }
}

public struct CheckpointError: Error, CustomStringConvertible, Sendable {
    public let path: String, problem: String
    public init(_ path: String, _ problem: String) { self.path = path; self.problem = problem }
    public var description: String { "\(path): \(problem)" }
}

/// What, besides the weights, a run needs to continue exactly where it stopped.
public struct TrainingState: Codable, Sendable, Equatable {
    /// Optimizer steps taken.
    public var step: Int
    /// Position in the data: epoch and the index of the next sample within that epoch's order.
    public var epoch: Int
    public var position: Int
    public var seed: UInt64
    /// The settings of the run, so a resume with different ones can be caught.
    public var settings: [String: String]

    public init(step: Int, epoch: Int, position: Int, seed: UInt64, settings: [String: String]) {
        self.step = step
        self.epoch = epoch
        self.position = position
        self.seed = seed
        self.settings = settings
    }

    public func write(to folder: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: folder.appendingPathComponent(CheckpointFolder.stateFile))
    }

    public static func read(from folder: URL) throws -> TrainingState {
        let url = folder.appendingPathComponent(CheckpointFolder.stateFile)
        do {
            return try JSONFile.decode(TrainingState.self, from: url)
        } catch let error as JSONFileError {
            throw CheckpointError(url.path, "not a training state: " + (error.key.isEmpty ? error.problem : "\(error.key): \(error.problem)"))
        }
    }
}
