import ClassifierMetrics
import Foundation

/// One trained classifier's numbers on the test set.
public struct DebiasRunMetrics: Codable, Sendable {
    public var method: String
    public var seed: Int
    public var threshold: Double
    public var auroc: AUROCEstimate
    public var shortcut: ShortcutReport
    /// The label's shift between each test image and its true counterfactual (phantom only).
    public var sensitivity: CounterfactualSensitivity?
}

/// A number over the seeds: their mean, its bootstrap interval over test images (each resample scores every seed's
/// classifier on the same images), the standard deviation over seeds and the per-seed values.
public struct SeedEstimate: Codable, Sendable {
    public var value: Double
    public var ciLow: Double
    public var ciHigh: Double
    public var seedSd: Double
    public var seeds: [Double]
}

/// 1 − bias(method) / bias(baseline), for the AUROC gap and the counterfactual sensitivity.
public struct BiasReduction: Codable, Sendable {
    public var aurocGap: SeedEstimate
    public var sensitivity: SeedEstimate?
}

public struct DebiasMethodMetrics: Codable, Sendable {
    public var description: String
    public var trainingImages: Int
    public var auroc: SeedEstimate
    public var aurocGap: SeedEstimate
    public var worstGroupAccuracy: SeedEstimate
    public var sensitivity: SeedEstimate?
    public var biasReduction: BiasReduction?
}

/// metrics.json of an experiment.
public struct DebiasMetrics: Codable, Sendable {
    public var label: String
    public var attribute: String
    public var source: String
    public var testImages: Int
    public var testPairs: Int
    public var seeds: Int
    public var bootstrapResamples: Int
    public var methods: [String: DebiasMethodMetrics]
    public var runs: [DebiasRunMetrics]
    public var seconds: [String: Double]
}

/// The comparison of the methods: per method the seed-mean of each statistic with an interval from resampling the
/// test images (all classifiers on the same resamples), and each method's bias reduction against the baseline.
public enum DebiasComparison {
    /// `scores[method][seed]`: each trained classifier's statistics on the same test images.
    public static func compare(_ scores: [(method: DebiasMethod, runs: [ShortcutStatistics])],
                               bootstrap: Bootstrap) -> [DebiasMethod: (statistics: [SeedEstimate?], reduction: BiasReduction?)] {
        let statistics = ShortcutStatistics.Statistic.allCases.count
        let baseline = scores.first { $0.method == .baseline }?.runs
        let count = scores.first?.runs.first?.count ?? 0
        var out: [DebiasMethod: (statistics: [SeedEstimate?], reduction: BiasReduction?)] = [:]
        for (method, runs) in scores {
            let paired = method != .baseline ? baseline.map { Array(zip(runs, $0)) } : nil
            // Per resample: the statistics averaged over seeds, then the reductions of the gap and the sensitivity.
            func compute(_ weights: [Int]?) -> [Double?] {
                let perSeed = runs.map { $0.values(weights: weights) }
                var values = (0..<statistics).map { k in mean(perSeed.map { $0[k] }) }
                if let paired {
                    let base = paired.map { $0.1.values(weights: weights) }
                    for k in [ShortcutStatistics.Statistic.aurocGap.rawValue, ShortcutStatistics.Statistic.sensitivity.rawValue] {
                        values.append(reduction(values[k], mean(base.map { $0[k] })))
                    }
                }
                return values
            }
            let point = compute(nil)
            let intervals = bootstrap.intervals(count: count, statistics: point.count) { compute($0) }
            // Spread over seeds: each seed's own value, and its own reduction against the baseline of the same seed.
            let perSeed = runs.map { $0.values() }
            let seedReductions: [[Double?]] = paired.map { pairs in
                pairs.map { run, base in
                    let r = run.values(), b = base.values()
                    return [ShortcutStatistics.Statistic.aurocGap, .sensitivity].map { reduction(r[$0.rawValue], b[$0.rawValue]) }
                }
            } ?? []
            func estimate(_ k: Int, seeds: [Double?]) -> SeedEstimate? {
                guard let v = point[k] else { return nil }
                let values = seeds.map { $0 ?? .nan }
                return SeedEstimate(value: v, ciLow: intervals[k].lower, ciHigh: intervals[k].upper,
                                    seedSd: standardDeviation(values), seeds: values)
            }
            let estimates = (0..<statistics).map { k in estimate(k, seeds: perSeed.map { $0[k] }) }
            var cut: BiasReduction?
            if paired != nil, let gap = estimate(statistics, seeds: seedReductions.map { $0[0] }) {
                cut = BiasReduction(aurocGap: gap, sensitivity: estimate(statistics + 1, seeds: seedReductions.map { $0[1] }))
            }
            out[method] = (estimates, cut)
        }
        return out
    }

    /// 1 − value / baseline; nil when either is undefined or the baseline shows no bias to reduce.
    static func reduction(_ value: Double?, _ baseline: Double?) -> Double? {
        guard let value, let baseline, baseline > 0 else { return nil }
        return 1 - value / baseline
    }

    static func mean(_ values: [Double?]) -> Double? {
        let v = values.compactMap { $0 }
        return v.count == values.count && !v.isEmpty ? v.reduce(0, +) / Double(v.count) : nil
    }

    static func standardDeviation(_ values: [Double]) -> Double {
        let v = values.filter { !$0.isNaN }
        guard v.count > 1 else { return 0 }
        let m = v.reduce(0, +) / Double(v.count)
        return (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count - 1)).squareRoot()
    }
}
