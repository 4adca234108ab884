import ArgumentParser
import Classifiers
import Core
import Counterfactual
import Datasets
import Debiasing
import Diffusion
import Foundation

struct CounterfactualsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "counterfactuals",
        abstract: "Make a counterfactual dataset: every selected image edited by caption, with a manifest in the input's format.",
        discussion: """
            prism counterfactuals (make) edits every image of a label file that an
            --edit applies to and writes the counterfactuals under --output, with
            manifest.csv in the input's own format (the same columns; the path and
            the edited label changed), so `prism classifier train` and `prism train`
            read it with --data DIR/manifest.csv --images DIR; and provenance.csv
            (per counterfactual: source, edit, inversion, PSNR, mask area, gate score).

            It resumes: rerun the same command after a kill and finished items are
            skipped. --shard K/N splits the images (K counts from 0, as
            $SLURM_ARRAY_TASK_ID); `prism counterfactuals merge` joins the shards.
            docs/scaling.md has a job-array script.
            """,
        subcommands: [CounterfactualsMakeCommand.self, CounterfactualsMergeCommand.self],
        defaultSubcommand: CounterfactualsMakeCommand.self
    )
}

struct CounterfactualsMakeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "make",
        abstract: "Edit every selected image (the default subcommand: `prism counterfactuals --data ...`).",
        discussion: """
            One counterfactual per selected image and edit; an edit that does not
            apply to an image ("remove X" where X is absent, "add X" where X is
            present) is skipped and counted in the summary. All the edits of an image
            share one inversion. Each counterfactual is written whole, then its record
            in DIR/items/; a rerun skips recorded items (a kill loses at most the
            image in flight), and manifest.csv and provenance.csv are rebuilt from the
            records at the end.

            --shard K/N takes the images whose index (among the selected rows) is K
            modulo N; K counts from 0, so `--shard $SLURM_ARRAY_TASK_ID/N` in a job
            array of 0-(N-1). Merge the shards' folders with `prism counterfactuals
            merge` into one equal to an unsharded run.

            --gate CLASSIFIER keeps only the counterfactuals the classifier (a Prism
            classifier folder) judges effective: the edited label's probability on
            the edited side of the threshold in its config.json. Every item's score
            is in provenance.csv; the dropped ones have no image and no manifest row.

            Examples:
              prism counterfactuals --data ph/manifest.csv --images ph \\
                  --edit "remove support devices" --where "Support Devices=1" \\
                  --output cf/
              prism counterfactuals --data ph/manifest.csv --images ph \\
                  --edit "remove support devices" --edit "add support devices" \\
                  --inversion direct --shard 3/8 --output cf-3/
            """
    )

    @Option(help: ArgumentHelp("The label file: CheXpert-style (a Path column and finding columns, as the phantom's) or NIH's.", valueName: "csv"))
    var data: String

    @Option(help: "auto | chexpert | nih (auto decides from the header).")
    var format: ManifestFormat = .auto

    @Option(help: ArgumentHelp("The folder the label file's image paths are relative to.", valueName: "dir"))
    var images: String

    @Option(name: .customLong("edit"), help: "\"remove FINDING\" or \"add FINDING\", a label of the manifest (repeatable).")
    var edits: [String] = []

    @Option(name: .customLong("where"), help: "Keep rows whose labels have these values: \"Support Devices=1,Sex=Female\".")
    var filter: String?

    @OptionGroup var model: ModelOption
    @OptionGroup var captions: CaptionOptions
    @OptionGroup var editing: EditingOptions
    @OptionGroup var precision: DTypeOption

    @Option(help: "Folder of cached inversions (default ~/.cache/prism/inversions); \"none\" disables the cache.")
    var cache: String?

    @Option(help: ArgumentHelp("Keep only edits this classifier folder judges effective.", valueName: "classifier"))
    var gate: String?

    @Option(help: ArgumentHelp("Do part K of N (K from 0, as $SLURM_ARRAY_TASK_ID).", valueName: "K/N"))
    var shard: String?

    @Option(help: ArgumentHelp("Folder for the dataset (a rerun with the same settings resumes it).", valueName: "dir"))
    var output: String

    func validate() throws {
        if edits.isEmpty { throw ValidationError("give at least one --edit, e.g. --edit \"remove support devices\"") }
        if let shard { do { _ = try Shard(parsing: shard) } catch { throw ValidationError("\(error)") } }
        try editing.masking.requireMode()
        if format == .mimic { throw ValidationError("--format mimic: MIMIC-CXR-JPG keeps its labels in a second file; write a CheXpert-style CSV first") }
    }

    var log: Log { Log(tool: "prism counterfactuals") }

    func run() throws {
        try requireRegularFile(data, "--data")
        try requireFolder(images, "--images")
        var request = CounterfactualDatasetRequest(data: URL(fileURLWithPath: data), imageRoot: URL(fileURLWithPath: images),
                                                   edits: edits, output: URL(fileURLWithPath: output))
        request.format = format
        request.filter = filter
        let modelURL = try model.url()
        request.template = try captions.load(for: model)
        request.settings = try editing.settings(for: modelURL, log: log)
        request.extraSettings = ["dtype": precision.dtype.lowercased()]
        request.shard = try shard.map(Shard.init(parsing:)) ?? .whole
        // Every input is read and checked before any model loads.
        let plan = try classifierTry { try CounterfactualPlan(request) }
        let gateClassifier = try gate.map { folder -> CounterfactualGate in
            try requireFolder(folder, "--gate")
            let classifier = try classifierTry { try Classifier.load(from: URL(fileURLWithPath: folder)) }
            return CounterfactualGate(classifier: classifier, identity: InversionCache.modelIdentity(URL(fileURLWithPath: folder)))
        }
        _ = try prepareOutputFolder(output)
        let cacheFolder = try openInversionCache(cache, log: log)
        let editingModel = try StableDiffusionEditingModel.load(from: modelURL, dtype: try precision.value())
        let builder = try classifierTry { try CounterfactualDatasetBuilder(plan: plan, model: editingModel, cache: cacheFolder, gate: gateClassifier) }
        log("\(plan.images.count) selected image(s), \(plan.shardItems) counterfactual(s) to make in shard \(request.shard)"
            + " (\(plan.plannedItems) in all)")
        let bar = ProgressBar(total: plan.shardItems, label: "counterfactuals", unit: "item")
        var done = 0, resumed = ""
        // The bar moves by items; between them its tail shows the image in flight's phase (an item takes minutes).
        let result = try classifierTry {
            try builder.run(progress: { p in
                done = p.done
                resumed = p.resumed > 0 ? "\(p.resumed) resumed" : ""
                bar.update(p.done, info: resumed)
            }, imageProgress: { phase, step, steps in
                bar.update(done, info: ([resumed, "\(phase) \(step)/\(steps)"].filter { !$0.isEmpty }).joined(separator: ", "))
            })
        }
        bar.finish()
        print(Self.summary(result, shard: request.shard, gated: gateClassifier != nil))
    }

    /// The one line a run ends with.
    static func summary(_ r: CounterfactualDatasetResult, shard: Shard, gated: Bool) -> String {
        var parts = ["\(r.made) counterfactual(s) made, \(r.resumed) already made (resumed)"
                     + (shard == .whole ? "" : " in shard \(shard)")]
        let skipped = r.notApplicable.filter { $0.images > 0 }
        if !skipped.isEmpty {
            parts.append("skipped where the edit does not apply: "
                         + skipped.map { "\"\($0.edit)\" \($0.images) image(s)" }.joined(separator: ", "))
        }
        if gated { parts.append("the gate dropped \(r.droppedByGate) of \(r.made) made now (\(r.items.filter { !$0.kept }.count) in the folder)") }
        parts.append("\(r.manifest.path): \(r.kept) row(s); \(r.provenance.path): \(r.items.count) row(s)")
        return parts.joined(separator: "; ")
    }
}

struct CounterfactualsMergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the folders of a counterfactual dataset's shards into one, equal to an unsharded run.",
        discussion: """
            Example (after a job array of `--shard K/4 --output cf-K`):
              prism counterfactuals merge cf-0 cf-1 cf-2 cf-3 --output cf
            """
    )

    @Argument(help: ArgumentHelp("The shards' folders.", valueName: "dir"))
    var shards: [String]

    @Option(help: ArgumentHelp("The merged folder (new, or one of the shards).", valueName: "dir"))
    var output: String

    func validate() throws {
        if shards.isEmpty { throw ValidationError("give the shards' folders") }
    }

    func run() throws {
        for s in shards { try requireFolder(s, "merge") }
        let folder = try prepareOutputFolder(output)
        let result = try classifierTry { try CounterfactualMerge.merge(shards.map { URL(fileURLWithPath: $0) }, into: folder) }
        if result.missing > 0 {
            Log(tool: "prism counterfactuals merge")("warning: \(result.missing) planned counterfactual(s) are in no shard "
                                                     + "(a shard missing, or not run to its end: rerun it, then merge again)")
        }
        print("\(shards.count) shard(s) merged: \(result.manifest.path): \(result.items.filter(\.kept).count) row(s); "
              + "\(result.provenance.path): \(result.items.count) row(s)")
    }
}
