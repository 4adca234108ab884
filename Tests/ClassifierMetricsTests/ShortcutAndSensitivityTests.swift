import Foundation
import Testing
@testable import ClassifierMetrics

@Suite struct ShortcutAndSensitivityTests {
    /// Labels and an attribute that agree on 12 images and disagree on 8.
    static let labels: [Bool] = [true, true, true, true, true, true, false, false, false, false, false, false,
                                 true, true, true, true, false, false, false, false]
    static let attributes: [Bool] = Array(labels[0..<12]) + [false, false, false, false, true, true, true, true]

    @Test func aClassifierThatOutputsTheAttributeIsPerfectWhereItAgreesAndInvertedWhereNot() {
        let scores = Self.attributes.enumerated().map { i, a in (a ? 0.8 : 0.2) + Double(i) * 0.001 }
        let r = shortcutReport(labels: Self.labels, attributes: Self.attributes, scores: scores, threshold: 0.5,
                               bootstrap: Bootstrap(resamples: 200))
        #expect(r.aligned.value == 1 && r.conflicting.value == 0 && r.gap.value == 1)
        #expect(r.aligned.positives == 6 && r.aligned.negatives == 6)
        #expect(r.conflicting.positives == 4 && r.conflicting.negatives == 4)
        // Every resample of a perfect (inverted) ranking is perfect (inverted): the intervals are points.
        #expect(r.aligned.interval?.lower == 1 && r.conflicting.interval?.upper == 0)
        #expect(r.gap.interval?.lower == 1 && r.gap.interval?.upper == 1)
        #expect(r.groups.map(\.count) == [6, 4, 4, 6])
        #expect(r.groups.map(\.accuracy) == [1, 0, 0, 1])
        #expect(r.groups.map(\.label) == [false, false, true, true] && r.groups.map(\.attribute) == [false, true, false, true])
        #expect(r.worstGroupAccuracy == 0)
    }

    @Test func aClassifierThatIgnoresTheAttributeHasNoGap() {
        let scores = Self.labels.enumerated().map { i, y in (y ? 0.7 : 0.3) + Double(i % 3) * 0.01 }
        let r = shortcutReport(labels: Self.labels, attributes: Self.attributes, scores: scores, threshold: 0.5,
                               bootstrap: nil)
        #expect(r.aligned.value == 1 && r.conflicting.value == 1 && r.gap.value == 0)
        #expect(r.worstGroupAccuracy == 1 && r.aligned.interval == nil)
    }

    @Test func anEmptyGroupIsLeftOutOfTheWorstGroupAndMakesItsAUROCUndefined() {
        // No conflicting images at all.
        let labels: [Bool] = [true, false, true, false]
        let r = shortcutReport(labels: labels, attributes: labels, scores: [0.9, 0.1, 0.4, 0.6], threshold: 0.5,
                               bootstrap: Bootstrap(resamples: 50))
        #expect(r.groups.map(\.count) == [2, 0, 0, 2] && r.groups[1].accuracy.isNaN)
        #expect(r.worstGroupAccuracy == 0.5)
        #expect(r.aligned.value == 0.75 && r.aligned.interval != nil)
        #expect(r.conflicting.value.isNaN && r.conflicting.undefinedReason == "no images" && r.conflicting.interval == nil)
        #expect(r.gap.value.isNaN && r.gap.interval == nil)
    }

    @Test func sensitivityMeansAndFlipsOfPairedProbabilities() {
        // Up without a flip, down across the threshold, no change, down twice without a flip, up across it, and down
        // from exactly the threshold (0.5 is positive, 0.49 not): 3 flips among 7, 4 falls.
        let s = counterfactualSensitivity(original: [0.2, 0.6, 0.4, 0.9, 0.45, 0.5, 0.7],
                                          counterfactual: [0.3, 0.4, 0.4, 0.8, 0.55, 0.49, 0.65],
                                          threshold: 0.5, bootstrap: Bootstrap(resamples: 400))
        #expect(abs(s.meanAbsoluteShift.value - 0.56 / 7) < 1e-12)
        #expect(abs(s.meanSignedShift.value - -0.16 / 7) < 1e-12)
        #expect(s.flipRate.value == 3.0 / 7 && s.count == 7)
        for e in [s.meanAbsoluteShift, s.meanSignedShift, s.flipRate] {
            #expect(e.interval!.contains(e.value) && e.interval!.used == 400)
        }
        #expect(s.flipRate.interval!.lower >= 0 && s.flipRate.interval!.upper <= 1 && s.flipRate.interval!.upper > 3.0 / 7)
    }

    @Test func noChangeMeansNoShiftAndNoFlip() {
        let p = [0.1, 0.5, 0.7]
        let s = counterfactualSensitivity(original: p, counterfactual: p, threshold: 0.5, bootstrap: Bootstrap(resamples: 20))
        #expect(s.meanAbsoluteShift.value == 0 && s.meanSignedShift.value == 0 && s.flipRate.value == 0)
        #expect(s.flipRate.interval?.upper == 0)
        let empty = counterfactualSensitivity(original: [], counterfactual: [], threshold: 0.5)
        #expect(empty.flipRate.value.isNaN && empty.flipRate.interval == nil)
    }
}
