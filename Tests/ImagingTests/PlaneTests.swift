import Foundation
import Testing
@testable import Imaging

@Suite struct PlaneTests {
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

    @Test func blendKeepsTheInputWhereTheWeightIsZero() {
        let input = Plane(width: 4, height: 1, values: [0.1, 0.2, 0.3, 0.4])
        let edit = Plane(width: 4, height: 1, values: [0.9, 0.9, 0.9, 0.9])
        let weight = Plane(width: 4, height: 1, values: [0, 0.5, 1, 0])
        let out = PixelBlend.blend(input: input, edit: edit, weight: weight)
        #expect(out.values == [0.1, 0.55, 0.9, 0.4])
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
