import Core
import Foundation

/// One finished (image, edit) pair of a counterfactual dataset: written to `items/` when its image is in place,
/// so that a rerun skips it, and read back to build `manifest.csv` and `provenance.csv`.
public struct CounterfactualItem: Codable, Sendable, Equatable {
    /// The source image's index among the selected rows (manifest order), and the edit's among the edits.
    public var imageIndex: Int
    public var editIndex: Int
    /// The source image's path as the input manifest gives it, and its line there.
    public var source: String
    public var sourceLine: Int
    /// The edit as given ("remove support devices"), the label it changed and the label's new value (1 or 0).
    public var edit: String
    public var label: String
    public var value: Int
    public var sourceCaption: String
    public var targetCaption: String
    /// The counterfactual's path relative to the dataset's folder.
    public var path: String
    public var inversion: String
    /// PSNR of the counterfactual against its source (dB; infinite when they are equal).
    public var psnrDB: Double
    /// The fraction of the image the edit's mask covers (nil with `--mask none`).
    public var maskArea: Double?
    /// The gate classifier's probability of `label` on the counterfactual (nil without a gate).
    public var gateScore: Double?
    /// False when the gate judged the edit ineffective: the item is recorded but has no image and no manifest row.
    public var kept: Bool
    /// The counterfactual's row of the manifest, in the input's format.
    public var row: [String]

    enum CodingKeys: String, CodingKey {
        case imageIndex = "image_index", editIndex = "edit_index", source, sourceLine = "source_line", edit, label, value
        case sourceCaption = "source_caption", targetCaption = "target_caption", path, inversion, psnrDB = "psnr_db"
        case maskArea = "mask_area", gateScore = "gate_score", kept, row
    }

    /// The record's file name in `items/`: sorted by name, the items come in manifest order, edits in their order.
    public var fileName: String { Self.fileName(imageIndex: imageIndex, editIndex: editIndex) }

    public static func fileName(imageIndex: Int, editIndex: Int) -> String {
        String(format: "%08d-%03d.json", imageIndex, editIndex)
    }

    /// The columns of `provenance.csv`.
    public static let provenanceHeader = ["path", "source", "edit", "label", "value", "inversion", "psnr_db", "mask_area",
                                          "gate_score", "kept"]

    public var provenanceRow: [String] {
        [path, source, edit, label, "\(value)", inversion, psnrDB.isFinite ? String(format: "%.3f", psnrDB) : "inf",
         maskArea.map { String(format: "%.5f", $0) } ?? "", gateScore.map { String(format: "%.6f", $0) } ?? "",
         kept ? "1" : "0"]
    }
}

/// What a dataset's folder holds, and the one place that reads and writes it:
/// `run.json` (what was asked, without the shard), `items/` (one record per finished item), the counterfactual
/// images under a folder per edit, and `manifest.csv` and `provenance.csv`, rebuilt from the records.
public struct CounterfactualFolder: Sendable {
    public let url: URL

    public init(_ url: URL) { self.url = url }

    public var runFile: URL { url.appendingPathComponent("run.json") }
    public var itemsFolder: URL { url.appendingPathComponent("items") }
    public var manifest: URL { url.appendingPathComponent("manifest.csv") }
    public var provenance: URL { url.appendingPathComponent("provenance.csv") }

    public func itemFile(imageIndex: Int, editIndex: Int) -> URL {
        itemsFolder.appendingPathComponent(CounterfactualItem.fileName(imageIndex: imageIndex, editIndex: editIndex))
    }

    public func readRun() throws -> CounterfactualRun? {
        guard FileManager.default.fileExists(atPath: runFile.path) else { return nil }
        return try JSONFile.decode(CounterfactualRun.self, from: runFile)
    }

    /// Writes run.json, or checks that the one there asks for the same dataset (a rerun resumes only the same
    /// work); refused naming what differs.
    public func claim(_ run: CounterfactualRun) throws {
        if let existing = try readRun() {
            let differences = existing.differences(from: run)
            guard differences.isEmpty else {
                throw DataFileError(file: runFile.path, "this folder holds a counterfactual dataset made with other settings "
                                    + "(\(differences.joined(separator: ", "))); rerun with the same settings to resume, "
                                    + "or give another --output")
            }
            return
        }
        try createFolder(itemsFolder)
        try AtomicFile.write(JSONFile.encode(run), to: runFile, durability: .unsynced)
    }

    /// The finished items' records, in manifest order.
    public func items() throws -> [CounterfactualItem] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: itemsFolder.path)) ?? []
        return try names.filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.sorted().map {
            try JSONFile.decode(CounterfactualItem.self, from: itemsFolder.appendingPathComponent($0))
        }
    }

    /// Whether the item's record exists (the item is finished).
    public func isFinished(imageIndex: Int, editIndex: Int) -> Bool {
        FileManager.default.fileExists(atPath: itemFile(imageIndex: imageIndex, editIndex: editIndex).path)
    }

    public func write(_ item: CounterfactualItem) throws {
        try AtomicFile.write(JSONFile.encode(item), to: itemFile(imageIndex: item.imageIndex, editIndex: item.editIndex),
                             durability: .unsynced)
    }

    /// Rebuilds `manifest.csv` (the kept items' rows under the input's header) and `provenance.csv` (every item)
    /// from the records, each written whole.
    @discardableResult
    public func writeTables(header: [String]) throws -> [CounterfactualItem] {
        let items = try items()
        var manifest = csvLine(header) + "\n", provenance = csvLine(CounterfactualItem.provenanceHeader) + "\n"
        for item in items {
            if item.kept { manifest += csvLine(item.row) + "\n" }
            provenance += csvLine(item.provenanceRow) + "\n"
        }
        try AtomicFile.write(Data(manifest.utf8), to: self.manifest, durability: .unsynced)
        try AtomicFile.write(Data(provenance.utf8), to: self.provenance, durability: .unsynced)
        return items
    }
}

/// `run.json` of a counterfactual dataset: everything that decides its contents, and nothing that differs between
/// the shards of one dataset or between a run and its resumption.
public struct CounterfactualRun: Codable, Sendable, Equatable {
    /// The input label file as given, and a digest of its bytes.
    public var data: String
    public var dataDigest: String
    /// The input's header: the manifest's columns.
    public var header: [String]
    public var edits: [String]
    public var filter: String
    public var model: String
    public var settings: [String: String]
    public var gate: String?
    /// The (image, edit) pairs the whole dataset has (all shards together), edits that do not apply left out.
    public var plannedItems: Int

    enum CodingKeys: String, CodingKey {
        case data, dataDigest = "data_digest", header, edits, filter = "where", model, settings, gate
        case plannedItems = "planned_items"
    }

    /// The fields in which `other` differs ("edits", "settings.steps", ...); the input's path may differ.
    public func differences(from other: CounterfactualRun) -> [String] {
        var out: [String] = []
        if dataDigest != other.dataDigest || header != other.header { out.append("the input manifest") }
        if edits != other.edits { out.append("--edit") }
        if filter != other.filter { out.append("--where") }
        if model != other.model { out.append("the model") }
        for key in Set(settings.keys).union(other.settings.keys).sorted() where settings[key] != other.settings[key] {
            out.append(key)
        }
        if gate != other.gate { out.append("--gate") }
        if plannedItems != other.plannedItems && out.isEmpty { out.append("the planned items") }
        return out
    }
}
