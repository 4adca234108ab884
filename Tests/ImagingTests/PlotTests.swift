import Foundation
import Testing
@testable import Imaging

@Suite struct PlotTests {
    @Test func curvePlotStacksOnePanelPerQuantityOnASharedStepAxis() {
        let loss = CurvePlot.Series(name: "loss", points: (0...100).map { (Double($0 * 10), 1 / Double($0 + 1)) })
        let auroc = CurvePlot.Series(name: "effusion", points: (1...5).map { (Double($0 * 200), 0.5 + 0.08 * Double($0)) })
        let devices = CurvePlot.Series(name: "devices", points: [(200, .nan), (1000, 0.6)])
        let plot = CurvePlot(panels: [CurvePlot.Panel(title: "train loss", series: [loss]),
                                      CurvePlot.Panel(title: "val auroc", series: [auroc, devices], range: 0...1)])
        let image = plot.image()
        #expect(image.width == 640 && image.height == 2 * (220 + 18) + 24)
        #expect(devices.points.count == 1)
        func darkRows(x: Int, in rows: Range<Int>) -> [Int] { rows.filter { image[x, $0, 0] < 40 } }
        // The loss falls from the upper half of the first panel at the left to its bottom at the right.
        let first = 20..<232
        let left = darkRows(x: 60, in: first), right = darkRows(x: 620, in: first)
        #expect(left.min()! < 120 && right.min()! > 200, "\(left) \(right)")
        // The last AUROC (0.9 at step 1000, the right edge) is marked near 0.9 of the second panel's height.
        let top2 = 238 + 18, bottom2 = top2 + 216
        let marked = darkRows(x: 626, in: top2..<bottom2).filter { $0 > top2 + 2 && $0 < bottom2 - 2 }
        #expect(marked.contains { abs($0 - (bottom2 - Int(0.9 * 216))) <= 3 }, "\(marked)")
        // A sparse series gets a 5×5 mark at each point: (600, 0.74) at x 56 + 343, y bottom - 160.
        let mark = (397...401).flatMap { x in (bottom2 - 162...bottom2 - 158).map { image[x, $0, 0] } }
        #expect(mark.allSatisfy { $0 == 0 }, "\(mark)")
    }

    @Test func canvasTextCoversTheAlphabetAndOnlyDarkens() {
        var canvas = PlotCanvas(width: 200, height: 10)
        canvas.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", x: 0, y: 0, scale: 1)
        // Every letter leaves ink in its 3-pixel cell.
        for k in 0..<26 {
            #expect((0..<3).contains { c in (0..<5).contains { canvas.pixels[$0 * 200 + 4 * k + c] == 0 } }, "letter \(k)")
        }
        canvas.set(199, 9, 0.5)
        canvas.set(199, 9, 0.8)
        #expect(canvas.pixels[9 * 200 + 199] == 0.5 && PlotCanvas.textWidth("ECE", scale: 2) == 24)
    }
}
