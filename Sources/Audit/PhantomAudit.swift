import ClassifierTraining
import Classifiers
import Core
import Foundation
import Imaging
import Phantom

/// Who makes the counterfactual of each audited image.
public enum AuditEditor: String, CaseIterable, Sendable {
    /// The generative model, editing the image by its caption.
    case model
    /// The phantom's direct effect: only the edited attribute changes (what the caption asks for).
    case oracleDirect = "oracle-direct"
    /// The phantom's total effect: the edited attribute and every descendant in the causal model.
    case oracleTotal = "oracle-total"
}

/// Edits phantom images by caption with a generative model (the `model` editor); one call per image, every
/// applicable edit of it at once so that they share one inversion.
public protocol PhantomImageEditing {
    func edit(_ phantom: PhantomCase, factual: Image, edits: [AuditEdit]) throws -> [Image]
}

/// What reads the labels of an image.
public enum AuditMeasure {
    /// The phantom's own labels of each image: exact, and only defined for the oracle editors' images.
    case truth
    /// A classifier's probabilities (a Prism classifier folder), for any image.
    case classifier(Classifier)
}

/// The phantom's labels as numbers: findings and devices 0/1, Age in years, Sex 1 for female.
public enum PhantomTruth {
    public static let labels = ["Cardiomegaly", "Pleural Effusion", "Support Devices", "Pacemaker", "Endotracheal Tube",
                                "Central Venous Catheter", "Nasogastric Tube", "Age", "Sex"]

    public static func values(_ a: Attributes, _ p: SCMParameters) -> [String: Double] {
        func b(_ v: Bool) -> Double { v ? 1 : 0 }
        return ["Cardiomegaly": b(a.cardiomegaly(p)), "Pleural Effusion": b(a.pleuralEffusion),
                "Support Devices": b(a.supportDevices), "Pacemaker": b(a.pacemaker), "Endotracheal Tube": b(a.endotrachealTube),
                "Central Venous Catheter": b(a.centralVenousCatheter), "Nasogastric Tube": b(a.nasogastricTube),
                "Age": a.age, "Sex": a.sex == .female ? 1 : 0]
    }
}

/// One audited image and its counterfactual under one edit, kept for showing the pairs that moved most.
public struct AuditPair: Sendable {
    public let edit: String
    public let id: String
    public let factual: Image?
    public let counterfactual: Image?
}

/// The audit of phantom cases: each edit applied to every case it applies to (by the case's true labels), by the
/// chosen editor, and the labels of factual and counterfactual read by the chosen measure.
public struct PhantomAudit {
    public var cases: [PhantomCase]
    public var edits: [AuditEdit]
    public var editor: AuditEditor
    public var measure: AuditMeasure
    /// Required for `.model`.
    public var modelEditor: (any PhantomImageEditing)?
    public var statistics = AuditStatistics()

    public init(cases: [PhantomCase], edits: [AuditEdit], editor: AuditEditor, measure: AuditMeasure,
                modelEditor: (any PhantomImageEditing)? = nil) {
        self.cases = cases
        self.edits = edits
        self.editor = editor
        self.measure = measure
        self.modelEditor = modelEditor
    }

    /// The cases `index` 0, 1, … of the phantom set `seed` under `parameters`, rendered at `size`.
    public static func cases(seed: UInt64, count: Int, parameters: SCMParameters, size: Int) -> [PhantomCase] {
        (0..<count).map { PhantomCase(seed: seed, index: $0, parameters: parameters, size: size) }
    }

    public var labels: [String] {
        switch measure {
        case .truth: return PhantomTruth.labels
        case .classifier(let c): return c.config.outputNames
        }
    }

    /// The same audit (cases, edits, measure, statistics) by another editor.
    public func withEditor(_ other: AuditEditor) -> PhantomAudit {
        var copy = self
        copy.editor = other
        return copy
    }

    public struct Result {
        public let matrix: EffectMatrix
        public let effects: [EditEffects]
        public let pairs: [AuditPair]
    }

    /// Runs the audit. `progress(done, total)` counts cases.
    public func run(progress: (Int, Int) -> Void = { _, _ in }) throws -> Result {
        if case .truth = measure, editor == .model {
            throw PhantomError("--measure truth reads the phantom's labels, which a model's edit does not have: "
                               + "audit a model with --measure classifier (a classifier folder)")
        }
        guard editor != .model || modelEditor != nil else { throw PhantomError("the model editor needs a model") }
        let interventions = try edits.map { try $0.interventions(parameters: cases.first?.parameters ?? SCMParameters()) }
        var before = [[[Double]]](repeating: [], count: edits.count), after = before
        var ids = [[String]](repeating: [], count: edits.count)
        var pairs: [AuditPair] = []
        let keepImages: Bool = { if case .classifier = measure { return true } else { return editor == .model } }()
        for (n, c) in cases.enumerated() {
            let truth = PhantomTruth.values(c.attributes, c.parameters)
            let applicable = edits.indices.filter { edits[$0].applies(to: truth) }
            guard !applicable.isEmpty else { progress(n + 1, cases.count); continue }
            let factualImage = keepImages ? c.render().image : nil
            let counterfactualImages: [Image]?
            let counterfactualAttributes: [Attributes?]
            switch editor {
            case .model:
                counterfactualImages = try modelEditor!.edit(c, factual: factualImage!, edits: applicable.map { edits[$0] })
                counterfactualAttributes = applicable.map { _ in nil }
            case .oracleDirect, .oracleTotal:
                let attributes = applicable.map {
                    c.counterfactualAttributes(interventions[$0], directOnly: editor == .oracleDirect)
                }
                counterfactualAttributes = attributes
                counterfactualImages = keepImages ? attributes.map { c.render($0).image } : nil
            }
            let scores = try measure(case: c, factual: factualImage, counterfactuals: counterfactualImages,
                                     attributes: counterfactualAttributes)
            for (k, e) in applicable.enumerated() {
                before[e].append(scores.factual)
                after[e].append(scores.counterfactuals[k])
                ids[e].append(c.id)
                pairs.append(AuditPair(edit: edits[e].text, id: c.id, factual: factualImage,
                                       counterfactual: counterfactualImages?[k]))
            }
            progress(n + 1, cases.count)
        }
        let effects = edits.indices.map {
            EditEffects(edit: edits[$0].text, edited: [edits[$0].target], before: before[$0], after: after[$0], ids: ids[$0])
        }
        return Result(matrix: EffectMatrix(effects, labels: labels, statistics: statistics), effects: effects, pairs: pairs)
    }

    /// The measured labels of a case's factual and of its counterfactuals, in `labels` order.
    func measure(case c: PhantomCase, factual: Image?, counterfactuals: [Image]?, attributes: [Attributes?]) throws
        -> (factual: [Double], counterfactuals: [[Double]])
    {
        switch measure {
        case .truth:
            func row(_ a: Attributes) -> [Double] {
                let v = PhantomTruth.values(a, c.parameters)
                return PhantomTruth.labels.map { v[$0]! }
            }
            return (row(c.attributes), attributes.map { row($0!) })
        case .classifier(let classifier):
            let p = try ClassifierPrediction.outputs(classifier, images: [factual!] + counterfactuals!).measurements
            return (p[0], Array(p.dropFirst()))
        }
    }

    /// The causal model's own total effects: the expected change of each true label under each edit, over `sample`
    /// patients of `parameters` to whom the edit applies (labels only, nothing rendered). What `oracle-total` with
    /// `--measure truth` estimates from the audited cases.
    public static func scmTotalEffects(_ edits: [AuditEdit], parameters: SCMParameters, sample: Int = 20_000,
                                       seed: UInt64 = 0x5C3) throws -> [[Double]] {
        let scm = SCM(parameters: parameters)
        var rng = SplitMix64(seed: seed)
        let interventions = try edits.map { try $0.interventions(parameters: parameters) }
        var sums = [[Double]](repeating: [Double](repeating: 0, count: PhantomTruth.labels.count), count: edits.count)
        var counts = [Int](repeating: 0, count: edits.count)
        for _ in 0..<sample {
            let u = SCMNoise(rng: &rng)
            let factual = scm.sample(u)
            let before = PhantomTruth.values(factual, parameters)
            for (e, edit) in edits.enumerated() where edit.applies(to: before) {
                let after = PhantomTruth.values(scm.counterfactual(u, factual: factual, doing: interventions[e]), parameters)
                for (k, label) in PhantomTruth.labels.enumerated() { sums[e][k] += after[label]! - before[label]! }
                counts[e] += 1
            }
        }
        return sums.enumerated().map { e, row in row.map { counts[e] == 0 ? 0 : $0 / Double(counts[e]) } }
    }
}
