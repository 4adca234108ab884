import Foundation
import Imaging

/// A reliability diagram (Guo et al. 2017, fig. 1 bottom) as a gray PNG: per bin a gray bar up to the observed
/// frequency of positives, a black tick at the bin's mean predicted probability (the bar's distance from the tick
/// is the bin's calibration gap), the diagonal of perfect calibration, the ECE in the title, and under the plot a
/// strip of the bin counts (how much each bar weighs in the ECE).
public struct ReliabilityDiagram: Sendable {
    public var calibration: Calibration
    /// Written before the ECE in the title (a label's name, say).
    public var title: String
    /// The side of the square plot area, in pixels.
    public var plotSize = 400

    public init(calibration: Calibration, title: String = "") {
        self.calibration = calibration
        self.title = title
    }

    static let left = 44, top = 28, margin = 12, stripHeight = 40

    public func image() -> Image {
        let left = Self.left, top = Self.top, right = left + plotSize, bottom = top + plotSize
        var canvas = PlotCanvas(width: right + Self.margin, height: bottom + Self.stripHeight + 34)
        func px(_ p: Double) -> Int { left + Int((p * Double(plotSize)).rounded()) }
        func py(_ f: Double) -> Int { bottom - Int((f * Double(plotSize)).rounded()) }

        for k in 1..<4 {
            let g = Double(k) / 4
            for t in stride(from: 0, to: plotSize, by: 4) { canvas.set(px(g), top + t, 0.85); canvas.set(left + t, py(g), 0.85) }
        }
        for bin in calibration.bins where bin.count > 0 {
            let x0 = px(bin.lower) + 1, x1 = px(bin.upper) - 1
            canvas.fill(x0, py(bin.observedFrequency), x1, bottom, 0.72)
            canvas.rect(x0, py(bin.observedFrequency), x1, bottom, 0.35)
            canvas.fill(x0, py(bin.meanProbability) - 1, x1, py(bin.meanProbability) + 1, 0)
        }
        canvas.line(left, bottom, right, top, 0.2)
        canvas.rect(left, top, right, bottom, 0)

        // Bin counts, scaled to the fullest bin.
        let stripTop = bottom + 8, stripBottom = bottom + Self.stripHeight
        let most = calibration.bins.map(\.count).max() ?? 0
        canvas.rect(left, stripTop, right, stripBottom, 0.5)
        for bin in calibration.bins where bin.count > 0 {
            let h = Int((Double(bin.count) / Double(most) * Double(stripBottom - stripTop - 2)).rounded())
            canvas.fill(px(bin.lower) + 1, stripBottom - max(h, 1), px(bin.upper) - 1, stripBottom, 0.45)
        }

        let ece = calibration.expectedCalibrationError
        let heading = (title.isEmpty ? "" : title + "  ") + "ECE " + (ece.isNaN ? "NAN" : String(format: "%.3f", ece))
            + "  N \(calibration.count)"
        canvas.text(heading, x: left, y: 8, scale: 2)
        canvas.text("1", x: left - 12, y: top, scale: 2)
        canvas.text("0", x: left - 12, y: bottom - 10, scale: 2)
        canvas.text("0", x: left, y: stripBottom + 8, scale: 2)
        canvas.text("1", x: right - 6, y: stripBottom + 8, scale: 2)
        let axis = "PREDICTED PROBABILITY"
        canvas.text(axis, x: (left + right - PlotCanvas.textWidth(axis, scale: 2)) / 2, y: stripBottom + 8, scale: 2)
        canvas.text("FREQ", x: left + 6, y: top + 6, scale: 2)
        return canvas.image()
    }

    /// Writes the diagram as a PNG, atomically.
    public func writePNG(to url: URL) throws { try image().writePNG(to: url) }
}
