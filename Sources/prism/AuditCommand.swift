import ArgumentParser
import Audit
import Classifiers
import Counterfactual
import Diffusion
import Foundation
import Phantom

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Find what else an edit changes: the effect matrix of edits × labels, with intervals and adjusted tests.",
        discussion: """
            Applies each --edit to every image it applies to ("remove X" where X is
            present, "add X" where it is absent) and measures every label before and
            after. Each cell of the matrix is the mean signed change of one label under
            one edit, with a 95% bootstrap interval and a sign-flip test, p-values
            adjusted over the whole matrix (Holm). A cell is flagged when the edit's
            caption kept the label and it moved anyway (adjusted p < --level and
            |change| >= --min-effect): a hidden relationship of the model's data.

            On the phantom (--phantom) the causal model is known: --editor oracle-total
            uses the phantom's true counterfactual with every descendant changed,
            oracle-direct with only the edited attribute changed, and --measure truth
            reads the phantom's own labels instead of a classifier. The causal model's
            total-effect matrix is printed beside every phantom audit. The total-effect
            oracle should flag exactly the edges out of the edited node; the
            direct-effect oracle nothing; the model shows what it learned.

            Writes DIR/report.html (the matrix as a heat map, the flagged cells' image
            pairs that moved most) and DIR/metrics.json (cells: edit, label,
            mean_change, ci_low, ci_high, p_adjusted, flagged).

            --data CSV --images DIR audits the first --count rows of a label file
            instead (CheXpert-style or NIH): the model edits, the classifier measures,
            and nothing is known of the truth, so the matrix says what the model's
            edits do, which is what its training data tie together (or what the
            classifier confuses: train it where the labels are independent if you can).

            Examples:
              prism audit --phantom --seed 7 --count 400 --editor oracle-total \\
                  --measure truth --output audit/oracle
              prism audit --phantom --seed 7 --count 400 --editor oracle-total \\
                  --measure truth --graph no-pacemaker-edge.json --output audit/no-edge
              prism audit --phantom --seed 7 --count 48 --classifier runs/clf/best \\
                  --edit "remove cardiomegaly" --edit "add pleural effusion" \\
                  --inversion direct --output audit/model
              prism audit --data nih/labels.csv --images nih --count 100 \\
                  --classifier runs/nih/best --model runs/nih-model \\
                  --edit "remove cardiomegaly" --edit "remove effusion" --output audit/nih
            """
    )

    @OptionGroup var source: PhantomOrLabelFileOptions

    @Option(help: "Phantom set of the cases (pick one you did not tune on).")
    var seed: UInt64 = 90_001

    @Option(help: "Number of phantom cases.")
    var count = 200

    @Option(help: "A phantom graph file (JSON of SCM parameters, as prism phantom generate --graph).")
    var graph: String?

    @Option(help: "Side in pixels of the rendered phantom cases (default: the model's with --editor model, else the classifier's resolution, else 128); an oracle audit with the model's side reads the very images a model audit reads.")
    var size: Int?

    @Option(name: .customLong("edit"), help: "An edit: \"remove FINDING\", \"add FINDING\" or \"set age=80\"; repeat for more (default: remove and add each of cardiomegaly, pleural effusion, support devices).")
    var edits: [String] = []

    @Option(help: "Who makes the counterfactuals: model, oracle-direct or oracle-total (phantom only).")
    var editor = "model"

    @Option(help: "What reads the labels: classifier (needs --classifier) or truth (phantom oracles only).")
    var measure: String?

    @Option(help: "A Prism classifier folder (prism classifier train's best/).")
    var classifier: String?

    @OptionGroup var model: ModelOption

    @OptionGroup var captions: CaptionOptions

    @OptionGroup var editing: EditingOptions

    @Option(help: "Family-wise error level of the flags (Holm over the matrix).")
    var level = 0.05

    @Option(help: "Smallest |mean change| of a probability worth a flag (Age: 2 years).")
    var minEffect = 0.05

    @Option(help: "Output folder.")
    var output: String

    @Flag(help: "Print metrics.json instead of the matrix.")
    var json = false

    static let defaultEdits = ["remove cardiomegaly", "remove pleural effusion", "remove support devices",
                               "add cardiomegaly", "add pleural effusion", "add support devices"]

    func validate() throws {
        if source.labelFile != nil {
            if classifier == nil { throw ValidationError("--data needs --classifier DIR: only a classifier reads a label file's edits") }
            if editor != "model" { throw ValidationError("--editor \(editor) needs --phantom: a label file has no true counterfactuals") }
        }
        try requireCount(count, "--count", atLeast: 2)
        if let size { try requireCount(size, "--size", atLeast: 16) }
        guard AuditEditor(rawValue: editor) != nil else {
            throw ValidationError("--editor \(editor): use model, oracle-direct or oracle-total")
        }
        guard ["classifier", "truth"].contains(measureName) else {
            throw ValidationError("--measure \(measureName): use classifier or truth")
        }
        if measureName == "classifier" && classifier == nil {
            throw ValidationError("--measure classifier needs --classifier DIR (or use --measure truth with an oracle editor)")
        }
        if measureName == "truth" && editor == "model" {
            throw ValidationError("--measure truth reads the phantom's labels, which a model's edit does not have: "
                                  + "give --classifier, or use --editor oracle-total / oracle-direct")
        }
        guard level > 0 && level < 1 else { throw ValidationError("--level \(level): a probability in (0, 1)") }
        guard minEffect >= 0 else { throw ValidationError("--min-effect \(minEffect) must be >= 0") }
        try editing.masking.requireMode()
    }

    var measureName: String { measure ?? (classifier == nil ? "truth" : "classifier") }

    func run() throws {
        if let file = source.labelFile { return try runOnLabelFile(data: file.data, images: file.images) }
        let log = Log(tool: "prism audit")
        let folder = try prepareOutputFolder(output)
        let parameters = try graph.map { try SCMParameters.load(URL(fileURLWithPath: $0)) } ?? SCMParameters()
        let template = try captions.load(for: model)
        let auditEdits = try (edits.isEmpty ? Self.defaultEdits : edits).map { try AuditEdit(parsing: $0, template: template) }
        let chosenEditor = AuditEditor(rawValue: editor)!
        let loadedClassifier = try classifier.map { try Classifier.load(from: URL(fileURLWithPath: $0)) }
        var modelEditor: CaptionModelEditor?
        var size = self.size ?? loadedClassifier?.config.resolution ?? 128
        if chosenEditor == .model {
            let modelURL = try model.url()
            let editingModel = try StableDiffusionEditingModel.load(from: modelURL)
            let settings = try editing.settings(for: modelURL, log: log)
            if let asked = self.size, asked != editingModel.resolution {
                throw ValidationError("--size \(asked): the model edits \(editingModel.resolution)-pixel images; leave --size out with --editor model")
            }
            size = editingModel.resolution
            modelEditor = CaptionModelEditor(editor: CounterfactualEditor(model: editingModel, cache: nil), template: template,
                                             settings: settings)
        }
        let measured: AuditMeasure = loadedClassifier.map { .classifier($0) } ?? .truth
        var audit = PhantomAudit(cases: PhantomAudit.cases(seed: seed, count: count, parameters: parameters, size: size),
                                 edits: auditEdits, editor: chosenEditor, measure: measured, modelEditor: modelEditor)
        audit.statistics.level = level
        audit.statistics.minimumEffect = minEffect
        log("\(count) phantom cases of set \(seed) at \(size) px; editor \(editor), measure \(measureName); "
            + "\(auditEdits.count) edits")
        let bar = ProgressBar(total: count, label: "audit", unit: "case")
        let result = try audit.run { done, _ in bar.update(done) }
        bar.finish()
        let scm = try PhantomAudit.scmTotalEffects(auditEdits, parameters: parameters)
        var metrics = AuditMetrics(editor: editor, measure: measureName, images: count, statistics: audit.statistics,
                                   cells: result.matrix.cells, scmTotalEffect: AuditMetrics.table(scm, edits: auditEdits))
        if chosenEditor == .model {
            // The same cases and edits by the phantom's true counterfactuals, read by the same classifier: what the
            // caption asks (direct) and what the causal model does (total), and what the classifier itself confuses.
            metrics.oracleDirectCells = try audit.withEditor(.oracleDirect).run().matrix.cells
            metrics.oracleTotalCells = try audit.withEditor(.oracleTotal).run().matrix.cells
        }
        try AuditReport.write(result, metrics: metrics, scm: scm, scmLabels: PhantomTruth.labels, to: folder)
        if json {
            print(String(decoding: try Data(contentsOf: folder.appendingPathComponent("metrics.json")), as: UTF8.self))
            return
        }
        print(AuditReport.text(result.matrix))
        if let comparison = AuditReport.comparisonText(metrics) { print("\n" + comparison) }
        print("\nthe causal model's total effects on the labels each caption keeps (expected change of the true labels):")
        for (e, edit) in auditEdits.enumerated() {
            let moved = PhantomTruth.labels.enumerated().filter {
                abs(scm[e][$0.offset]) >= 0.005 && EffectMatrix.role(of: $0.element, edited: [edit.target]) == .kept
            }
            let text = moved.map { String(format: "%@ %+.3f", $0.element, scm[e][$0.offset]) }.joined(separator: ", ")
            print("  \(edit.text): " + (text.isEmpty ? "nothing else" : text))
        }
        let flagged = result.matrix.flagged
        print("\n\(flagged.count) flagged: " + (flagged.isEmpty ? "none" : flagged.map { "\($0.edit) → \($0.label)" }.joined(separator: "; ")))
        print("report: \(folder.appendingPathComponent("report.html").path)")
    }

    /// The audit of a label file's first rows: the model edits, the classifier measures.
    func runOnLabelFile(data: String, images: String) throws {
        let log = Log(tool: "prism audit")
        let measuring = try classifierTry { try Classifier.load(from: URL(fileURLWithPath: classifier!)) }
        let subjects = try classifierTry { try labelledSubjects(data: data, images: images, count: count) }
        let template = try captions.load(for: model)
        let auditEdits = try (edits.isEmpty ? Self.defaultEdits : edits).map { try AuditEdit(parsing: $0, template: template) }
        let folder = try prepareOutputFolder(output)
        let modelURL = try model.url()
        let editingModel = try StableDiffusionEditingModel.load(from: modelURL)
        let settings = try editing.settings(for: modelURL, log: log)
        var audit = SubjectAudit(subjects: subjects, edits: auditEdits, editor: CounterfactualEditor(model: editingModel, cache: nil),
                                 classifier: measuring)
        audit.settings = settings
        audit.template = template
        audit.statistics.level = level
        audit.statistics.minimumEffect = minEffect
        log("\(subjects.count) images of \(data); \(auditEdits.count) edits by the model, measured by \(classifier!)")
        let bar = ProgressBar(total: subjects.count, label: "audit", unit: "image")
        let result = try classifierTry { try audit.run { done, _ in bar.update(done) } }
        bar.finish()
        let metrics = AuditMetrics(editor: "model", measure: "classifier", images: subjects.count, statistics: audit.statistics,
                                   cells: result.matrix.cells, scmTotalEffect: nil)
        try AuditReport.write(result, metrics: metrics, scm: nil, scmLabels: [], to: folder)
        if json {
            print(String(decoding: try Data(contentsOf: folder.appendingPathComponent("metrics.json")), as: UTF8.self))
            return
        }
        print(AuditReport.text(result.matrix))
        let flagged = result.matrix.flagged
        print("\n\(flagged.count) flagged: " + (flagged.isEmpty ? "none" : flagged.map { "\($0.edit) → \($0.label)" }.joined(separator: "; ")))
        print("report: \(folder.appendingPathComponent("report.html").path)")
    }
}
