import Foundation
import Imaging
import Testing
@testable import Counterfactual

@Suite struct ImageSpaceTests {
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
}
