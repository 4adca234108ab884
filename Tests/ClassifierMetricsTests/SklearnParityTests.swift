import Core
import Foundation
import Testing
@testable import ClassifierMetrics

/// One case of Fixtures/classifier_metrics.json (scripts/make_classifier_metric_fixtures.py, scikit-learn 1.9).
struct SklearnCase: Decodable {
    struct Curve: Decodable { let fpr: [Double], tpr: [Double], thresholds: [Double] }
    struct AtThreshold: Decodable { let threshold, accuracy, f1, sensitivity, specificity: Double }
    struct CalibrationCurve: Decodable { let bins: Int, ece: Double, counts: [Int], probTrue: [Double], probPred: [Double] }
    let name: String
    let labels: [Int]
    let scores: [Double]
    let auroc: Double?
    let roc: Curve
    let rocFull: Curve
    let youdenThreshold: Double?
    let f1Threshold: Double?
    let atThresholds: [AtThreshold]
    let calibration: [CalibrationCurve]

    var binaryLabels: [Bool] { labels.map { $0 == 1 } }

    static let all: [SklearnCase] = {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
            .appendingPathComponent("classifier_metrics.json")
        return try! MetricsJSON.decode([SklearnCase].self, from: JSONFile.read(url), source: url.path)
    }()
}

/// The largest |a − b| over paired values, NaN matching NaN and +∞ matching +∞; .infinity on a length mismatch
/// or where only one side is NaN or infinite.
func maxDifference(_ a: [Double], _ b: [Double]) -> Double {
    guard a.count == b.count else { return .infinity }
    return zip(a, b).map { x, y in
        if x.isNaN || y.isNaN { return x.isNaN && y.isNaN ? 0 : .infinity }
        if x.isInfinite || y.isInfinite { return x == y ? 0 : .infinity }
        return abs(x - y)
    }.max() ?? 0
}

@Suite struct SklearnParityTests {
    static let tolerance = 1e-12

    @Test(arguments: SklearnCase.all.map(\.name))
    func aurocAndROCCurveMatchScikitLearn(_ name: String) {
        let c = SklearnCase.all.first { $0.name == name }!
        let auroc = areaUnderROC(labels: c.binaryLabels, scores: c.scores)
        if let expected = c.auroc {
            #expect(auroc.map { abs($0 - expected) <= Self.tolerance } == true, "\(name): \(String(describing: auroc)) vs \(expected)")
        } else {
            #expect(auroc == nil)
        }
        for (drop, expected) in [(true, c.roc), (false, c.rocFull)] {
            let roc = rocCurve(labels: c.binaryLabels, scores: c.scores, dropIntermediate: drop)
            #expect(maxDifference(roc.falsePositiveRate, expected.fpr) <= Self.tolerance, "\(name) drop \(drop): fpr")
            #expect(maxDifference(roc.truePositiveRate, expected.tpr) <= Self.tolerance, "\(name) drop \(drop): tpr")
            #expect(maxDifference(roc.thresholds, expected.thresholds) == 0, "\(name) drop \(drop): thresholds")
        }
    }

    @Test(arguments: SklearnCase.all.map(\.name))
    func thresholdsAndMetricsAtThemMatchScikitLearn(_ name: String) {
        let c = SklearnCase.all.first { $0.name == name }!
        #expect(youdenThreshold(labels: c.binaryLabels, scores: c.scores)?.threshold == c.youdenThreshold)
        #expect(maxF1Threshold(labels: c.binaryLabels, scores: c.scores)?.threshold == c.f1Threshold)
        for expected in c.atThresholds {
            let m = thresholdMetrics(labels: c.binaryLabels, scores: c.scores, threshold: expected.threshold)
            let difference = maxDifference([m.accuracy, m.f1, m.sensitivity, m.specificity],
                                           [expected.accuracy, expected.f1, expected.sensitivity, expected.specificity])
            #expect(difference <= Self.tolerance, "\(name) at \(expected.threshold): \(m) vs \(expected)")
        }
    }

    @Test(arguments: SklearnCase.all.map(\.name))
    func calibrationMatchesScikitLearnsCalibrationCurve(_ name: String) {
        let c = SklearnCase.all.first { $0.name == name }!
        for expected in c.calibration {
            let summary = calibrationSummary(labels: c.binaryLabels, probabilities: c.scores, bins: expected.bins)
            let filled = summary.bins.filter { $0.count > 0 }
            #expect(filled.map(\.count) == expected.counts, "\(name), \(expected.bins) bins")
            #expect(maxDifference(filled.map(\.observedFrequency), expected.probTrue) <= Self.tolerance)
            #expect(maxDifference(filled.map(\.meanProbability), expected.probPred) <= Self.tolerance)
            #expect(abs(summary.expectedCalibrationError - expected.ece) <= Self.tolerance,
                    "\(name), \(expected.bins) bins: ECE \(summary.expectedCalibrationError) vs \(expected.ece)")
        }
    }

    /// The agreement over every case and number, printed for the record (the tests above hold it to 1e-12).
    @Test func largestDifferenceFromScikitLearn() {
        var worst = 0.0
        for c in SklearnCase.all {
            if let a = c.auroc { worst = max(worst, abs(areaUnderROC(labels: c.binaryLabels, scores: c.scores)! - a)) }
            for m in c.atThresholds {
                let s = thresholdMetrics(labels: c.binaryLabels, scores: c.scores, threshold: m.threshold)
                worst = max(worst, maxDifference([s.accuracy, s.f1, s.sensitivity, s.specificity],
                                                 [m.accuracy, m.f1, m.sensitivity, m.specificity]))
            }
            for e in c.calibration {
                worst = max(worst, abs(expectedCalibrationError(labels: c.binaryLabels, probabilities: c.scores,
                                                                bins: e.bins) - e.ece))
            }
        }
        print("classifier metrics: largest difference from scikit-learn \(worst)")
        #expect(worst <= Self.tolerance)
    }
}
