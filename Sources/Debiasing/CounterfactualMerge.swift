import Core
import Foundation

/// Joins the folders of a dataset's shards (`--shard 0/N` ... `N-1/N`) into one folder equal to an unsharded run:
/// the same images, item records and run.json, and manifest.csv and provenance.csv rebuilt from the records, so the
/// same rows in the same order.
public enum CounterfactualMerge {
    public struct Result: Sendable {
        public let items: [CounterfactualItem]
        /// Items the dataset plans (run.json) that no shard has finished: 0 when every shard ran to its end.
        public let missing: Int
        public let manifest: URL
        public let provenance: URL
    }

    /// Copies every shard's images and records into `output` (which may be new, or one of the shards), refusing
    /// shards of different datasets (naming what differs) and two shards with different records of one item.
    public static func merge(_ shards: [URL], into output: URL) throws -> Result {
        guard !shards.isEmpty else { throw DataFileError(file: "merge", "no shard folder given") }
        let folders = shards.map(CounterfactualFolder.init)
        var run: CounterfactualRun?
        for f in folders {
            guard let r = try f.readRun() else {
                throw DataFileError(file: f.runFile.path, "missing: \(f.url.path) is not a counterfactual dataset's folder")
            }
            if let first = run, case let d = first.differences(from: r), !d.isEmpty {
                throw DataFileError(file: f.runFile.path, "a shard of another dataset than \(folders[0].url.path) "
                                    + "(differs: \(d.joined(separator: ", ")))")
            }
            run = run ?? r
        }
        let target = CounterfactualFolder(output)
        try createFolder(output)
        removeAbandonedTemporaryFiles(under: output)
        try target.claim(run!)
        var owner: [String: URL] = [:]
        for f in folders {
            for item in try f.items() {
                let record = f.itemFile(imageIndex: item.imageIndex, editIndex: item.editIndex)
                let data = try Data(contentsOf: record)
                if let other = owner[item.fileName], try Data(contentsOf: other) != data {
                    throw DataFileError(file: record.path, "differs from \(other.path): two shards made this item differently")
                }
                owner[item.fileName] = record
                if item.kept {
                    try copy(f.url.appendingPathComponent(item.path), to: output.appendingPathComponent(item.path))
                }
                try copy(record, to: target.itemFile(imageIndex: item.imageIndex, editIndex: item.editIndex))
            }
        }
        let items = try target.writeTables(header: run!.header)
        return Result(items: items, missing: max(0, run!.plannedItems - items.count), manifest: target.manifest,
                      provenance: target.provenance)
    }

    /// Copies a file whole (write, then rename); nothing when the destination is the file itself or already equal.
    static func copy(_ source: URL, to destination: URL) throws {
        if source.standardizedFileURL.path == destination.standardizedFileURL.path { return }
        guard FileManager.default.fileExists(atPath: source.path) else {
            throw FileSystemError(path: source.path, reason: "missing, though its item record says it was written")
        }
        let data = try Data(contentsOf: source)
        if let existing = try? Data(contentsOf: destination), existing == data { return }
        try createFolder(destination.deletingLastPathComponent())
        try AtomicFile.write(data, to: destination, durability: .unsynced)
    }
}
