/// A statistic with its bootstrap interval.
public struct Estimate: Codable, Sendable {
    /// NaN when there are no images.
    public var value: Double
    /// nil when no bootstrap was asked for or there are no images.
    public var interval: BootstrapInterval?

    public init(value: Double, interval: BootstrapInterval?) {
        self.value = value
        self.interval = interval
    }
}

/// How a classifier's probability for one label moves when each image is replaced by its counterfactual:
/// p on the original, p' on the counterfactual, paired by image.
public struct CounterfactualSensitivity: Codable, Sendable {
    public var count: Int
    public var threshold: Double
    /// mean |p' − p|.
    public var meanAbsoluteShift: Estimate
    /// mean (p' − p): the direction the edit pushes the prediction.
    public var meanSignedShift: Estimate
    /// The fraction of images whose prediction (p >= threshold) changes.
    public var flipRate: Estimate
}

/// Counterfactual sensitivity of one label's probabilities with bootstrap intervals over the image pairs.
public func counterfactualSensitivity(original: [Double], counterfactual: [Double], threshold: Double,
                                      bootstrap: Bootstrap? = Bootstrap()) -> CounterfactualSensitivity {
    precondition(original.count == counterfactual.count,
                 "counterfactualSensitivity: \(original.count) originals for \(counterfactual.count) counterfactuals")
    let shifts = zip(original, counterfactual).map { $1 - $0 }
    let series = [shifts.map(abs), shifts,
                  zip(original, counterfactual).map { ($0 >= threshold) != ($1 >= threshold) ? 1.0 : 0.0 }]
    let n = original.count
    let values = series.map { s in n == 0 ? Double.nan : s.reduce(0, +) / Double(n) }
    let intervals: [BootstrapInterval?] = if let bootstrap, n > 0 {
        bootstrap.intervals(count: n, statistics: series.count) { w in series.map { weightedMean($0, w) } }
    } else {
        [nil, nil, nil]
    }
    let estimates = zip(values, intervals).map { Estimate(value: $0, interval: $1) }
    return CounterfactualSensitivity(count: n, threshold: threshold, meanAbsoluteShift: estimates[0],
                                     meanSignedShift: estimates[1], flipRate: estimates[2])
}
