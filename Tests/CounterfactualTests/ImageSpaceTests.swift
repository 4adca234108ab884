import Foundation
import Testing
@testable import Counterfactual

@Suite struct ImageSpaceTests {
    func dot(_ w: Int, _ h: Int, at points: [(Int, Int)]) -> Plane {
        var p = Plane(width: w, height: h)
        for (x, y) in points { p[x, y] = 1 }
        return p
    }

    @Test func dilationIsASquareOfTheRadius() {
        let d = dot(9, 9, at: [(4, 4)]).dilated(radius: 2)
        #expect(d.values.filter { $0 == 1 }.count == 25)
        #expect(d[2, 2] == 1 && d[6, 6] == 1 && d[1, 4] == 0)
    }

    @Test func featheredMaskIsOneInsideAndExactlyZeroBeyondTheFeather() {
        let mask = dot(40, 40, at: [(20, 20), (21, 20), (20, 21), (21, 21)])
        let soft = PixelBlend.feathered(mask, feather: 6)
        #expect(soft[20, 20] == 1 && soft[21, 21] == 1)
        #expect(soft[23, 20] > 0 && soft[23, 20] < 1, "it falls off outside the mask")
        for y in 0..<40 { for x in 0..<40 where abs(x - 20) > 7 || abs(y - 20) > 7 { #expect(soft[x, y] == 0) } }
        #expect(soft[24, 20] <= soft[23, 20], "monotone away from the mask")
    }

    @Test func gridLaysPlanesOutInRowsWithGaps() {
        let a = Plane(width: 2, height: 2, fill: 0.1), b = Plane(width: 2, height: 2, fill: 0.2), c = Plane(width: 2, height: 2, fill: 0.3)
        let sheet = Plane.grid([[a, b], [c]], gap: 1, fill: 0.9)
        #expect(sheet.width == 5 && sheet.height == 5)
        #expect(sheet[1, 1] == 0.1 && sheet[3, 0] == 0.2 && sheet[4, 1] == 0.2 && sheet[0, 3] == 0.3 && sheet[1, 4] == 0.3)
        #expect(sheet[2, 0] == 0.9 && sheet[0, 2] == 0.9 && sheet[3, 3] == 0.9, "gaps and the missing cell keep the fill")
    }

    @Test func footprintKeepsTheEditAndDropsTheDrift() {
        // A 4×4 block moved by 0.5 and everything else drifting by 0.05: only the block (grown by 2 px) is kept.
        let reference = Plane(width: 30, height: 30, fill: 0.4)
        var edit = Plane(width: 30, height: 30, fill: 0.45)
        for y in 10..<14 { for x in 10..<14 { edit[x, y] = 0.9 } }
        let footprint = CounterfactualEditor.footprint(edit, reference, threshold: 0.25)
        #expect(footprint[11, 11] == 1 && footprint[8, 12] == 1 && footprint[15, 15] == 1)
        #expect(footprint[4, 4] == 0 && footprint[25, 12] == 0 && footprint[12, 18] == 0)
        #expect(footprint.values.filter { $0 == 1 }.count <= 10 * 10)
        #expect(CounterfactualEditor.footprint(reference, reference, threshold: 0.25).values.allSatisfy { $0 == 0 }, "no move, no mask")
    }

    @Test func blendKeepsTheInputWhereTheWeightIsZero() {
        let input = Plane(width: 4, height: 1, values: [0.1, 0.2, 0.3, 0.4])
        let edit = Plane(width: 4, height: 1, values: [0.9, 0.9, 0.9, 0.9])
        let weight = Plane(width: 4, height: 1, values: [0, 0.5, 1, 0])
        let out = PixelBlend.blend(input: input, edit: edit, weight: weight)
        #expect(out.values == [0.1, 0.55, 0.9, 0.4])
    }

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

    @Test func differenceMapIsRedWhereBrighterBlueWhereDarker() {
        let before = Plane(width: 3, height: 1, values: [0.5, 0.5, 0.5])
        let after = Plane(width: 3, height: 1, values: [0.9, 0.5, 0.1])
        let img = Visualize.difference(before: before, after: after)
        #expect(img.channels == 3)
        #expect(img[0, 0, 0] > img[0, 0, 2], "brighter is red")
        #expect(img[2, 0, 2] > img[2, 0, 0], "darker is blue")
        let unchanged = (0..<3).map { img[1, 0, $0] }
        #expect(unchanged[0] == unchanged[1] && unchanged[1] == unchanged[2], "no change stays gray")
    }
}
