import Core
import Counterfactual
import Evaluation
import Foundation
import Imaging

/// How far a build has come: items finished (made now or found finished) of the shard's items.
public struct CounterfactualProgress: Sendable {
    public let done: Int
    public let total: Int
    public let made: Int
    public let resumed: Int
}

/// What a build did.
public struct CounterfactualDatasetResult: Sendable {
    /// Every finished item of the folder (this shard's and any other run's there), in manifest order: the rows of
    /// provenance.csv; the kept ones are the rows of manifest.csv.
    public let items: [CounterfactualItem]
    /// This shard's items: made by this run, and found finished by an earlier one.
    public let made: Int
    public let resumed: Int
    public let shardItems: Int
    /// Per edit, in order: the edit and how many of the shard's selected images it does not apply to.
    public let notApplicable: [(edit: String, images: Int)]
    /// Items of this run the gate judged ineffective (recorded, no image, no manifest row).
    public let droppedByGate: Int
    public let manifest: URL
    public let provenance: URL

    public var kept: Int { items.filter(\.kept).count }
}

/// Builds a counterfactual dataset: one counterfactual per selected image and edit that applies to it, written under
/// the output folder with a manifest in the input's format and a provenance table.
///
/// ```swift
/// var request = CounterfactualDatasetRequest(data: csv, imageRoot: root, edits: ["remove support devices"], output: out)
/// request.filter = "Support Devices=1"
/// let plan = try CounterfactualPlan(request)                       // checks inputs, no model needed
/// let model = try StableDiffusionEditingModel.load(from: modelFolder)
/// let result = try CounterfactualDatasetBuilder(plan: plan, model: model).run()
/// // result.manifest: out/manifest.csv, readable by every command that reads the input
/// ```
///
/// The work is resumable and shardable: each counterfactual is written whole (write, then rename), then its record
/// in `items/`; a rerun skips recorded items, so a killed run loses at most the image in flight. All the edits of an
/// image are made together from one inversion (and always together, so that a resumed or sharded run gives the very
/// bytes of a straight one). `manifest.csv` and `provenance.csv` are rebuilt from the records at the end.
public final class CounterfactualDatasetBuilder {
    public let plan: CounterfactualPlan
    public let editor: CounterfactualEditor
    public let gate: CounterfactualGate?
    public let folder: CounterfactualFolder

    /// `cache` keeps inversions across runs (a resumed image skips its inversion); `gate` drops ineffective edits.
    /// Refused when the gate classifier lacks an edited label.
    public init(plan: CounterfactualPlan, model: EditingModel, cache: InversionCache? = nil, gate: CounterfactualGate? = nil) throws {
        self.plan = plan
        self.editor = CounterfactualEditor(model: model, cache: cache)
        self.gate = gate
        self.folder = CounterfactualFolder(plan.request.output)
        for edit in plan.edits { _ = try gate?.labelIndex(edit.finding) }
    }

    /// Makes every unfinished item of the shard, then rebuilds the tables. `progress` is called once an item is
    /// finished (or found finished), `imageProgress` with the editor's phases of the image in flight.
    public func run(progress: (CounterfactualProgress) -> Void = { _ in },
                    imageProgress: CounterfactualEditor.Progress = { _, _, _ in }) throws -> CounterfactualDatasetResult {
        try createFolder(folder.url)
        removeAbandonedTemporaryFiles(under: folder.url)  // what a killed earlier run left half-written
        try folder.claim(plan.runDescription(modelIdentity: editor.model.identity, gate: gate?.identity))
        let total = plan.shardItems
        var made = 0, resumed = 0, dropped = 0
        func report() { progress(CounterfactualProgress(done: made + resumed, total: total, made: made, resumed: resumed)) }
        report()
        for image in plan.shardImages {
            let pending = image.targets.filter { !folder.isFinished(imageIndex: image.index, editIndex: $0.editIndex) }
            resumed += image.targets.count - pending.count
            if pending.isEmpty { report(); continue }
            for item in try make(image, pending: pending, progress: imageProgress) {
                if !item.kept { dropped += 1 }
                made += 1
                report()
            }
        }
        let items = try folder.writeTables(header: plan.manifest.table.header)
        return CounterfactualDatasetResult(
            items: items, made: made, resumed: resumed, shardItems: total,
            notApplicable: zip(plan.edits, plan.notApplicable(in: plan.request.shard)).map { ($0.text, $1) }, droppedByGate: dropped,
            manifest: folder.manifest, provenance: folder.provenance)
    }

    /// Edits one image to all its targets (always all, from one inversion), and writes the pending ones: image, then
    /// record.
    func make(_ image: CounterfactualPlan.SourceImage, pending: [CounterfactualPlan.Target],
              progress: CounterfactualEditor.Progress) throws -> [CounterfactualItem] {
        let url = plan.url(of: image)
        let input: Image
        do { input = try Image(contentsOf: url) } catch {
            throw DataFileError(file: url.path, "cannot read the image (line \(image.record.line) of "
                                + "\(plan.request.data.path)): \(describingFileErrors(error))")
        }
        let factual = Plane(gray: input)
        let outcome = try editor.edit(image: factual, source: image.caption, targets: image.targets.map(\.caption),
                                      settings: plan.request.settings, progress: progress)
        let pendingEdits = Set(pending.map(\.editIndex))
        var written: [(CounterfactualPlan.Target, EditedImage, URL, Image)] = []
        for (target, edited) in zip(image.targets, outcome.edits) where pendingEdits.contains(target.editIndex) {
            let file = folder.url.appendingPathComponent(target.path)
            try createFolder(file.deletingLastPathComponent())
            let counterfactual = Image(floats: edited.image.values, width: edited.image.width, height: edited.image.height,
                                       bitDepth: input.bitDepth)
            try AtomicFile.write(counterfactual.pngData(), to: file, durability: .unsynced)
            written.append((target, edited, file, counterfactual))
        }
        var items: [CounterfactualItem] = []
        for (target, edited, file, counterfactual) in written {
            var score: Double?, kept = true
            if let gate {
                score = try gate.scores([file], finding: target.edit.finding)[0]
                kept = try gate.keeps(score: score!, edit: target.edit)
                if !kept { try FileManager.default.removeItem(at: file) }
            }
            let item = CounterfactualItem(
                imageIndex: image.index, editIndex: target.editIndex, source: image.record.path, sourceLine: image.record.line,
                edit: target.edit.text, label: target.edit.finding, value: target.edit.makesPresent ? 1 : 0,
                sourceCaption: image.caption, targetCaption: target.caption, path: target.path,
                inversion: plan.request.settings.method.rawValue,
                psnrDB: EditMetrics.psnr(Plane(gray: counterfactual), Plane(gray: input)),
                maskArea: edited.mask?.area, gateScore: score, kept: kept, row: target.row)
            try folder.write(item)
            items.append(item)
        }
        return items
    }
}
