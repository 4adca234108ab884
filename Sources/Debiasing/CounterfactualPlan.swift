import Core
import Counterfactual
import Datasets
import Foundation

/// What a counterfactual dataset is asked to be: the input, the edits, the row filter, the editing settings, the
/// shard and the folder. Everything but the model and the gate, which are objects the caller loads.
public struct CounterfactualDatasetRequest: Sendable {
    /// The input label file (CheXpert-style or NIH) and the folder its paths are relative to.
    public var data: URL
    public var imageRoot: URL
    public var format = ManifestFormat.auto
    /// "remove FINDING" / "add FINDING", each one counterfactual per image it applies to.
    public var edits: [String]
    /// `Col=V[,Col2=V2]`, nil for every row.
    public var filter: String?
    public var template = CaptionTemplate()
    public var settings = EditSettings()
    /// Further settings that change the images (say, the compute dtype), recorded in run.json.
    public var extraSettings: [String: String] = [:]
    public var shard = Shard.whole
    public var output: URL

    public init(data: URL, imageRoot: URL, edits: [String], output: URL) {
        self.data = data
        self.imageRoot = imageRoot
        self.edits = edits
        self.output = output
    }
}

/// The work of a counterfactual dataset, decided before any model loads: the selected rows, their captions, and
/// per image the edits that apply to it (an image's edits are made together, from one inversion).
public struct CounterfactualPlan: Sendable {
    public struct Target: Sendable {
        public let editIndex: Int
        public let edit: DatasetEdit
        public let caption: String
        /// The counterfactual's path relative to the output folder, and its manifest row.
        public let path: String
        public let row: [String]
    }

    public struct SourceImage: Sendable {
        /// The index among the selected rows (what shards split), and the row of the input manifest.
        public let index: Int
        public let row: Int
        public let record: Record
        public let caption: String
        public let targets: [Target]
    }

    public let request: CounterfactualDatasetRequest
    public let manifest: SourceManifest
    public let edits: [DatasetEdit]
    public let filter: RowFilter
    /// Every selected image, all shards together.
    public let images: [SourceImage]
    /// Per edit (in order), how many selected images (all shards) it does not apply to.
    public let notApplicable: [Int]

    /// Reads and checks everything: the manifest, the edits and the filter against its labels, and that every image
    /// this shard edits exists (the first missing ones named with their manifest lines).
    public init(_ request: CounterfactualDatasetRequest) throws {
        guard !request.edits.isEmpty else { throw DataFileError(file: "--edit", "give at least one edit, e.g. \"remove support devices\"") }
        let manifest = try SourceManifest(url: request.data, format: request.format)
        let edits = try request.edits.map { try DatasetEdit($0, labels: manifest.labels, template: request.template) }
        if let twice = edits.first(where: { e in edits.filter { $0.slug == e.slug }.count > 1 }) {
            throw DataFileError(file: "--edit", "\"\(twice.text)\" is given twice")
        }
        let filter = try request.filter.map { try RowFilter($0, manifest: manifest, template: request.template) } ?? .all
        var images: [SourceImage] = [], notApplicable = Array(repeating: 0, count: edits.count)
        var seen: [String: Int] = [:]
        for row in manifest.records.indices where filter.accepts(row, of: manifest) {
            let record = manifest.records[row]
            if let first = seen[record.path] {
                throw DataFileError(file: request.data.path, line: record.line, "\(record.path) is also on line \(first): "
                                    + "its counterfactuals would overwrite each other; give each image once")
            }
            seen[record.path] = record.line
            var targets: [Target] = []
            for (e, edit) in edits.enumerated() {
                guard let edited = edit.apply(to: record, template: request.template) else {
                    notApplicable[e] += 1
                    continue
                }
                let path = SourceManifest.counterfactualPath(source: record.path, slug: edit.slug)
                targets.append(Target(editIndex: e, edit: edit, caption: request.template.caption(for: edited), path: path,
                                      row: manifest.counterfactualRow(row, edit: edit, path: path)))
            }
            images.append(SourceImage(index: images.count, row: row, record: record,
                                      caption: request.template.caption(for: record), targets: targets))
        }
        guard !images.isEmpty else {
            throw DataFileError(file: request.data.path, request.filter.map { "no row matches --where \"\($0)\"" } ?? "no rows")
        }
        self.request = request
        self.manifest = manifest
        self.edits = edits
        self.filter = filter
        self.images = images
        self.notApplicable = notApplicable
        try checkImagesExist()
    }

    /// The images this shard edits, in order.
    public var shardImages: [SourceImage] {
        images.filter { request.shard.contains(imageIndex: $0.index) && !$0.targets.isEmpty }
    }

    /// The (image, edit) pairs of the whole dataset, and of this shard.
    public var plannedItems: Int { images.reduce(0) { $0 + $1.targets.count } }
    public var shardItems: Int { shardImages.reduce(0) { $0 + $1.targets.count } }

    /// The file of a source image.
    public func url(of image: SourceImage) -> URL {
        let p = image.record.path
        return p.hasPrefix("/") ? URL(fileURLWithPath: p) : request.imageRoot.appendingPathComponent(p)
    }

    func checkImagesExist() throws {
        let missing = shardImages.lazy.filter { !FileManager.default.fileExists(atPath: url(of: $0).path) }.prefix(4)
        guard missing.isEmpty else {
            throw DataFileError(file: request.data.path, "image files are missing: "
                                + missing.map { "\(url(of: $0).path) (line \($0.record.line))" }.joined(separator: ", ")
                                + "; is --images (\(request.imageRoot.path)) the folder the manifest's paths are relative to?")
        }
    }

    /// Per edit, in order, how many of `shard`'s selected images it does not apply to.
    public func notApplicable(in shard: Shard) -> [Int] {
        let images = images.filter { shard.contains(imageIndex: $0.index) }
        return edits.indices.map { e in images.filter { !$0.targets.contains { $0.editIndex == e } }.count }
    }

    /// run.json of this dataset, with the model's identity and the gate's (nil without one).
    public func runDescription(modelIdentity: String, gate: String?) throws -> CounterfactualRun {
        var digest = Digest()
        digest.update(Array(try Data(contentsOf: request.data)))
        let s = request.settings
        var settings: [String: String] = [
            "inversion": s.method.rawValue, "steps": "\(s.steps)", "guidance": "\(s.guidance)",
            "cross_replace": "\(s.crossReplace)", "self_replace": "\(s.selfReplace)", "controller": s.controller.rawValue,
            "mask": s.mask.name, "mask_threshold": "\(s.maskThreshold)", "blend_start": "\(s.blendStart)",
            "feather": "\(s.feather)", "change_threshold": "\(s.changeThreshold)",
            "null_text_inner_steps": "\(s.nullTextInnerSteps)", "null_text_epsilon": "\(s.nullTextEpsilon)",
            "caption_template": String(decoding: try JSONFile.encode(request.template, pretty: false), as: UTF8.self),
        ]
        // Left out at 1 (prompt-to-prompt's own weighting), so datasets begun before the setting existed resume.
        if s.emphasis != 1 { settings["emphasis"] = "\(s.emphasis)" }
        settings.merge(request.extraSettings) { _, new in new }
        return CounterfactualRun(data: request.data.path, dataDigest: digest.description, header: manifest.table.header,
                                 edits: edits.map(\.text), filter: filter.text, model: modelIdentity, settings: settings,
                                 gate: gate, plannedItems: plannedItems)
    }
}
