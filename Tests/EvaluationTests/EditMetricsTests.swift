import Foundation
import Imaging
import Testing
@testable import Evaluation

@Suite struct EditMetricsTests {
    @Test func psnrAndGroundTruthScores() {
        let a = Plane(width: 10, height: 10, fill: 0.5)
        let b = Plane(width: 10, height: 10, fill: 0.6)
        #expect(abs(EditMetrics.psnr(a, b) - 20) < 1e-4)
        #expect(EditMetrics.psnr(a, a) == .infinity)

        var truth = Plane(width: 30, height: 30, fill: 0.2)
        var change = Plane(width: 30, height: 30)
        for y in 10..<15 { for x in 10..<15 { truth[x, y] = 0.8; change[x, y] = 1 } }
        let input = Plane(width: 30, height: 30, fill: 0.2)
        let perfect = EditMetrics.score(input: input, edit: truth, truth: truth, changeMask: change)
        #expect(perfect.gapClosed == 1 && perfect.changeOutside == 0 && abs(perfect.changeArea - 25.0 / 900) < 1e-12)
        #expect(EditMetrics.score(input: input, edit: input, truth: truth, changeMask: change).gapClosed == 0)

        var halfway = input
        for y in 10..<15 { for x in 10..<15 { halfway[x, y] = 0.5 } }
        halfway[0, 0] = 0.3
        let s = EditMetrics.score(input: input, edit: halfway, truth: truth, changeMask: change, margin: 8)
        #expect(abs(s.gapClosed - 0.5) < 1e-6)
        // Only (0, 0) changed outside the 8-pixel margin: 0.1 spread over the pixels there.
        let outsideCount = 900 - 21 * 21
        #expect(abs(s.changeOutside - 0.1 / Double(outsideCount)) < 1e-7)
    }
}
