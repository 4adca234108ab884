/// How well predicted values match the true ones (a classifier's regressed age against the patients' ages): the
/// mean absolute error and Pearson's correlation with percentile bootstrap intervals over the images, the mean
/// signed error (bias) and the root mean squared error, and the MAE of a constant prediction to beat.
public struct RegressionMetrics: Codable, Sendable {
    /// Images with a known true value.
    public var count: Int
    /// mean |predicted − true|, in the target's units.
    public var meanAbsoluteError: Estimate
    /// Pearson's r between predicted and true values (NaN when either is constant).
    public var correlation: Estimate
    /// mean (predicted − true): positive when the predictions run high.
    public var bias: Double
    /// sqrt(mean (predicted − true)²).
    public var rootMeanSquaredError: Double
    /// The MAE of predicting `constant` for every image (the training images' mean for a classifier): a regressor
    /// that learned nothing scores about this.
    public var constant: Double
    public var constantMAE: Double
}

/// Regression metrics of `predicted` against `truth` (paired by image), bootstrapped over the images; `constant`
/// (default: the mean of `truth`) gives the baseline MAE.
public func regressionMetrics(truth: [Double], predicted: [Double], constant: Double? = nil,
                              bootstrap: Bootstrap? = Bootstrap()) -> RegressionMetrics {
    precondition(truth.count == predicted.count, "regressionMetrics: \(truth.count) values for \(predicted.count) predictions")
    let n = truth.count, all = [Int](repeating: 1, count: n)
    let errors = zip(predicted, truth).map { $0 - $1 }
    let absolute = errors.map(abs)
    let c = constant ?? (weightedMean(truth, all) ?? .nan)
    let mae = weightedMean(absolute, all) ?? .nan
    let r = weightedCorrelation(truth, predicted, all) ?? .nan
    let intervals: [BootstrapInterval?] = if let bootstrap, n > 0 {
        bootstrap.intervals(count: n, statistics: 2) { w in [weightedMean(absolute, w), weightedCorrelation(truth, predicted, w)] }
    } else {
        [nil, nil]
    }
    return RegressionMetrics(count: n, meanAbsoluteError: Estimate(value: mae, interval: intervals[0]),
                             correlation: Estimate(value: r, interval: r.isNaN ? nil : intervals[1]),
                             bias: weightedMean(errors, all) ?? .nan,
                             rootMeanSquaredError: (weightedMean(errors.map { $0 * $0 }, all) ?? .nan).squareRoot(),
                             constant: c, constantMAE: weightedMean(truth.map { abs($0 - c) }, all) ?? .nan)
}

/// Pearson's correlation of `x` and `y` under bootstrap multiplicities; nil with no images or a constant series.
func weightedCorrelation(_ x: [Double], _ y: [Double], _ weights: [Int]) -> Double? {
    guard let mx = weightedMean(x, weights), let my = weightedMean(y, weights) else { return nil }
    var sxy = 0.0, sxx = 0.0, syy = 0.0
    for ((a, b), w) in zip(zip(x, y), weights) where w > 0 {
        let dx = a - mx, dy = b - my, wd = Double(w)
        sxy += wd * dx * dy
        sxx += wd * dx * dx
        syy += wd * dy * dy
    }
    guard sxx > 0, syy > 0 else { return nil }
    return sxy / (sxx * syy).squareRoot()
}
