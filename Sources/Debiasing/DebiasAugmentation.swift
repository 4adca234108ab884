import Core
import Counterfactual
import Datasets
import Diffusion
import Foundation
import Imaging

/// The images the augmenting methods add to the training set, each from the same source images (`sources.csv`, the
/// training rows that `DebiasData.augmentationSources` drew) with the attribute flipped and the label kept: Prism's
/// counterfactuals, images generated from the same target captions alone, or (phantom) the true counterfactuals.
/// Each set is a folder under `augment/` with a manifest in the training file's format; making one resumes.
public struct DebiasAugmentation {
    public let data: DebiasData
    public let options: DebiasOptions
    public let rows: [Int]
    public let folder: URL

    public init(data: DebiasData, options: DebiasOptions) {
        self.data = data
        self.options = options
        self.rows = data.augmentationSources(count: options.augmentCount, label: Findings.canonical(options.label),
                                             attribute: Findings.canonical(options.attribute), seed: 0xDEB1A5)
        self.folder = options.output.appendingPathComponent("augment")
    }

    public var sourcesURL: URL { folder.appendingPathComponent("sources.csv") }
    public func url(_ method: DebiasMethod) -> URL { folder.appendingPathComponent(method.rawValue) }

    /// The source rows with the edit that flips each one's attribute ("remove X" where present, else "add X").
    func targets() throws -> [(row: Int, edit: DatasetEdit)] {
        let edits = try options.edits.map { try DatasetEdit($0, labels: data.manifest.labels, template: options.template) }
        return rows.map { row in
            let present = data.manifest.records[row].findings()[edits[0].finding] == true
            return (row, present ? edits[0] : edits[1])
        }
    }

    // MARK: Prism's counterfactuals

    /// The counterfactual dataset of the sources, by the builder (resumable; each image inverted once).
    public func counterfactualRequest() throws -> CounterfactualDatasetRequest {
        try createFolder(folder)
        try data.writeSources(rows, to: sourcesURL)
        var request = CounterfactualDatasetRequest(data: sourcesURL, imageRoot: data.imageRoot, edits: options.edits,
                                                   output: url(.counterfactual))
        request.format = data.manifest.format
        request.template = options.template
        request.settings = options.editing
        return request
    }

    // MARK: Generated from captions

    /// Samples one image per source from the caption of its counterfactual (the same labels, age and sex), seeded per
    /// image, and writes them with a manifest; images already written are kept. `progress(done, total)` after each.
    public func generate(pipeline: StableDiffusionPipeline, progress: (Int, Int) -> Void = { _, _ in }) throws -> URL {
        let out = url(.generated), images = out.appendingPathComponent("images")
        try createFolder(images)
        removeAbandonedTemporaryFiles(under: out)
        let targets = try targets()
        var text = csvLine(data.manifest.table.header) + "\n"
        let scheduler = try pipeline.makeScheduler()
        progress(0, targets.count)
        for (k, target) in targets.enumerated() {
            let path = String(format: "images/%05d.png", k)
            let file = out.appendingPathComponent(path)
            if !FileManager.default.fileExists(atPath: file.path) {
                let record = data.manifest.records[target.row]
                guard let edited = target.edit.apply(to: record, template: options.template) else {
                    throw DataFileError(file: sourcesURL.path, "\"\(target.edit.text)\" does not apply to \(record.path)")
                }
                var request = GenerationRequest(prompt: options.template.caption(for: edited))
                request.steps = options.generationSteps
                request.guidanceScale = options.editing.guidance
                request.seed = 0x6E4E_0000 &+ UInt64(k)
                guard let result = try pipeline(request, scheduler: scheduler).images else {
                    throw DataFileError(file: out.path, "the pipeline returned no image")
                }
                let image = VaeImageProcessor.rgbImage(result[0]).grayscale()
                try AtomicFile.write(image.pngData(), to: file, durability: .unsynced)
            }
            text += csvLine(data.manifest.counterfactualRow(target.row, edit: target.edit, path: path)) + "\n"
            progress(k + 1, targets.count)
        }
        let manifest = out.appendingPathComponent("manifest.csv")
        try writeAtomically(Data(text.utf8), to: manifest)
        return manifest
    }

    // MARK: The phantom's truth

    /// The sources' true counterfactuals (the phantom's do(attribute = flipped), labels from the causal model).
    public func oracleRecords() throws -> [Record] {
        try rows.map { row in
            let path = data.manifest.records[row].path
            guard let record = data.oracle[path] else {
                throw DataFileError(file: data.manifestURL.path, "\(path) has no true counterfactual in the phantom set")
            }
            return record
        }
    }

    /// A set's manifest as training records with absolute paths.
    public static func records(manifest: URL, format: ManifestFormat) throws -> [Record] {
        let root = manifest.deletingLastPathComponent()
        return try Manifest.load(manifest, format: format).map { $0.resolved(against: root) }
    }
}
