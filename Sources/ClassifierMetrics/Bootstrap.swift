import Core
/// A percentile bootstrap interval: the `level` central range of a statistic recomputed on resamples of the images.
///
/// `lower` and `upper` are NaN when no resample gave a defined statistic (`used == 0`).
public struct BootstrapInterval: Codable, Sendable, Equatable {
    public var lower: Double
    public var upper: Double
    /// The coverage asked for (0.95 for a 95% interval).
    public var level: Double
    /// Resamples drawn.
    public var resamples: Int
    /// Resamples whose statistic was defined (the others, e.g. a resample holding one class only, are skipped).
    public var used: Int

    public init(lower: Double, upper: Double, level: Double, resamples: Int, used: Int) {
        self.lower = lower
        self.upper = upper
        self.level = level
        self.resamples = resamples
        self.used = used
    }

    public func contains(_ value: Double) -> Bool { lower <= value && value <= upper }
    public var width: Double { upper - lower }
}

/// The settings of a percentile bootstrap over images: `resamples` draws of n images with replacement from the n
/// images, from a generator seeded with `seed`, so that one seed gives one interval on every platform.
public struct Bootstrap: Sendable, Equatable {
    public var resamples: Int
    public var seed: UInt64
    public var level: Double

    public init(resamples: Int = 1000, seed: UInt64 = 0, level: Double = 0.95) {
        precondition(resamples > 0, "Bootstrap: resamples must be positive, got \(resamples)")
        precondition(level > 0 && level < 1, "Bootstrap: level must lie in (0, 1), got \(level)")
        self.resamples = resamples
        self.seed = seed
        self.level = level
    }

    /// Intervals of several statistics computed on the same resamples (so that a difference of two statistics has
    /// an interval consistent with theirs). `statistics` receives each resample as multiplicities: `weights[i]` is
    /// how often image i was drawn (the weights sum to `count`); it returns one value per statistic, nil where the
    /// statistic is undefined on that resample, which is then skipped for that statistic only.
    public func intervals(count: Int, statistics: Int, _ compute: ([Int]) -> [Double?]) -> [BootstrapInterval] {
        var samples = [[Double]](repeating: [], count: statistics)
        guard count > 0 else { return samples.map(interval) }
        var rng = SplitMix64(seed: seed)
        var weights = [Int](repeating: 0, count: count)
        for _ in 0..<resamples {
            for i in weights.indices { weights[i] = 0 }
            for _ in 0..<count { weights[rng.index(below: count)] += 1 }
            let values = compute(weights)
            precondition(values.count == statistics, "Bootstrap: \(values.count) statistics for \(statistics)")
            for (k, v) in values.enumerated() { if let v, !v.isNaN { samples[k].append(v) } }
        }
        return samples.map(interval)
    }

    /// The interval of one statistic (see `intervals`).
    public func interval(count: Int, _ compute: ([Int]) -> Double?) -> BootstrapInterval {
        intervals(count: count, statistics: 1) { [compute($0)] }[0]
    }

    func interval(_ values: [Double]) -> BootstrapInterval {
        let sorted = values.sorted()
        let tail = (1 - level) / 2
        return BootstrapInterval(lower: percentile(sorted, tail), upper: percentile(sorted, 1 - tail),
                                 level: level, resamples: resamples, used: sorted.count)
    }
}

/// The q-quantile of sorted values with numpy's default (linear) interpolation; NaN for no values.
func percentile(_ sorted: [Double], _ q: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    let h = Double(sorted.count - 1) * q
    let lo = Int(h.rounded(.down)), hi = min(lo + 1, sorted.count - 1)
    return sorted[lo] + (h - Double(lo)) * (sorted[hi] - sorted[lo])
}

/// The mean of `values` under bootstrap multiplicities.
func weightedMean(_ values: [Double], _ weights: [Int]) -> Double? {
    var sum = 0.0, n = 0
    for (v, w) in zip(values, weights) where w > 0 { sum += Double(w) * v; n += w }
    return n > 0 ? sum / Double(n) : nil
}

extension SplitMix64 {
    /// A draw from 0..<n by Lemire's multiply-shift: spelled out rather than `Int.random(in:using:)`, whose
    /// algorithm the standard library does not promise to keep, so a seed's intervals never change. The bias
    /// (at most n / 2^64) is far below anything a bootstrap can see.
    mutating func index(below n: Int) -> Int {
        Int(next().multipliedFullWidth(by: UInt64(n)).high)
    }
}
