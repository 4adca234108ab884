/// A receiver operating characteristic curve as scikit-learn's `roc_curve` gives it: one point per distinct score
/// (ties grouped into one step), from high thresholds to low, after a first point (0, 0) at threshold +∞.
/// An image is predicted positive when its score is at least the threshold.
///
/// With one class only, the rate whose denominator is zero is NaN throughout (as in scikit-learn).
public struct ROCCurve: Codable, Sendable, Equatable {
    public var falsePositiveRate: [Double]
    public var truePositiveRate: [Double]
    public var thresholds: [Double]
}

/// Scores ranked from high to low with equal scores grouped: the first step of every ROC computation, done once so
/// that bootstrap resamples (multiplicities over the same images) reuse the order.
struct RankedScores {
    /// Image indices by descending score (stable, as numpy's mergesort in scikit-learn).
    let order: [Int]
    /// The end (exclusive) in `order` of each run of equal scores.
    let groupEnds: [Int]
    let labels: [Bool]
    let scores: [Double]

    init(labels: [Bool], scores: [Double]) {
        precondition(labels.count == scores.count, "ROC: \(labels.count) labels for \(scores.count) scores")
        self.labels = labels
        self.scores = scores
        order = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
        var ends: [Int] = []
        for k in order.indices.dropFirst() where scores[order[k]] != scores[order[k - 1]] { ends.append(k) }
        if !order.isEmpty { ends.append(order.count) }
        groupEnds = ends
    }

    /// Cumulative (false positives, true positives) at the end of each group, images counted `weights[i]` times.
    func cumulativeCounts(weights: [Int]? = nil) -> (fps: [Int], tps: [Int]) {
        var fps: [Int] = [], tps: [Int] = []
        fps.reserveCapacity(groupEnds.count)
        tps.reserveCapacity(groupEnds.count)
        var fp = 0, tp = 0, start = 0
        for end in groupEnds {
            for i in order[start..<end] {
                let w = weights?[i] ?? 1
                if labels[i] { tp += w } else { fp += w }
            }
            fps.append(fp)
            tps.append(tp)
            start = end
        }
        return (fps, tps)
    }

    /// The area under the ROC curve by the trapezoid rule over the grouped points (a tie contributes a diagonal
    /// step, worth half), exactly scikit-learn's `roc_auc_score`; nil when one class is absent.
    func areaUnderCurve(weights: [Int]? = nil) -> Double? {
        let (fps, tps) = cumulativeCounts(weights: weights)
        guard let negatives = fps.last, let positives = tps.last, negatives > 0, positives > 0 else { return nil }
        // Twice the area in units of one (negative, positive) pair: integers, so the sum is exact.
        var doubled = 0, fp = 0, tp = 0
        for (f, t) in zip(fps, tps) {
            doubled += (f - fp) * (t + tp)
            fp = f
            tp = t
        }
        return Double(doubled) / (2 * Double(negatives) * Double(positives))
    }
}

/// The ROC curve of binary labels and scores, as scikit-learn's `roc_curve(labels, scores, drop_intermediate:)`:
/// with `dropIntermediate`, points on a straight segment between their neighbours are left out (the area is
/// unchanged).
public func rocCurve(labels: [Bool], scores: [Double], dropIntermediate: Bool = true) -> ROCCurve {
    precondition(!scores.contains(where: \.isNaN), "rocCurve: a score is NaN")
    let ranked = RankedScores(labels: labels, scores: scores)
    var (fps, tps) = ranked.cumulativeCounts()
    var thresholds = ranked.groupEnds.map { scores[ranked.order[$0 - 1]] }
    if dropIntermediate && fps.count > 2 {
        let keep = fps.indices.filter { i in
            i == 0 || i == fps.count - 1
                || fps[i - 1] - 2 * fps[i] + fps[i + 1] != 0 || tps[i - 1] - 2 * tps[i] + tps[i + 1] != 0
        }
        fps = keep.map { fps[$0] }
        tps = keep.map { tps[$0] }
        thresholds = keep.map { thresholds[$0] }
    }
    let negatives = Double(fps.last ?? 0), positives = Double(tps.last ?? 0)
    return ROCCurve(falsePositiveRate: ([0] + fps).map { Double($0) / negatives },
                    truePositiveRate: ([0] + tps).map { Double($0) / positives },
                    thresholds: [.infinity] + thresholds)
}

/// The area under the ROC curve (scikit-learn's `roc_auc_score`, ties handled by the trapezoid rule); nil when the
/// labels hold one class only, where it is undefined, or a score is NaN.
public func areaUnderROC(labels: [Bool], scores: [Double]) -> Double? {
    guard !scores.contains(where: \.isNaN) else { return nil }
    return RankedScores(labels: labels, scores: scores).areaUnderCurve()
}

/// An AUROC with its bootstrap interval, or the reason it is undefined.
public struct AUROCEstimate: Codable, Sendable {
    /// NaN when undefined (`undefinedReason` says why).
    public var value: Double
    public var positives: Int
    public var negatives: Int
    /// nil when no bootstrap was asked for, or the AUROC is undefined.
    public var interval: BootstrapInterval?
    public var undefinedReason: String?

    public var isDefined: Bool { undefinedReason == nil }
}

/// The AUROC of `labels` and `scores` with a percentile bootstrap interval over images (nil `bootstrap`: none).
/// Resamples that hold one class only are skipped, so `interval.used` may be below `interval.resamples`.
public func estimateAUROC(labels: [Bool], scores: [Double], bootstrap: Bootstrap? = Bootstrap()) -> AUROCEstimate {
    estimateAUROCs(labels: labels, scores: scores, subsets: [Array(labels.indices)], bootstrap: bootstrap)[0]
}

/// AUROCs of several subsets of the same images, bootstrapped on the same resamples of all the images (a subset's
/// share of a resample varies, as it would in a new sample); the last element is their `difference` (first minus
/// second) where asked for, with its interval from the same resamples.
func estimateAUROCs(labels: [Bool], scores: [Double], subsets: [[Int]], bootstrap: Bootstrap?,
                    difference: Bool = false) -> [AUROCEstimate] {
    precondition(labels.count == scores.count, "AUROC: \(labels.count) labels for \(scores.count) scores")
    let ranked = subsets.map { s in RankedScores(labels: s.map { labels[$0] }, scores: s.map { scores[$0] }) }
    var estimates = zip(subsets, ranked).map { subset, r in
        let positives = subset.filter { labels[$0] }.count, negatives = subset.count - positives
        let nanScores = subset.filter { scores[$0].isNaN }.count
        let reason: String? = nanScores > 0 ? "\(nanScores) scores are NaN"
            : subset.isEmpty ? "no images"
            : positives == 0 ? "only negative images (\(negatives)): AUROC needs both classes"
            : negatives == 0 ? "only positive images (\(positives)): AUROC needs both classes" : nil
        return AUROCEstimate(value: reason == nil ? r.areaUnderCurve()! : .nan, positives: positives,
                             negatives: negatives, interval: nil, undefinedReason: reason)
    }
    if difference {
        let a = estimates[0], b = estimates[1]
        let reason = [a.undefinedReason, b.undefinedReason].compactMap { $0 }.first
        estimates.append(AUROCEstimate(value: a.value - b.value, positives: a.positives + b.positives,
                                       negatives: a.negatives + b.negatives, interval: nil, undefinedReason: reason))
    }
    guard let bootstrap, estimates.contains(where: \.isDefined) else { return estimates }
    let intervals = bootstrap.intervals(count: labels.count, statistics: estimates.count) { weights in
        var values: [Double?] = zip(subsets, ranked).map { subset, r in
            r.areaUnderCurve(weights: subset.map { weights[$0] })
        }
        if difference { values.append(values[0].flatMap { a in values[1].map { a - $0 } }) }
        return values
    }
    for k in estimates.indices where estimates[k].isDefined { estimates[k].interval = intervals[k] }
    return estimates
}
