import Core
import Foundation
import Torch

/// Checkpoint folders under a training run's output folder: `checkpoint-000100/`, each complete or absent.
///
/// A checkpoint is written into a hidden temporary folder beside its final place and put in place when every
/// file is in it, so a kill at any moment leaves either the previous checkpoints or the new one, never half
/// of one and never none. The marker of completeness is `training_state.json`, written last.
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

    /// Writes a checkpoint: `write` fills a hidden folder, which then takes the name `checkpoint-<step>` in one
    /// atomic exchange (replacing an older one of the same step; see `StagedFolder`). Keeps the newest `keep`
    /// checkpoints (all when nil).
    public func save(step: Int, keep: Int? = nil, _ write: (URL) throws -> Void) throws {
        do { try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true) } catch {
            throw describingFileErrors(error)
        }
        removeLeftovers()
        try StagedFolder.write(url(step: step)) { folder in
            try write(folder)
            guard FileManager.default.fileExists(atPath: folder.appendingPathComponent(Self.stateFile).path) else {
                throw CheckpointError(folder.path, "was written without \(Self.stateFile)")
            }
        }
        if let keep {
            for s in steps().dropLast(max(keep, 1)) { try? FileManager.default.removeItem(at: url(step: s)) }
        }
    }

    /// Cleans up after a killed run: half-written checkpoints go, a checkpoint moved aside to be replaced comes back.
    public func removeLeftovers() {
        StagedFolder.recoverInterrupted(in: root)
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
