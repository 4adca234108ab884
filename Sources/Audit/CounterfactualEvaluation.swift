import ClassifierMetrics
import ClassifierTraining
import Classifiers
import Core
import Counterfactual
import Datasets
import Evaluation
import Foundation
import Imaging
import Phantom

/// One image whose counterfactuals are scored: its pixels, the record its caption comes from, and on the phantom the
/// case that knows its true counterfactuals.
public struct EvaluationSubject: Sendable {
    public let id: String
    public let image: Image
    public let record: Record
    public let phantom: PhantomCase?

    public init(id: String, image: Image, record: Record, phantom: PhantomCase? = nil) {
        self.id = id
        self.image = image
        self.record = record
        self.phantom = phantom
    }

    /// An image of a label file, named by its path made a file name (`images/0001.png` → `images_0001`).
    public static func labelled(_ record: Record, image: Image) -> EvaluationSubject {
        var name = record.path
        if let dot = name.lastIndex(of: "."), !name[dot...].contains("/") { name = String(name[..<dot]) }
        let id = String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
        return EvaluationSubject(id: id, image: image, record: record)
    }

    /// A phantom case, rendered, captioned from its labels.
    public static func phantom(_ c: PhantomCase) throws -> EvaluationSubject {
        EvaluationSubject(id: c.id, image: c.render().image, record: try PhantomEvaluation.record(c, c.attributes), phantom: c)
    }

    /// Its labels as numbers (findings 0/1, Age in years, Sex 1 for female): what decides whether an edit applies.
    var labelValues: [String: Double] {
        if let c = phantom { return PhantomTruth.values(c.attributes, c.parameters) }
        var v = record.findings().mapValues { $0 ? 1.0 : 0.0 }
        if let age = record.age { v["Age"] = Double(age) }
        if let sex = record.sex { v["Sex"] = sex == .female ? 1 : 0 }
        return v
    }
}

public struct CounterfactualEvaluationOptions: Sendable {
    public var edits: [AuditEdit]
    public var template = CaptionTemplate()
    public var settings = EditSettings()
    /// The null edit (the image's own caption) applied this many times in a row (Monteiro et al.'s composition).
    public var compositionSteps = 10
    /// Each edit followed by its inverse this many times in a row (reversibility).
    public var reversibilityCycles = 5
    /// The first this many images get the composition curve, and each edit's reversibility curve is made on the first
    /// this many images the edit applies to (a rare finding's removal gets its curve too). Each curve image costs
    /// `compositionSteps` edits, and 2 · `reversibilityCycles` − 1 per edit.
    public var curveImages = 4
    public var bootstrap = Bootstrap()

    public init(edits: [AuditEdit]) { self.edits = edits }
}

/// Distance to the original after k applications (composition) or k cycles (reversibility), over the curve images.
public struct DistancePoint: Codable, Sendable {
    public var step: Int
    /// Mean |difference| in grey levels (0–255), and PSNR in dB.
    public var l1: Estimate
    public var psnr: Estimate
}

public struct KeptLabelChange: Codable, Sendable {
    public var label: String
    /// Mean |p(counterfactual) − p(image)|: what the edit moved that its caption kept.
    public var meanAbsoluteChange: Estimate
}

/// An age edit scored by a classifier's age output (causal-gen's age MAE).
public struct AgeEditScores: Codable, Sendable {
    public var targetAge: Double
    /// Mean |predicted age of the counterfactual − target age|, and the same for the unedited image.
    public var mae: Estimate
    public var factualMAE: Estimate
    /// Mean (predicted age of the counterfactual − predicted age of the image).
    public var predictedShift: Estimate
}

/// Against the phantom's truth: the edit's true (direct-effect) counterfactual of each image.
public struct TruthComparison: Codable, Sendable {
    /// L1 (grey levels) and PSNR between Prism's counterfactual and the true one.
    public var l1ToTruth: Estimate
    public var psnrToTruth: Estimate
    /// How much of the way from the image to the truth the edit went, inside the true change, and how much it changed
    /// outside it (grey levels; docs/editing.md's bar).
    public var gapClosed: Estimate
    public var changeOutsideTruth: Estimate
    /// The classifier on the true counterfactuals: the fraction on the edited side (the measuring instrument's ceiling).
    public var effectivenessOfTruth: Estimate?
}

/// Everything measured of one edit.
public struct EditEvaluation: Codable, Sendable {
    public var edit: String
    /// The label the edit changes (or Age / Sex).
    public var label: String
    public var images: Int
    /// The classifier's threshold of the edited label (nil for age).
    public var threshold: Double?
    /// Fraction of counterfactuals on the edited side of the threshold; AUROC of factual against counterfactual
    /// probabilities (the edited side positive); PRISM's counterfactual prediction gain (the mean change of the edited
    /// label's probability, signed so that an effective edit gains).
    public var effectiveness: Estimate?
    public var auroc: AUROCEstimate?
    public var predictionGain: Estimate?
    public var age: AgeEditScores?
    /// Identity and minimality: L1 (grey levels) and PSNR between image and counterfactual, overall and outside the
    /// edit's mask (nil without a mask); |Δp| of every label the caption kept.
    public var l1: Estimate
    public var psnr: Estimate
    public var l1OutsideMask: Estimate?
    public var keptLabels: [KeptLabelChange]
    /// The Fréchet distance between the images and their counterfactuals in the classifier's penultimate-layer
    /// features, and, for scale, between two halves of the images.
    public var frechetDistance: Double?
    public var frechetDistanceBetweenImageHalves: Double?
    public var reversibility: [DistancePoint]
    /// The images the reversibility curve is over.
    public var reversibilityImages: Int
    public var truth: TruthComparison?
}

public struct CounterfactualEvaluationResult: Codable, Sendable {
    public var images: Int
    public var curveImages: Int
    public var classifierLabels: [String]
    public var settings: [String: String]
    public var bootstrapResamples: Int
    public var composition: [DistancePoint]
    public var edits: [EditEvaluation]
    public var seconds: Double
}

/// Scores counterfactuals as the literature does: effectiveness (a classifier's verdict, causal-gen; PRISM's
/// prediction gain), identity and minimality (L1, PSNR, kept labels), composition and reversibility (Monteiro et al.
/// 2023), realism (a domain Fréchet distance) and, on the phantom, closeness to the true counterfactual.
public struct CounterfactualEvaluation {
    public let editor: CounterfactualEditor
    public let classifier: Classifier
    public let options: CounterfactualEvaluationOptions

    public init(editor: CounterfactualEditor, classifier: Classifier, options: CounterfactualEvaluationOptions) {
        self.editor = editor
        self.classifier = classifier
        self.options = options
    }

    /// What one image gave for one edit.
    struct Pair {
        var factual: Plane
        var counterfactual: Plane
        var mask: Plane?
        var truth: Plane?
        var reversibility: [Plane]
    }

    public func run(_ subjects: [EvaluationSubject], progress: (Int, Int) -> Void = { _, _ in }) throws -> CounterfactualEvaluationResult {
        let start = Date()
        let edits = options.edits
        var pairs = [[Pair]](repeating: [], count: edits.count)
        var composition: [[Plane]] = []
        var reversibilityCurves = [Int](repeating: 0, count: edits.count)
        for (n, subject) in subjects.enumerated() {
            let values = subject.labelValues
            let applicable = edits.indices.filter { edits[$0].applies(to: values) }
            let source = options.template.caption(for: subject.record)
            let targets = try applicable.map { options.template.caption(for: try edits[$0].label.apply(to: subject.record, template: options.template)) }
            let factual = Plane(gray: subject.image)
            let curves = n < options.curveImages
            guard !applicable.isEmpty || curves else { progress(n + 1, subjects.count); continue }
            // One inversion for every edit of the image and, on curve images, the first null edit.
            let outcome = try editor.edit(image: factual, source: source, targets: targets + (curves ? [source] : []),
                                          settings: options.settings)
            if curves {
                var steps = [outcome.edits.last!.image]
                while steps.count < options.compositionSteps { steps.append(try once(steps.last!, from: source, to: source)) }
                composition.append(steps)
            }
            for (k, e) in applicable.enumerated() {
                let edited = outcome.edits[k]
                var truth: Plane?
                if let c = subject.phantom {
                    truth = Plane(gray: c.render(c.counterfactualAttributes(try edits[e].interventions(parameters: c.parameters), directOnly: true)).image)
                }
                var back: [Plane] = []
                if reversibilityCurves[e] < options.curveImages {
                    reversibilityCurves[e] += 1
                    var forward = edited.image
                    for cycle in 0..<options.reversibilityCycles {
                        if cycle > 0 { forward = try once(back.last!, from: source, to: targets[k]) }
                        back.append(try once(forward, from: targets[k], to: source))
                    }
                }
                pairs[e].append(Pair(factual: factual, counterfactual: edited.image, mask: edited.mask, truth: truth, reversibility: back))
            }
            progress(n + 1, subjects.count)
        }
        let realImages = subjects.map(\.image)
        let realFeatures = try ClassifierPrediction.embeddings(classifier, images: realImages)
        let halves = frechetDistance(stride(from: 0, to: realFeatures.count, by: 2).map { realFeatures[$0] },
                                     stride(from: 1, to: realFeatures.count, by: 2).map { realFeatures[$0] })
        let scored = try edits.indices.map { e in
            try score(edits[e], pairs[e], realFeatures: realFeatures, halves: halves)
        }
        let s = options.settings
        return CounterfactualEvaluationResult(
            images: subjects.count, curveImages: min(options.curveImages, subjects.count), classifierLabels: classifier.config.labels,
            settings: ["inversion": s.method.rawValue, "steps": "\(s.steps)", "guidance": "\(s.guidance)", "mask": s.mask.name],
            bootstrapResamples: options.bootstrap.resamples, composition: curve(composition, subjects.prefix(options.curveImages).map { Plane(gray: $0.image) }),
            edits: scored, seconds: Date().timeIntervalSince(start))
    }

    /// One edit of `image` from caption `source` to `target` (its own inversion).
    func once(_ image: Plane, from source: String, to target: String) throws -> Plane {
        try editor.edit(image: image, source: source, targets: [target], settings: options.settings).edits[0].image
    }

    /// Distance to each original after each step, over the images that have the curve.
    func curve(_ steps: [[Plane]], _ originals: [Plane]) -> [DistancePoint] {
        guard let length = steps.map(\.count).max() else { return [] }
        return (0..<length).map { k in
            let rows = zip(steps, originals).filter { k < $0.0.count }
            return DistancePoint(step: k + 1, l1: mean(rows.map { 255 * EditMetrics.meanAbsolute($0.0[k], $0.1) }),
                                 psnr: mean(rows.map { min(EditMetrics.psnr($0.0[k], $0.1), 100) }))
        }
    }

    func mean(_ values: [Double]) -> Estimate {
        guard !values.isEmpty else { return Estimate(value: .nan, interval: nil) }
        let interval = options.bootstrap.interval(count: values.count) { w in
            let n = w.reduce(0, +)
            return n == 0 ? nil : zip(values, w).reduce(0) { $0 + $1.0 * Double($1.1) } / Double(n)
        }
        return Estimate(value: values.reduce(0, +) / Double(values.count), interval: interval)
    }

    func score(_ edit: AuditEdit, _ pairs: [Pair], realFeatures: [[Double]], halves: Double?) throws -> EditEvaluation {
        let labels = classifier.config.labels
        let factualImages = pairs.map { $0.factual.image() }, cfImages = pairs.map { $0.counterfactual.image() }
        let f = try ClassifierPrediction.outputs(classifier, images: factualImages)
        let cf = try ClassifierPrediction.outputs(classifier, images: cfImages)
        var result = EditEvaluation(
            edit: edit.text, label: edit.target, images: pairs.count, threshold: nil, effectiveness: nil, auroc: nil,
            predictionGain: nil, age: nil,
            l1: mean(pairs.map { 255 * EditMetrics.meanAbsolute($0.counterfactual, $0.factual) }),
            psnr: mean(pairs.map { min(EditMetrics.psnr($0.counterfactual, $0.factual), 100) }),
            l1OutsideMask: nil, keptLabels: [], frechetDistance: nil, frechetDistanceBetweenImageHalves: halves,
            reversibility: curve(pairs.filter { !$0.reversibility.isEmpty }.map(\.reversibility),
                                 pairs.filter { !$0.reversibility.isEmpty }.map(\.factual)),
            reversibilityImages: pairs.filter { !$0.reversibility.isEmpty }.count,
            truth: nil)
        guard !pairs.isEmpty else { return result }
        let masked = pairs.filter { $0.mask != nil }
        if !masked.isEmpty {
            result.l1OutsideMask = mean(masked.map { 255 * EditMetrics.meanAbsolute($0.counterfactual, $0.factual,
                                                                                    where: $0.mask!.values.map { $0 <= 0 }) })
        }
        let edited: Set<String> = [edit.target]
        result.keptLabels = labels.enumerated().filter { EffectMatrix.role(of: $0.element, edited: edited) == .kept }.map { k, label in
            KeptLabelChange(label: label, meanAbsoluteChange: mean(zip(f.probabilities, cf.probabilities).map { abs($1[k] - $0[k]) }))
        }
        result.frechetDistance = frechetDistance(realFeatures, try ClassifierPrediction.embeddings(classifier, images: cfImages))
        // Effectiveness of a finding or sex edit by the classifier's label; of an age edit by its age output.
        let towardPresent: Bool? = switch edit.label {
        case .add: true
        case .remove: false
        case .set(_, let value): edit.target == "Sex" ? Sex(parsing: value) == .female : nil
        }
        if let towardPresent, let k = labels.firstIndex(of: edit.target) {
            let t = classifier.config.thresholds[k]
            let before = f.probabilities.map { $0[k] }, after = cf.probabilities.map { $0[k] }
            let sign = towardPresent ? 1.0 : -1.0
            result.threshold = t
            result.effectiveness = mean(after.map { ($0 >= t) == towardPresent ? 1 : 0 })
            result.predictionGain = mean(zip(before, after).map { sign * ($1 - $0) })
            result.auroc = estimateAUROC(labels: before.map { _ in !towardPresent } + after.map { _ in towardPresent },
                                         scores: before + after, bootstrap: options.bootstrap)
            if pairs.allSatisfy({ $0.truth != nil }) {
                let truthP = try ClassifierPrediction.probabilities(classifier, images: pairs.map { $0.truth!.image() }).map { $0[k] }
                result.truth = truthComparison(pairs, effectivenessOfTruth: mean(truthP.map { ($0 >= t) == towardPresent ? 1 : 0 }))
            }
        } else if case .set(_, let value) = edit.label, edit.target == "Age", let target = Double(value),
                  let before = f.regression("Age"), let after = cf.regression("Age") {
            result.age = AgeEditScores(targetAge: target, mae: mean(after.map { abs($0 - target) }),
                                       factualMAE: mean(before.map { abs($0 - target) }),
                                       predictedShift: mean(zip(before, after).map { $1 - $0 }))
        }
        if result.truth == nil, pairs.allSatisfy({ $0.truth != nil }) { result.truth = truthComparison(pairs, effectivenessOfTruth: nil) }
        return result
    }

    func truthComparison(_ pairs: [Pair], effectivenessOfTruth: Estimate?) -> TruthComparison {
        let scores = pairs.map { p in
            EditMetrics.score(input: p.factual, edit: p.counterfactual, truth: p.truth!,
                              changeMask: Plane(gray: changeMask(p.factual.image(), p.truth!.image())))
        }
        return TruthComparison(
            l1ToTruth: mean(pairs.map { 255 * EditMetrics.meanAbsolute($0.counterfactual, $0.truth!) }),
            psnrToTruth: mean(pairs.map { min(EditMetrics.psnr($0.counterfactual, $0.truth!), 100) }),
            gapClosed: mean(scores.map(\.gapClosed).filter { $0.isFinite }),
            changeOutsideTruth: mean(scores.map { 255 * $0.changeOutside }), effectivenessOfTruth: effectivenessOfTruth)
    }
}
