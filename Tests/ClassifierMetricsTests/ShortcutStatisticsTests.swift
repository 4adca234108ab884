import Foundation
import Testing
@testable import ClassifierMetrics

/// The statistics a de-biasing comparison resamples: equal to the reports' own numbers, and a multiplicity equal
/// to repeating the image.
@Suite struct ShortcutStatisticsTests {
    // (y, a): 0,0 ×3, 0,1 ×2, 1,0 ×2, 1,1 ×3.
    let labels = [false, false, false, false, false, true, true, true, true, true]
    let attributes = [false, false, false, true, true, false, false, true, true, true]
    let scores = [0.1, 0.3, 0.2, 0.7, 0.4, 0.35, 0.6, 0.9, 0.8, 0.75]
    let counterfactual: [Double?] = [0.5, 0.3, 0.2, 0.1, nil, 0.95, 0.6, 0.2, 0.4, nil]

    @Test func theValuesAreTheReportsNumbers() throws {
        let s = ShortcutStatistics(labels: labels, attributes: attributes, scores: scores, threshold: 0.5,
                                   counterfactualScores: counterfactual)
        let v = s.values()
        let report = shortcutReport(labels: labels, attributes: attributes, scores: scores, threshold: 0.5, bootstrap: nil)
        #expect(v[0] == areaUnderROC(labels: labels, scores: scores))
        #expect(abs(v[1]! - report.gap.value) < 1e-12)
        #expect(v[2] == report.worstGroupAccuracy)
        // Worked by hand: group (1, 0) has 0.35 (wrong) and 0.6 (right); (0, 1) has 0.7 (wrong), 0.4 (right): 0.5.
        #expect(v[2] == 0.5)
        let pairs = counterfactual.indices.filter { counterfactual[$0] != nil }
        let sensitivity = counterfactualSensitivity(original: pairs.map { scores[$0] }, counterfactual: pairs.map { counterfactual[$0]! },
                                                    threshold: 0.5, bootstrap: nil)
        #expect(abs(v[3]! - sensitivity.meanAbsoluteShift.value) < 1e-12)
        #expect(ShortcutStatistics(labels: labels, attributes: attributes, scores: scores, threshold: 0.5).values()[3] == nil)
    }

    @Test func aMultiplicityCountsAsRepeatedImages() {
        var weights = [Int](repeating: 1, count: labels.count)
        weights[3] = 3
        weights[6] = 0
        let weighted = ShortcutStatistics(labels: labels, attributes: attributes, scores: scores, threshold: 0.5,
                                          counterfactualScores: counterfactual).values(weights: weights)
        var l: [Bool] = [], a: [Bool] = [], s: [Double] = [], c: [Double?] = []
        for i in labels.indices { for _ in 0..<weights[i] { l.append(labels[i]); a.append(attributes[i]); s.append(scores[i]); c.append(counterfactual[i]) } }
        let repeated = ShortcutStatistics(labels: l, attributes: a, scores: s, threshold: 0.5, counterfactualScores: c).values()
        for (x, y) in zip(weighted, repeated) { #expect(abs(x! - y!) < 1e-12) }
        // A resample without a conflicting positive has no gap.
        let none = ShortcutStatistics(labels: labels, attributes: attributes, scores: scores, threshold: 0.5)
            .values(weights: [1, 1, 1, 1, 1, 0, 0, 1, 1, 1])
        #expect(none[1] == nil && none[0] != nil)
    }
}
