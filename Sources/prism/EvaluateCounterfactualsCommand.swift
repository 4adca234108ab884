import ArgumentParser
import Audit
import ClassifierMetrics
import Classifiers
import Core
import Counterfactual
import Datasets
import Diffusion
import Evaluation
import Foundation
import Imaging
import Phantom

struct EvaluateCounterfactualsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "counterfactuals",
        abstract: "Score a model's counterfactuals: effectiveness, identity, composition, reversibility, realism.",
        discussion: """
            Edits each image by each --edit that applies to it and scores, per edit,
            with a 95% bootstrap interval over images:
              effectiveness  the fraction of counterfactuals the classifier puts on
                             the edited side of its threshold, the AUROC of image
                             against counterfactual, PRISM's prediction gain (mean
                             change of the edited label's probability toward the edit);
                             "set age=N" by the classifier's age output (MAE to N)
              identity       L1 (grey levels) and PSNR between image and
                             counterfactual, overall and outside the edit's mask, and
                             the mean |Δp| of every label the caption kept
              composition    the null edit (the image's own caption) applied 1, 2, …
                             --composition times: distance to the image after each
              reversibility  the edit then its inverse, --cycles times: distance to
                             the image after each cycle
              realism        the Fréchet distance between images and counterfactuals
                             in the classifier's penultimate-layer features (a domain
                             feature space, not Inception's), beside the distance
                             between two halves of the images for scale
            On the phantom (--phantom) also against the truth: L1 / PSNR to the true
            (direct-effect) counterfactual, the gap closed and the change outside the
            true change, and the classifier's verdict on the true counterfactuals.
            Composition and reversibility cost an edit per step: composition runs on the
            first --curve-count images, each edit's reversibility on the first
            --curve-count images it applies to. With the counterfactual mask (--mask
            auto, the default) a null edit changes no word, so its mask is empty and
            the image comes back bit for bit: composition is 0 by construction, and
            --mask none measures what the model and the inversion alone would drift.

            Writes DIR/metrics.json and DIR/report.html. See docs/metrics.md.

            Examples:
              prism evaluate counterfactuals --phantom --seed 90004 --count 16 \\
                  --classifier runs/clf/best --edit "remove cardiomegaly" \\
                  --edit "add pleural effusion" --output eval-cf/
              prism evaluate counterfactuals --data ph/manifest.csv --images ph \\
                  --count 32 --classifier runs/clf/best --edit "set age=80" \\
                  --inversion direct --output eval-age/
            """
    )

    @OptionGroup var source: PhantomOrLabelFileOptions

    @Option(help: "Phantom set of the cases (pick one you did not tune on).")
    var seed: UInt64 = 90_004

    @Option(help: ArgumentHelp("A phantom graph file (SCM parameters as JSON).", valueName: "file"))
    var graph: String?

    @Option(help: "Number of images.")
    var count = 16

    @Option(name: .customLong("edit"), help: "An edit: \"remove FINDING\", \"add FINDING\" or \"set age=80\" (repeatable).")
    var edits: [String] = []

    @Option(help: ArgumentHelp("A Prism classifier folder that reads the edited labels (prism classifier train's best/).", valueName: "dir"))
    var classifier: String

    @OptionGroup var model: ModelOption

    @OptionGroup var captions: CaptionOptions

    @OptionGroup var masking: MaskOptions

    @Option(help: "Inversion: null-text, direct or ddim.")
    var inversion: InversionMethod = .nullText

    @Option(help: "Denoising steps of every edit.")
    var steps = 50

    @Option(help: "Classifier-free guidance (default: the model's prism.json, else 7.5).")
    var guidance: Double?

    @Option(help: "Weight on the attention of the words an edit adds (default: the model's prism.json, else 1; docs/editing.md).")
    var emphasis: Double?

    @Option(help: "Null edits in a row for the composition curve.")
    var composition = 10

    @Option(help: "Edit-and-inverse cycles for the reversibility curve.")
    var cycles = 5

    @Option(help: "Images that get the composition curve (the first ones) and each edit's reversibility curve (the first it applies to).")
    var curveCount = 4

    @Option(help: "Bootstrap resamples of the intervals.")
    var bootstrap = 1000

    @Option(help: "Output folder.")
    var output: String

    @Flag(help: "Print metrics.json.")
    var json = false

    func validate() throws {
        if edits.isEmpty { throw ValidationError("give at least one --edit, e.g. --edit \"remove cardiomegaly\"") }
        for e in edits { do { _ = try AuditEdit(parsing: e) } catch { throw ValidationError("\(error)") } }
        try requireCount(count, "--count", atLeast: 2)
        try requireCount(steps, "--steps", atLeast: 1)
        try requireCount(composition, "--composition", atLeast: 1)
        try requireCount(cycles, "--cycles", atLeast: 1)
        try requireCount(curveCount, "--curve-count", atLeast: 0)
        try requireCount(bootstrap, "--bootstrap", atLeast: 10)
        try requireFinite(guidance, "--guidance", range: .atLeast(0))
        try requireFinite(emphasis, "--emphasis", range: .above(0))
        try masking.requireMode()
    }

    func run() throws {
        let log = Log(tool: "prism evaluate counterfactuals")
        try requireFolder(classifier, "--classifier")
        let measuring = try classifierTry { try Classifier.load(from: URL(fileURLWithPath: classifier)) }
        let modelURL = try model.url()
        let template = try captions.load(model: modelURL)
        var options = CounterfactualEvaluationOptions(edits: try edits.map { try AuditEdit(parsing: $0, template: template) })
        options.template = template
        options.settings.method = inversion
        options.settings.steps = steps
        masking.apply(to: &options.settings)
        options.settings = options.settings.adopting(try ModelDefaults.load(from: modelURL), guidance: guidance, emphasis: emphasis)
        options.compositionSteps = composition
        options.reversibilityCycles = cycles
        options.curveImages = curveCount
        options.bootstrap = Bootstrap(resamples: bootstrap)
        let folder = try prepareOutputFolder(output)
        let editingModel = try StableDiffusionEditingModel.load(from: modelURL)
        let subjects = try classifierTry { try loadSubjects(size: editingModel.resolution) }
        log("\(subjects.count) images, \(options.edits.count) edit(s), \(options.settings.method.rawValue) inversion, "
            + "\(steps) steps, guidance \(options.settings.guidance), emphasis \(number(options.settings.emphasis)); curves on \(min(curveCount, subjects.count)) image(s)")
        let evaluation = CounterfactualEvaluation(editor: CounterfactualEditor(model: editingModel, cache: nil),
                                                  classifier: measuring, options: options)
        let bar = ProgressBar(total: subjects.count, label: "evaluate", unit: "image")
        let result = try classifierTry { try evaluation.run(subjects) { done, _ in bar.update(done) } }
        bar.finish()
        try writeAtomically(try MetricsJSON.encode(result), to: folder.appendingPathComponent("metrics.json"))
        try writeAtomically(Data(CounterfactualEvaluationReport.html(result).utf8), to: folder.appendingPathComponent("report.html"))
        if json {
            print(String(decoding: try Data(contentsOf: folder.appendingPathComponent("metrics.json")), as: UTF8.self))
        } else {
            print(CounterfactualEvaluationReport.text(result))
        }
        print("report: \(folder.appendingPathComponent("report.html").path)")
    }

    /// The phantom's cases at the model's side, or the label file's first rows.
    func loadSubjects(size: Int) throws -> [EvaluationSubject] {
        guard let file = source.labelFile else {
            let parameters = try graph.map { try SCMParameters.load(URL(fileURLWithPath: $0)) } ?? SCMParameters()
            return try PhantomAudit.cases(seed: seed, count: count, parameters: parameters, size: size).map(EvaluationSubject.phantom)
        }
        return try labelledSubjects(data: file.data, images: file.images, count: count)
    }
}

/// The first `count` rows of a label file as evaluation subjects, each image read (a missing or broken one named with
/// its line).
func labelledSubjects(data: String, images: String, count: Int) throws -> [EvaluationSubject] {
    try requireRegularFile(data, "--data")
    try requireFolder(images, "--images")
    let root = URL(fileURLWithPath: images)
    let records = try Manifest.load(URL(fileURLWithPath: data)).prefix(count)
    return try records.map { record in
        let url = record.path.hasPrefix("/") ? URL(fileURLWithPath: record.path) : root.appendingPathComponent(record.path)
        let image: Image
        do { image = try Image(contentsOf: url) } catch {
            throw DataFileError(file: data, line: record.line, "cannot read \(url.path): \(describingFileErrors(error))")
        }
        return EvaluationSubject.labelled(record, image: image)
    }
}

/// The evaluation as text and as a page.
enum CounterfactualEvaluationReport {
    static func f(_ e: Estimate?, _ digits: Int = 3) -> String {
        guard let e, e.value.isFinite else { return "–" }
        let i = e.interval.map { String(format: " [%.\(digits)f, %.\(digits)f]", $0.lower, $0.upper) } ?? ""
        return String(format: "%.\(digits)f", e.value) + i
    }

    static func rows(_ r: CounterfactualEvaluationResult) -> [(String, [String])] {
        var out: [(String, [String])] = []
        for e in r.edits {
            var cells = ["images \(e.images)",
                         "effectiveness \(f(e.effectiveness))", "AUROC image vs counterfactual \(e.auroc.map { String(format: "%.3f", $0.value) } ?? "–")",
                         "prediction gain \(f(e.predictionGain))",
                         "L1 \(f(e.l1, 2)) grey levels, outside the mask \(f(e.l1OutsideMask, 2))", "PSNR \(f(e.psnr, 1)) dB",
                         "kept labels |Δp|: " + e.keptLabels.map { "\($0.label) \(f($0.meanAbsoluteChange))" }.joined(separator: ", "),
                         String(format: "Fréchet distance %.2f (two halves of the images: %.2f)", e.frechetDistance ?? .nan,
                                e.frechetDistanceBetweenImageHalves ?? .nan),
                         "reversibility L1 by cycle (\(e.reversibilityImages) image(s)): "
                             + e.reversibility.map { String(format: "%.2f", $0.l1.value) }.joined(separator: ", ")]
            if let a = e.age {
                cells.append(String(format: "age: MAE to %.0f %@ years (unedited %@), predicted shift %@", a.targetAge, f(a.mae, 1),
                                    f(a.factualMAE, 1), f(a.predictedShift, 1)))
            }
            if let t = e.truth {
                cells.append("truth: L1 \(f(t.l1ToTruth, 2)), PSNR \(f(t.psnrToTruth, 1)) dB, gap closed \(f(t.gapClosed)), "
                             + "change outside \(f(t.changeOutsideTruth, 2)), classifier on the true counterfactuals \(f(t.effectivenessOfTruth))")
            }
            out.append((e.edit, cells))
        }
        return out
    }

    static func text(_ r: CounterfactualEvaluationResult) -> String {
        var lines = ["composition (null edit k times), L1 to the image: "
                     + r.composition.map { String(format: "%d: %.2f", $0.step, $0.l1.value) }.joined(separator: ", ")]
        for (edit, cells) in rows(r) { lines.append(edit + ":"); lines += cells.map { "  " + $0 } }
        return lines.joined(separator: "\n")
    }

    static func html(_ r: CounterfactualEvaluationResult) -> String {
        let esc = HTMLReport.escape
        var h = """
            <!doctype html><html><head><meta charset="utf-8"><title>Prism: counterfactuals scored</title><style>
            body{font-family:sans-serif;margin:2em;max-width:1100px} li{margin:2px 0} small{color:#555}
            </style></head><body><h1>Counterfactuals scored</h1>
            <p>\(r.images) images (composition curve on \(r.curveImages)); \(esc(r.settings.map { "\($0.key) \($0.value)" }.sorted().joined(separator: ", "))).
            Intervals: 95% bootstrap over images (\(r.bootstrapResamples) resamples). L1 in grey levels (0–255).</p>
            <h2>Composition</h2><p>The null edit applied k times; L1 to the image after each:
            """
        h += esc(r.composition.map { String(format: "%d: %.2f", $0.step, $0.l1.value) }.joined(separator: ", ")) + "</p>"
        for (edit, cells) in rows(r) {
            h += "<h2>\(esc(edit))</h2><ul>" + cells.map { "<li>\(esc($0))</li>" }.joined() + "</ul>"
        }
        return h + "<p><small>Definitions and sources: docs/metrics.md.</small></p></body></html>\n"
    }
}
