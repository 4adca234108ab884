import ClassifierMetrics
import ClassifierTraining
import Classifiers
import Core
import Counterfactual
import Datasets
import Foundation
import Training

/// A de-biasing experiment from data to report: the data (a phantom pair of sets, or a user's label file split by
/// patient), the augmentations (Prism's counterfactuals, images generated from the same captions, the phantom's true
/// counterfactuals), one classifier per method and seed on the same schedule, each scored on the test set, and the
/// comparison (metrics.json, report.html).
///
/// ```swift
/// var options = DebiasOptions(output: out, source: .phantom(PhantomDebiasData()))
/// let metrics = try DebiasExperiment(options).run(model: { try StableDiffusionEditingModel.load(from: modelFolder) })
/// metrics.methods["counterfactual"]?.biasReduction?.aurocGap.value   // 1 − gap / baseline's gap
/// ```
///
/// Every phase resumes: a rerun of the same experiment reuses the data, the finished counterfactuals and generated
/// images, the finished classifiers and their predictions, and continues an interrupted training from its newest
/// checkpoint.
public final class DebiasExperiment {
    public let options: DebiasOptions

    /// What a run reports as it goes: a message, or the phase in progress with its done / total units.
    public struct Events {
        public var message: (String) -> Void
        public var progress: (_ phase: String, _ done: Int, _ total: Int) -> Void
        public init(message: @escaping (String) -> Void = { _ in },
                    progress: @escaping (_ phase: String, _ done: Int, _ total: Int) -> Void = { _, _, _ in }) {
            self.message = message
            self.progress = progress
        }
    }

    public init(_ options: DebiasOptions) {
        var options = options
        options.label = Findings.canonical(options.label)
        options.attribute = Findings.canonical(options.attribute)
        self.options = options
    }

    public var output: URL { options.output }
    public func runFolder(_ method: DebiasMethod, seed: Int) -> URL {
        output.appendingPathComponent("classifiers/\(method.rawValue)/seed-\(seed)")
    }

    /// Runs (or resumes) the experiment. `model` is called once, and only when a method needs the diffusion model.
    public func run(model: () throws -> StableDiffusionEditingModel, events: Events = Events()) throws -> DebiasMetrics {
        try createFolder(output)
        var seconds: [String: Double] = [:]
        func timed<T>(_ phase: String, _ body: () throws -> T) rethrows -> T {
            let start = Date()
            defer { seconds[phase, default: 0] += Date().timeIntervalSince(start) }
            return try body()
        }
        let data = try timed("data") { try DebiasData.prepare(options, message: events.message, progress: events.progress) }
        let augmentation = DebiasAugmentation(data: data, options: options)
        let methods = options.runnableMethods
        var loaded: StableDiffusionEditingModel?
        func editingModel() throws -> StableDiffusionEditingModel {
            if let loaded { return loaded }
            let m = try model()
            loaded = m
            return m
        }

        var extra: [DebiasMethod: [Record]] = [:]
        if methods.contains(.counterfactual) {
            extra[.counterfactual] = try timed("counterfactuals") { try counterfactuals(augmentation, model: editingModel, events: events) }
        }
        if methods.contains(.generated) {
            extra[.generated] = try timed("generated") {
                let manifest = try augmentation.generate(pipeline: try editingModel().pipeline) { done, total in
                    events.progress("generated", done, total)
                }
                return try DebiasAugmentation.records(manifest: manifest, format: data.manifest.format)
            }
        }
        if methods.contains(.oracle) { extra[.oracle] = try augmentation.oracleRecords() }

        let train = data.train, validation = data.validation
        var statistics: [DebiasMethod: [ShortcutStatistics]] = [:]
        var runs: [DebiasRunMetrics] = []
        var metrics: DebiasMetrics?
        let evaluator = DebiasEvaluator(data: data, options: options)
        // Seed by seed, every method in each: the report after each round compares all the methods on the seeds so far.
        for seed in 1...options.seeds {
            for method in methods {
                let folder = runFolder(method, seed: seed)
                try timed("training") {
                    try trainClassifier(method, seed: seed, train: train + (extra[method] ?? []), validation: validation,
                                        folder: folder, events: events)
                }
                let (s, run) = try timed("evaluation") { try evaluator.evaluate(method: method, seed: seed, run: folder) }
                events.message(Self.line(run))
                statistics[method, default: []].append(s)
                runs.append(run)
            }
            metrics = try summarize(data: data, augmentation: augmentation, methods: methods, statistics: statistics, runs: runs,
                                    extra: extra, seeds: seed, seconds: seconds, events: events)
            if seed < options.seeds {
                events.message("seed \(seed) of \(options.seeds) done: report.html and metrics.json compare the methods on it")
            }
        }
        return metrics!
    }

    /// Compares the methods on the seeds trained so far and writes metrics.json and report.html.
    func summarize(data: DebiasData, augmentation: DebiasAugmentation, methods: [DebiasMethod],
                   statistics: [DebiasMethod: [ShortcutStatistics]], runs: [DebiasRunMetrics], extra: [DebiasMethod: [Record]],
                   seeds: Int, seconds: [String: Double], events: Events) throws -> DebiasMetrics {
        let compared = DebiasComparison.compare(methods.map { ($0, statistics[$0] ?? []) }, bootstrap: options.bootstrap)
        var perMethod: [String: DebiasMethodMetrics] = [:]
        for method in methods {
            guard let c = compared[method], let auroc = c.statistics[0], let gap = c.statistics[1], let worst = c.statistics[2] else {
                events.message("warning: \(method.rawValue): the test set does not define its AUROC and gap (each needs both classes)")
                continue
            }
            perMethod[method.rawValue] = DebiasMethodMetrics(
                description: method.summary, trainingImages: data.trainRows.count + (extra[method]?.count ?? 0), auroc: auroc,
                aurocGap: gap, worstGroupAccuracy: worst, sensitivity: c.statistics[3], biasReduction: c.reduction)
        }
        let metrics = DebiasMetrics(
            label: options.label, attribute: options.attribute, source: sourceDescription, testImages: data.test.count,
            testPairs: data.testCounterfactuals.compactMap { $0 }.count, seeds: seeds,
            bootstrapResamples: options.bootstrap.resamples, methods: perMethod, runs: runs, seconds: seconds)
        try writeAtomically(try MetricsJSON.encode(metrics), to: output.appendingPathComponent("metrics.json"))
        try DebiasReport(metrics: metrics, options: options, examples: try examples(data, augmentation, methods: methods))
            .write(to: output.appendingPathComponent("report.html"))
        return metrics
    }

    var sourceDescription: String {
        switch options.source {
        case .phantom(let p):
            "phantom: train \(p.trainCount) images (seed \(p.seed), spurious \(p.spurious)), test \(p.testCount) (seed \(p.seed &+ 1), spurious 0), "
                + "effusion density \(p.parameters.fluidDensity), \(p.size) px"
        case .labelFile(let data, _, _): "\(data.path), split by patient (train / validation / test)"
        }
    }

    static func line(_ m: DebiasRunMetrics) -> String {
        var s = String(format: "%@ seed %d: AUROC %.3f, gap %.3f, worst-group accuracy %.3f", m.method, m.seed,
                       m.auroc.value, m.shortcut.gap.value, m.shortcut.worstGroupAccuracy)
        if let sens = m.sensitivity { s += String(format: ", sensitivity %.3f", sens.meanAbsoluteShift.value) }
        return s
    }

    // MARK: Phases

    /// Prism's counterfactuals of the sources (the dataset builder: resumable), as training records.
    func counterfactuals(_ augmentation: DebiasAugmentation, model: () throws -> StableDiffusionEditingModel,
                         events: Events) throws -> [Record] {
        let plan = try CounterfactualPlan(try augmentation.counterfactualRequest())
        let builder = try CounterfactualDatasetBuilder(plan: plan, model: try model())
        let result = try builder.run(progress: { p in events.progress("counterfactuals", p.done, p.total) })
        return try DebiasAugmentation.records(manifest: result.manifest, format: plan.manifest.format)
    }

    /// Trains one classifier unless it is finished; continues an interrupted one from its newest checkpoint.
    func trainClassifier(_ method: DebiasMethod, seed: Int, train: [Record], validation: [Record], folder: URL,
                         events: Events) throws {
        let done = folder.appendingPathComponent("best").appendingPathComponent(Classifier.configName)
        if FileManager.default.fileExists(atPath: done.path) { return }
        var o = ClassifierTrainingOptions(train: train, validation: validation, imageRoot: output, output: folder,
                                          labels: [options.label])
        o.architecture = options.architecture
        o.resolution = options.resolution
        o.settings.batchSize = options.batchSize
        o.settings.learningRate = options.learningRate
        o.settings.warmupSteps = options.warmupSteps
        o.settings.totalSteps = options.steps
        o.settings.seed = UInt64(seed)
        o.settings.loaderThreads = options.loaderThreads
        o.settings.keepCheckpoints = 1
        // One validation, at the end: the biased validation split would otherwise choose the checkpoint that leans
        // on the shortcut most. Its Youden threshold is the one the test accuracies use.
        o.validateEvery = options.steps
        o.checkpointEvery = max(25, options.steps / 4)
        o.resume = FileManager.default.fileExists(atPath: folder.appendingPathComponent("checkpoints").path)
        if method == .reweighted {
            o.groupAttribute = BinaryAttribute(column: options.attribute, values: train.map { $0.findings()[options.attribute] })
        }
        let run = try ClassifierTrainingRun(o)
        let phase = "train \(method.rawValue) seed \(seed)"
        try run.run(report: { r in events.progress(phase, r.step, r.totalSteps) }, message: events.message)
    }

    /// A few sources with their augmentations, for the report (paths relative to the output folder where inside it).
    func examples(_ data: DebiasData, _ augmentation: DebiasAugmentation, methods: [DebiasMethod]) throws -> [DebiasReport.Example] {
        let targets = try augmentation.targets()
        var byRow: [Int: String] = [:]
        let cfProvenance = augmentation.url(.counterfactual).appendingPathComponent("provenance.csv")
        if methods.contains(.counterfactual), let table = try? CSVTable.read(cfProvenance),
           let path = table.column("path"), let source = table.column("source") {
            let rows = Dictionary(augmentation.rows.map { (data.manifest.records[$0].path, $0) }) { a, _ in a }
            for r in table.rows { if let row = rows[r[source]] { byRow[row] = augmentation.url(.counterfactual).appendingPathComponent(r[path]).path } }
        }
        var out: [DebiasReport.Example] = []
        // Two of each edit.
        for edit in options.edits {
            for (k, t) in targets.enumerated().filter({ $0.element.edit.text == edit }).prefix(2) {
                let record = data.manifest.records[t.row]
                var pictures = [("source", data.absolute(record).path)]
                if let p = byRow[t.row] { pictures.append(("Prism", p)) }
                if methods.contains(.generated) {
                    pictures.append(("generated", augmentation.url(.generated).appendingPathComponent(String(format: "images/%05d.png", k)).path))
                }
                if methods.contains(.oracle), let o = data.oracle[record.path] { pictures.append(("true", o.path)) }
                out.append(DebiasReport.Example(edit: edit, source: record.path,
                                                pictures: pictures.map { ($0.0, relative($0.1)) }))
            }
        }
        return out
    }

    func relative(_ path: String) -> String {
        let root = output.standardizedFileURL.path + "/"
        let p = URL(fileURLWithPath: path).standardizedFileURL.path
        return p.hasPrefix(root) ? String(p.dropFirst(root.count)) : URL(fileURLWithPath: p).absoluteString
    }
}

/// Scores trained classifiers on the test set (and, on the phantom, on each test image's true counterfactual). The
/// probabilities are kept beside each classifier (`test-predictions.csv`) and reused by a rerun.
struct DebiasEvaluator {
    let data: DebiasData
    let options: DebiasOptions
    let labels: [Bool]
    let attributes: [Bool]

    init(data: DebiasData, options: DebiasOptions) {
        self.data = data
        self.options = options
        labels = data.test.map { $0.findings()[options.label]! }
        attributes = data.test.map { $0.findings()[options.attribute]! }
    }

    func evaluate(method: DebiasMethod, seed: Int, run: URL) throws -> (ShortcutStatistics, DebiasRunMetrics) {
        let classifier = try Classifier.load(from: run.appendingPathComponent("best"))
        let threshold = classifier.config.thresholds.first ?? 0.5
        let (scores, counterfactual) = try predictions(classifier, file: run.appendingPathComponent("test-predictions.csv"))
        let statistics = ShortcutStatistics(labels: labels, attributes: attributes, scores: scores, threshold: threshold,
                                            counterfactualScores: counterfactual)
        let pairs = counterfactual.indices.filter { counterfactual[$0] != nil }
        let sensitivity = pairs.isEmpty ? nil : counterfactualSensitivity(
            original: pairs.map { scores[$0] }, counterfactual: pairs.map { counterfactual[$0]! }, threshold: threshold,
            bootstrap: options.bootstrap)
        let metrics = DebiasRunMetrics(
            method: method.rawValue, seed: seed, threshold: threshold,
            auroc: estimateAUROC(labels: labels, scores: scores, bootstrap: options.bootstrap),
            shortcut: shortcutReport(labels: labels, attributes: attributes, scores: scores, threshold: threshold,
                                     bootstrap: options.bootstrap),
            sensitivity: sensitivity)
        return (statistics, metrics)
    }

    /// p(label) of every test image and of its counterfactual (nil where none), read back when already computed.
    func predictions(_ classifier: Classifier, file: URL) throws -> ([Double], [Double?]) {
        if let table = try? CSVTable.read(file), table.rows.count == data.test.count,
           let p = table.column("p"), let q = table.column("p_counterfactual") {
            return (table.rows.map { Double($0[p]) ?? .nan }, table.rows.map { Double($0[q]) })
        }
        let test = ImageDataset(records: data.test, imageRoot: options.output, resolution: options.resolution)
        let scores = try ClassifierPrediction.probabilities(classifier, dataset: test, batchSize: options.batchSize).map { $0[0] }
        let pairs = data.testCounterfactuals.indices.filter { data.testCounterfactuals[$0] != nil }
        let flipped = ImageDataset(records: pairs.map { Record(path: data.testCounterfactuals[$0]!, patientID: "\($0)") },
                                   imageRoot: options.output, resolution: options.resolution)
        let flippedScores = try ClassifierPrediction.probabilities(classifier, dataset: flipped, batchSize: options.batchSize)
        var counterfactual = [Double?](repeating: nil, count: data.test.count)
        for (k, i) in pairs.enumerated() { counterfactual[i] = flippedScores[k][0] }
        var text = csvLine(["path", options.label, options.attribute, "p", "counterfactual", "p_counterfactual"]) + "\n"
        for i in data.test.indices {
            text += csvLine([data.test[i].path, labels[i] ? "1" : "0", attributes[i] ? "1" : "0", "\(scores[i])",
                             data.testCounterfactuals[i] ?? "", counterfactual[i].map { "\($0)" } ?? ""]) + "\n"
        }
        try writeAtomically(Data(text.utf8), to: file)
        return (scores, counterfactual)
    }
}
