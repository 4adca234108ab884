import Foundation
import Imaging

/// The numbers that say whether a counterfactual did its job, on images in [0, 1].
public enum EditMetrics {
    /// Peak signal-to-noise ratio in dB for signals in [0, 1]; infinity when identical.
    public static func psnr(_ a: Plane, _ b: Plane) -> Double {
        let mse = meanSquared(a.values, b.values, where: nil)
        return mse == 0 ? .infinity : 10 * log10(1 / mse)
    }

    static func meanSquared(_ a: [Float], _ b: [Float], where mask: [Bool]?) -> Double {
        precondition(a.count == b.count)
        var sum = 0.0, n = 0
        for i in a.indices where mask?[i] ?? true {
            let d = Double(a[i]) - Double(b[i])
            sum += d * d
            n += 1
        }
        return n == 0 ? 0 : sum / Double(n)
    }

    /// Mean |a − b| over the pixels where `mask` is true (all when nil); 0 when no pixel is selected.
    public static func meanAbsolute(_ a: Plane, _ b: Plane, where mask: [Bool]? = nil) -> Double {
        precondition(a.values.count == b.values.count)
        var sum = 0.0, n = 0
        for i in a.values.indices where mask?[i] ?? true {
            sum += abs(Double(a.values[i]) - Double(b.values[i]))
            n += 1
        }
        return n == 0 ? 0 : sum / Double(n)
    }

    /// Against a ground-truth counterfactual: how much of the way from the input to the truth the edit went,
    /// and how much it disturbed what should not change.
    public struct GroundTruthScore: Sendable, Codable, Equatable {
        /// 1 − mean|edit − truth| / mean|input − truth| inside the change mask: 1 is a perfect edit, 0 no edit,
        /// negative an edit that went the wrong way. (The target is ≥ 0.5.)
        public var gapClosed: Double
        /// Mean |edit − input| outside the change mask dilated by `margin` pixels (the target is ≤ 1/255).
        public var changeOutside: Double
        /// Mean |edit − input| inside the change mask.
        public var changeInside: Double
        /// Pixels in the change mask, as a fraction of the image.
        public var changeArea: Double
        public var margin: Int
    }

    /// Scores an edit against the phantom's ground truth; `changeMask` is where the truth differs from the
    /// input (> 0.5).
    public static func score(input: Plane, edit: Plane, truth: Plane, changeMask: Plane, margin: Int = 8) -> GroundTruthScore {
        let inside = changeMask.values.map { $0 > 0.5 }
        let outside = changeMask.thresholded(0.5).dilated(radius: margin).values.map { $0 <= 0.5 }
        let gap = meanAbsolute(input, truth, where: inside)
        let remaining = meanAbsolute(edit, truth, where: inside)
        return GroundTruthScore(gapClosed: gap > 0 ? 1 - remaining / gap : 0,
                                changeOutside: meanAbsolute(edit, input, where: outside),
                                changeInside: meanAbsolute(edit, input, where: inside),
                                changeArea: changeMask.area, margin: margin)
    }
}
