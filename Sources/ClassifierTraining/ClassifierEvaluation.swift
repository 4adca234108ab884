import ClassifierMetrics
import Classifiers
import Core
import Foundation

/// How a classifier does on one label of labelled images.
public struct LabelEvaluation: Codable, Sendable {
    public var label: String
    /// Images whose label is known (the others are left out of every number).
    public var count: Int
    public var auroc: AUROCEstimate
    /// The classifier's saved threshold (chosen on validation data when it was trained).
    public var threshold: Double
    public var atThreshold: ThresholdMetrics
    public var calibration: Calibration
    /// The reliability diagram's file name, beside metrics.json.
    public var reliabilityDiagram: String
    /// With an attribute: the (label, attribute) groups, worst-group accuracy and the aligned/conflicting AUROC gap,
    /// over the images whose label and attribute are both known.
    public var shortcut: ShortcutReport?
}

/// How a classifier does on one regression target (the patient's age) of labelled images.
public struct RegressionEvaluation: Codable, Sendable {
    public var target: String
    /// MAE and correlation with their bootstrap intervals, bias, RMSE, and the MAE of predicting the training
    /// images' mean (the constant to beat), over the images whose value is known.
    public var metrics: RegressionMetrics
}

/// A classifier's evaluation on a labelled set (metrics.json).
public struct ClassifierEvaluationResult: Codable, Sendable {
    public var images: Int
    /// What CheXpert's −1 was read as.
    public var uncertain: String
    /// The attribute column of the shortcut groups, and its spelling of true and false.
    public var attribute: String?
    public var attributeTrue: String?
    public var attributeFalse: String?
    public var bootstrapResamples: Int
    public var labels: [LabelEvaluation]
    /// Per regression target (nil when the classifier has none, so a label-only metrics.json is unchanged).
    public var regression: [RegressionEvaluation]?
}

public enum ClassifierEvaluation {
    /// Per label: AUROC with its bootstrap interval, accuracy, F1 and the rest at `thresholds`, calibration (ECE,
    /// 15 equal-width bins), and with `attribute` the shortcut report.
    /// With `regression` (the true values) and `predictions` ([image][target], in the targets' units), per
    /// regression target: MAE and correlation with bootstrap intervals, bias, RMSE, and the MAE of predicting the
    /// target's training mean (`regressionTargets`, the classifier's config).
    public static func evaluate(probabilities: [[Double]], targets: LabelTargets, thresholds: [Double],
                                attribute: BinaryAttribute? = nil, bootstrap: Bootstrap = Bootstrap(),
                                regression: RegressionTargets? = nil, predictions: [[Double]] = [],
                                regressionTargets: [RegressionTarget] = []) -> ClassifierEvaluationResult {
        let labels = targets.labels.indices.map { k -> LabelEvaluation in
            let (indices, truth) = targets.known(k)
            let scores = indices.map { probabilities[$0][k] }
            var shortcut: ShortcutReport?
            if let attribute {
                let both = indices.indices.filter { attribute.values[indices[$0]] != nil }
                shortcut = shortcutReport(labels: both.map { truth[$0] }, attributes: both.map { attribute.values[indices[$0]]! },
                                          scores: both.map { scores[$0] }, threshold: thresholds[k], bootstrap: bootstrap)
            }
            return LabelEvaluation(label: targets.labels[k], count: indices.count,
                                   auroc: estimateAUROC(labels: truth, scores: scores, bootstrap: bootstrap),
                                   threshold: thresholds[k],
                                   atThreshold: thresholdMetrics(labels: truth, scores: scores, threshold: thresholds[k]),
                                   calibration: calibrationSummary(labels: truth, probabilities: scores),
                                   reliabilityDiagram: "reliability-\(fileSlug(targets.labels[k])).png", shortcut: shortcut)
        }
        let regressions = regression.map { truth in
            truth.names.indices.map { j -> RegressionEvaluation in
                let (indices, values) = truth.known(j)
                let constant = regressionTargets.first { $0.name == truth.names[j] }?.mean
                return RegressionEvaluation(target: truth.names[j],
                                            metrics: regressionMetrics(truth: values, predicted: indices.map { predictions[$0][j] },
                                                                       constant: constant, bootstrap: bootstrap))
            }
        }
        return ClassifierEvaluationResult(images: targets.count, uncertain: targets.policy.rawValue, attribute: attribute?.column,
                                          attributeTrue: attribute?.meaning.positive, attributeFalse: attribute?.meaning.negative,
                                          bootstrapResamples: bootstrap.resamples, labels: labels,
                                          regression: regressions.flatMap { $0.isEmpty ? nil : $0 })
    }

    /// Writes metrics.json and a reliability diagram per label into `folder` (each file atomically).
    public static func write(_ result: ClassifierEvaluationResult, to folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for label in result.labels {
            try ReliabilityDiagram(calibration: label.calibration, title: label.label.uppercased())
                .writePNG(to: folder.appendingPathComponent(label.reliabilityDiagram))
        }
        try AtomicFile.write(MetricsJSON.encode(result), to: folder.appendingPathComponent("metrics.json"), durability: .unsynced)
    }
}

/// A name as a file name: lower case, runs of anything but letters and digits as one `-`.
public func fileSlug(_ name: String) -> String {
    var out = "", dash = false
    for c in name.lowercased() {
        if c.isASCII && (c.isLetter || c.isNumber) {
            out.append(c)
            dash = false
        } else if !dash && !out.isEmpty {
            out.append("-")
            dash = true
        }
    }
    while out.hasSuffix("-") { out.removeLast() }
    return out.isEmpty ? "label" : out
}
