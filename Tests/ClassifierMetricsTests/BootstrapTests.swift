import Foundation
import Testing
@testable import ClassifierMetrics
import Core

/// n images whose positive scores sit `separation` above the negatives', with noise, from a fixed seed.
func syntheticScores(count: Int, separation: Double = 0.8, seed: UInt64 = 7) -> (labels: [Bool], scores: [Double]) {
    var rng = SplitMix64(seed: seed)
    let labels = (0..<count).map { $0 % 2 == 0 }
    let scores = labels.map { y in (y ? separation : 0) + Double(rng.next() % 1000) / 1000 }
    return (labels, scores)
}

@Suite struct BootstrapTests {
    @Test func percentilesInterpolateAsNumpy() {
        // numpy.percentile([1, 2, 3, 4], [2.5, 50, 97.5]) = 1.075, 2.5, 3.925
        #expect(abs(percentile([1, 2, 3, 4], 0.025) - 1.075) < 1e-12)
        #expect(percentile([1, 2, 3, 4], 0.5) == 2.5)
        #expect(abs(percentile([1, 2, 3, 4], 0.975) - 3.925) < 1e-12)
        #expect(percentile([5], 0.975) == 5)
        #expect(percentile([], 0.5).isNaN)
    }

    @Test func resamplesDrawEveryImageCountTimes() {
        var total = 0
        _ = Bootstrap(resamples: 3).interval(count: 50) { weights in
            total += weights.reduce(0, +)
            return 0
        }
        #expect(total == 150)
    }

    @Test func intervalHoldsTheEstimateAndIsReproducibleForOneSeed() {
        let (labels, scores) = syntheticScores(count: 200)
        let a = estimateAUROC(labels: labels, scores: scores, bootstrap: Bootstrap(resamples: 300, seed: 3))
        let b = estimateAUROC(labels: labels, scores: scores, bootstrap: Bootstrap(resamples: 300, seed: 3))
        let c = estimateAUROC(labels: labels, scores: scores, bootstrap: Bootstrap(resamples: 300, seed: 4))
        let interval = try! #require(a.interval)
        #expect(interval.contains(a.value) && interval.width > 0, "\(a.value) in \(interval)")
        #expect(interval.used == 300 && interval.level == 0.95)
        #expect(a.interval == b.interval)
        #expect(a.interval != c.interval)
    }

    @Test func intervalNarrowsWithMoreImages() {
        let settings = Bootstrap(resamples: 300, seed: 1)
        let small = estimateAUROC(labels: syntheticScores(count: 100).labels, scores: syntheticScores(count: 100).scores,
                                  bootstrap: settings)
        let large = syntheticScores(count: 1600)
        let wide = estimateAUROC(labels: large.labels, scores: large.scores, bootstrap: settings)
        // The width shrinks as 1/√n: 16 times the images, about a quarter of the width.
        #expect(wide.interval!.width < small.interval!.width / 2, "\(small.interval!) vs \(wide.interval!)")
    }

    @Test func resamplesWithOneClassAreSkipped() {
        // One positive among 20: about (19/20)^20 ≈ 36% of resamples miss it.
        let labels = (0..<20).map { $0 == 0 }, scores = (0..<20).map { Double($0) / 20 }
        let interval = estimateAUROC(labels: labels, scores: scores, bootstrap: Bootstrap(resamples: 500)).interval!
        #expect(interval.used < 400 && interval.used > 200 && interval.resamples == 500, "\(interval)")
    }

    @Test func undefinedAUROCSaysWhyAndHasNoInterval() {
        let one = estimateAUROC(labels: [true, true, true], scores: [0.1, 0.5, 0.9])
        #expect(one.value.isNaN && one.interval == nil && one.positives == 3 && one.negatives == 0)
        #expect(one.undefinedReason?.contains("only positive images") == true)
        let empty = estimateAUROC(labels: [], scores: [])
        #expect(empty.value.isNaN && empty.undefinedReason == "no images")
        let nan = estimateAUROC(labels: [true, false], scores: [.nan, 0.5])
        #expect(nan.value.isNaN && nan.undefinedReason == "1 scores are NaN")
        #expect(areaUnderROC(labels: [false, false], scores: [0.2, 0.3]) == nil)
        #expect(areaUnderROC(labels: [true, false], scores: [.nan, 0.3]) == nil)
    }
}
