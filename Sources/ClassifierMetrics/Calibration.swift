/// One equal-width bin of predicted probabilities.
public struct CalibrationBin: Codable, Sendable {
    /// The bin is (lower, upper]; the first bin also holds 0.
    public var lower: Double
    public var upper: Double
    public var count: Int
    /// The mean predicted probability of the bin's images (NaN when empty).
    public var meanProbability: Double
    /// The fraction of the bin's images whose label is positive (NaN when empty).
    public var observedFrequency: Double
}

/// The calibration of a binary classifier's positive-class probabilities: the bins of a reliability diagram and
/// the expected calibration error.
///
/// ECE (Guo et al. 2017, "On Calibration of Modern Neural Networks", eq. 3, with M equal-width bins):
///
///     ECE = Σ_m |B_m| / n · |freq(B_m) − conf(B_m)|
///
/// where, for binary labels, conf(B_m) is the mean predicted probability of the *positive class* over the bin and
/// freq(B_m) the fraction of positive labels in it (the binning of scikit-learn's `calibration_curve`, strategy
/// "uniform"), not the top-label form that bins max(p, 1 − p) against the accuracy of the predicted class. Bins
/// are B_m = ((m − 1)/M, m/M] with 0 in the first, the edges computed as numpy's `linspace(0, 1, M + 1)`, so that a
/// probability on an edge falls where scikit-learn puts it. Empty bins contribute nothing. Probabilities outside
/// [0, 1] are counted in the first or last bin.
public struct Calibration: Codable, Sendable {
    public var bins: [CalibrationBin]
    public var expectedCalibrationError: Double
    public var count: Int
}

/// The calibration bins and ECE of `probabilities` (of the positive class) against `labels`; see `Calibration`.
/// With no images the ECE is NaN.
public func calibrationSummary(labels: [Bool], probabilities: [Double], bins: Int = 15) -> Calibration {
    precondition(bins > 0, "calibrationSummary: bins must be positive, got \(bins)")
    precondition(labels.count == probabilities.count,
                 "calibrationSummary: \(labels.count) labels for \(probabilities.count) probabilities")
    let edges = calibrationBinEdges(bins)
    var counts = [Int](repeating: 0, count: bins), positives = counts
    var sums = [Double](repeating: 0, count: bins)
    for (y, p) in zip(labels, probabilities) {
        let m = calibrationBin(of: p, edges: edges)
        counts[m] += 1
        sums[m] += p
        if y { positives[m] += 1 }
    }
    let n = Double(labels.count)
    var ece = 0.0
    let summary = (0..<bins).map { m -> CalibrationBin in
        let confidence = sums[m] / Double(counts[m]), frequency = Double(positives[m]) / Double(counts[m])
        if counts[m] > 0 { ece += Double(counts[m]) / n * abs(frequency - confidence) }
        return CalibrationBin(lower: edges[m], upper: edges[m + 1], count: counts[m],
                              meanProbability: counts[m] > 0 ? confidence : .nan,
                              observedFrequency: counts[m] > 0 ? frequency : .nan)
    }
    return Calibration(bins: summary, expectedCalibrationError: labels.isEmpty ? .nan : ece, count: labels.count)
}

/// The expected calibration error alone (see `Calibration` for the definition).
public func expectedCalibrationError(labels: [Bool], probabilities: [Double], bins: Int = 15) -> Double {
    calibrationSummary(labels: labels, probabilities: probabilities, bins: bins).expectedCalibrationError
}

/// numpy's `linspace(0, 1, M + 1)`: i · (1/M), the last edge exactly 1.
func calibrationBinEdges(_ bins: Int) -> [Double] {
    let step = 1.0 / Double(bins)
    return (0...bins).map { $0 == bins ? 1 : Double($0) * step }
}

/// The bin of p: the number of inner edges below it (numpy's `searchsorted(edges[1:-1], p)`, side "left").
func calibrationBin(of p: Double, edges: [Double]) -> Int {
    var lo = 0, hi = edges.count - 2
    while lo < hi {
        let mid = (lo + hi) / 2
        if edges[mid + 1] < p { lo = mid + 1 } else { hi = mid }
    }
    return lo
}
