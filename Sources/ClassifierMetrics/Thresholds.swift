/// How a decision threshold was chosen on validation data.
public enum ThresholdCriterion: String, Codable, Sendable {
    /// Youden's J = sensitivity + specificity − 1 (= TPR − FPR), maximised over the ROC curve's thresholds.
    case youden
    /// F1 = 2TP / (2TP + FP + FN), maximised over the distinct scores.
    case maxF1 = "max_f1"
}

/// A threshold chosen on validation data, and the value of the criterion it reached there.
public struct ThresholdChoice: Codable, Sendable, Equatable {
    /// An image is predicted positive when its score is at least this (+∞: none is).
    public var threshold: Double
    public var criterion: ThresholdCriterion
    /// J or F1 at the threshold, on the data it was chosen on.
    public var value: Double
}

/// The threshold maximising Youden's J over the full ROC curve (scikit-learn's `roc_curve(drop_intermediate:
/// False)`, the point at +∞ included); of equal maxima the first, i.e. the highest threshold. nil with one class.
/// A classifier no better than chance on every threshold gets +∞ (J = 0: predict nothing positive).
public func youdenThreshold(labels: [Bool], scores: [Double]) -> ThresholdChoice? {
    let roc = rocCurve(labels: labels, scores: scores, dropIntermediate: false)
    guard labels.contains(true), labels.contains(false) else { return nil }
    var best = 0
    for i in roc.thresholds.indices {
        let j = roc.truePositiveRate[i] - roc.falsePositiveRate[i]
        if j > roc.truePositiveRate[best] - roc.falsePositiveRate[best] { best = i }
    }
    return ThresholdChoice(threshold: roc.thresholds[best], criterion: .youden,
                           value: roc.truePositiveRate[best] - roc.falsePositiveRate[best])
}

/// The threshold maximising F1 among the distinct scores (each tried as `score >= t`); of equal maxima the highest
/// threshold. nil when no label is positive (F1 is 0 or undefined at every threshold).
public func maxF1Threshold(labels: [Bool], scores: [Double]) -> ThresholdChoice? {
    precondition(!scores.contains(where: \.isNaN), "maxF1Threshold: a score is NaN")
    let ranked = RankedScores(labels: labels, scores: scores)
    let (fps, tps) = ranked.cumulativeCounts()
    guard let positives = tps.last, positives > 0 else { return nil }
    var best: (threshold: Double, f1: Double) = (.infinity, -1)
    for (k, end) in ranked.groupEnds.enumerated() {
        let f1 = 2 * Double(tps[k]) / Double(2 * tps[k] + fps[k] + (positives - tps[k]))
        if f1 > best.f1 { best = (scores[ranked.order[end - 1]], f1) }
    }
    return ThresholdChoice(threshold: best.threshold, criterion: .maxF1, value: best.f1)
}

/// The four cells of a binary confusion matrix.
public struct ConfusionCounts: Codable, Sendable, Equatable {
    public var truePositives = 0, falsePositives = 0, trueNegatives = 0, falseNegatives = 0

    public init(truePositives: Int = 0, falsePositives: Int = 0, trueNegatives: Int = 0, falseNegatives: Int = 0) {
        self.truePositives = truePositives
        self.falsePositives = falsePositives
        self.trueNegatives = trueNegatives
        self.falseNegatives = falseNegatives
    }

    /// The counts of the predictions `score >= threshold`.
    public init(labels: [Bool], scores: [Double], threshold: Double) {
        precondition(labels.count == scores.count, "ConfusionCounts: \(labels.count) labels for \(scores.count) scores")
        for (y, s) in zip(labels, scores) {
            switch (y, s >= threshold) {
            case (true, true): truePositives += 1
            case (false, true): falsePositives += 1
            case (false, false): trueNegatives += 1
            case (true, false): falseNegatives += 1
            }
        }
    }

    public var count: Int { truePositives + falsePositives + trueNegatives + falseNegatives }
}

/// The usual numbers of a binary decision at one threshold. A ratio whose denominator is zero is NaN (as
/// scikit-learn's `zero_division=np.nan`): sensitivity without positives, specificity without negatives, F1 when
/// there are neither positive labels nor positive predictions.
public struct ThresholdMetrics: Codable, Sendable {
    public var threshold: Double
    public var accuracy: Double
    public var f1: Double
    /// Recall of the positives, TP / (TP + FN).
    public var sensitivity: Double
    /// Recall of the negatives, TN / (TN + FP).
    public var specificity: Double
    /// TP / (TP + FP).
    public var precision: Double
    public var counts: ConfusionCounts
}

/// Accuracy, F1, sensitivity, specificity and precision of `score >= threshold`.
public func thresholdMetrics(labels: [Bool], scores: [Double], threshold: Double) -> ThresholdMetrics {
    let c = ConfusionCounts(labels: labels, scores: scores, threshold: threshold)
    func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? .nan : Double(a) / Double(b) }
    return ThresholdMetrics(
        threshold: threshold,
        accuracy: ratio(c.truePositives + c.trueNegatives, c.count),
        f1: ratio(2 * c.truePositives, 2 * c.truePositives + c.falsePositives + c.falseNegatives),
        sensitivity: ratio(c.truePositives, c.truePositives + c.falseNegatives),
        specificity: ratio(c.trueNegatives, c.trueNegatives + c.falsePositives),
        precision: ratio(c.truePositives, c.truePositives + c.falsePositives),
        counts: c)
}
