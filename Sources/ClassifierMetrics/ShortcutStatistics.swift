/// One classifier's scores on a test set, as a shortcut study compares classifiers: the overall AUROC, the AUROC gap
/// between shortcut-aligned and shortcut-conflicting images, worst-group accuracy at a threshold and, where each test
/// image has a counterfactual with the attribute changed, the mean |Δp| between them. Every statistic can be
/// computed on a bootstrap resample's multiplicities, so that several classifiers scored on the same test images
/// (methods, seeds) are compared on the same resamples: an average over seeds or a ratio of two methods' gaps then
/// has an interval that accounts for the test set's size.
public struct ShortcutStatistics: Sendable {
    public enum Statistic: Int, CaseIterable, Sendable {
        case auroc, aurocGap, worstGroupAccuracy, sensitivity
    }

    public let labels: [Bool]
    public let attributes: [Bool]
    public let scores: [Double]
    public let threshold: Double
    /// Per test image, the score of its counterfactual (nil: the image has none).
    public let counterfactualScores: [Double?]
    let all: RankedScores
    let aligned: [Int]
    let conflicting: [Int]
    let alignedScores: RankedScores
    let conflictingScores: RankedScores

    public init(labels: [Bool], attributes: [Bool], scores: [Double], threshold: Double,
                counterfactualScores: [Double?]? = nil) {
        precondition(labels.count == attributes.count && labels.count == scores.count,
                     "ShortcutStatistics: \(labels.count) labels, \(attributes.count) attributes, \(scores.count) scores")
        let counterfactual = counterfactualScores ?? Array(repeating: nil, count: labels.count)
        precondition(counterfactual.count == labels.count, "ShortcutStatistics: one counterfactual score (or nil) per image")
        self.labels = labels
        self.attributes = attributes
        self.scores = scores
        self.threshold = threshold
        self.counterfactualScores = counterfactual
        all = RankedScores(labels: labels, scores: scores)
        aligned = labels.indices.filter { labels[$0] == attributes[$0] }
        conflicting = labels.indices.filter { labels[$0] != attributes[$0] }
        alignedScores = RankedScores(labels: aligned.map { labels[$0] }, scores: aligned.map { scores[$0] })
        conflictingScores = RankedScores(labels: conflicting.map { labels[$0] }, scores: conflicting.map { scores[$0] })
    }

    public var count: Int { labels.count }
    public var hasCounterfactuals: Bool { counterfactualScores.contains { $0 != nil } }

    /// The statistics in `Statistic` order on the images counted by `weights` (nil: each once); nil where undefined
    /// (a class or group absent from the resample, no counterfactuals).
    public func values(weights: [Int]? = nil) -> [Double?] {
        let w = weights ?? Array(repeating: 1, count: count)
        precondition(w.count == count, "ShortcutStatistics: \(w.count) weights for \(count) images")
        let auroc = all.areaUnderCurve(weights: w)
        let a = alignedScores.areaUnderCurve(weights: aligned.map { w[$0] })
        let c = conflictingScores.areaUnderCurve(weights: conflicting.map { w[$0] })
        let gap = a.flatMap { a in c.map { a - $0 } }
        return [auroc, gap, worstGroupAccuracy(w), sensitivity(w)]
    }

    func worstGroupAccuracy(_ w: [Int]) -> Double? {
        var right = [Int](repeating: 0, count: 4), total = [Int](repeating: 0, count: 4)
        for i in 0..<count where w[i] > 0 {
            let g = (labels[i] ? 2 : 0) + (attributes[i] ? 1 : 0)
            total[g] += w[i]
            if (scores[i] >= threshold) == labels[i] { right[g] += w[i] }
        }
        let accuracies = (0..<4).filter { total[$0] > 0 }.map { Double(right[$0]) / Double(total[$0]) }
        return accuracies.min()
    }

    func sensitivity(_ w: [Int]) -> Double? {
        var sum = 0.0, n = 0
        for i in 0..<count where w[i] > 0 {
            guard let p = counterfactualScores[i] else { continue }
            sum += Double(w[i]) * abs(p - scores[i])
            n += w[i]
        }
        return n > 0 ? sum / Double(n) : nil
    }
}
