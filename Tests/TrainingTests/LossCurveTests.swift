import Foundation
import Imaging
import Testing
@testable import Training

@Suite struct LossCurveTests {
    @Test func runningMeanIsCentredAndShrinksAtTheEnds() {
        #expect(LossCurve.smoothed([1, 2, 3, 4, 5], window: 3) == [1.5, 2, 3, 4, 4.5])
        #expect(LossCurve.smoothed([2, 2, 2], window: 5) == [2, 2, 2])
        #expect(LossCurve.smoothed([1, 5], window: 1) == [1, 5])
    }

    @Test func curveFallsFromTopLeftToBottomRight() {
        let points = (1...50).map { (Double($0), 1.0 / Double($0)) }
        let image = LossCurve(points: points).image()
        #expect(image.width == 640 && image.height == 360 && image.channels == 1)
        // The smoothed curve (black) is near the top of the plot at the left and near the bottom at the right.
        func darkRows(x: Int) -> [Int] { (14..<330).filter { image[x, $0, 0] < 40 } }
        let left = darkRows(x: 60), right = darkRows(x: 620)
        #expect(!left.isEmpty && !right.isEmpty)
        #expect(left.min()! < 180 && right.max()! > 280, "left \(left) right \(right)")
    }
}
