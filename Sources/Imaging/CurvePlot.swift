import Foundation

/// Quantities logged over training steps as one gray PNG (training loss and validation AUROC by step, say): one
/// panel per quantity, stacked, sharing the step axis, each with its own value range; several series in a panel
/// (AUROC per label) drawn in different grays, each named in a legend. Series with few points (a validation every
/// few hundred steps) get a mark at every point. Non-finite values are left out.
public struct CurvePlot: Sendable {
    public struct Series: Sendable {
        public var name: String
        public var points: [(x: Double, y: Double)]

        public init(name: String, points: [(Double, Double)]) {
            self.name = name
            self.points = points.map { (x: $0.0, y: $0.1) }.filter { $0.x.isFinite && $0.y.isFinite }
        }
    }

    public struct Panel: Sendable {
        public var title: String
        public var series: [Series]
        /// A fixed value range (0...1 for an AUROC); nil: the data's range with a margin.
        public var range: ClosedRange<Double>?

        public init(title: String, series: [Series], range: ClosedRange<Double>? = nil) {
            self.title = title
            self.series = series
            self.range = range
        }
    }

    public var panels: [Panel]
    public var width = 640
    public var panelHeight = 220
    /// The label of the shared horizontal axis.
    public var xLabel = "STEP"

    public init(panels: [Panel]) { self.panels = panels }

    /// The grays of the first series of a panel, then the next ones (cycled).
    static let grays: [Float] = [0, 0.55, 0.3, 0.7]
    static let titleHeight = 18, axisHeight = 24, left = 56, markLimit = 60

    public func image() -> Image {
        let height = max(1, panels.count) * (panelHeight + Self.titleHeight) + Self.axisHeight
        var canvas = PlotCanvas(width: width, height: height)
        let xs = panels.flatMap { $0.series.flatMap { $0.points.map(\.x) } }
        guard let x0 = xs.min(), let xMax = xs.max() else { return canvas.image() }
        let x1 = max(xMax, x0 + 1), right = width - 12
        func px(_ x: Double) -> Int { Self.left + Int(((x - x0) / (x1 - x0) * Double(right - Self.left)).rounded()) }
        var bottom = 0
        for (k, panel) in panels.enumerated() {
            let top = k * (panelHeight + Self.titleHeight) + Self.titleHeight
            bottom = top + panelHeight - 4
            draw(panel, on: &canvas, top: top, bottom: bottom, right: right, px: px)
        }
        canvas.text(String(Int(x0)), x: Self.left, y: bottom + 6, scale: 2)
        let last = String(Int(x1))
        canvas.text(last, x: right - PlotCanvas.textWidth(last, scale: 2), y: bottom + 6, scale: 2)
        canvas.text(xLabel, x: (Self.left + right - PlotCanvas.textWidth(xLabel, scale: 2)) / 2, y: bottom + 6, scale: 2)
        return canvas.image()
    }

    func draw(_ panel: Panel, on canvas: inout PlotCanvas, top: Int, bottom: Int, right: Int, px: (Double) -> Int) {
        let ys = panel.series.flatMap { $0.points.map(\.y) }
        var (y0, y1) = panel.range.map { ($0.lowerBound, $0.upperBound) } ?? (ys.min() ?? 0, ys.max() ?? 1)
        if y1 - y0 < 1e-12 { y0 -= 0.5; y1 += 0.5 }
        if panel.range == nil { let pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad }
        func py(_ y: Double) -> Int { bottom - Int(((y - y0) / (y1 - y0) * Double(bottom - top)).rounded()) }

        for k in 1..<4 {
            let gy = top + (bottom - top) * k / 4
            for x in stride(from: Self.left, to: right, by: 4) { canvas.set(x, gy, 0.85) }
        }
        canvas.rect(Self.left, top, right, bottom, 0)
        canvas.text(panel.title, x: Self.left, y: top - Self.titleHeight + 4, scale: 2)
        canvas.text(Self.label(y1), x: 2, y: top, scale: 2)
        canvas.text(Self.label(y0), x: 2, y: bottom - 10, scale: 2)

        var legendX = right
        for (k, series) in panel.series.enumerated().reversed() {
            let gray = Self.grays[k % Self.grays.count]
            let line = series.points.map { (px($0.x), py($0.y)) }
            for (a, b) in zip(line, line.dropFirst()) { canvas.line(a.0, a.1, b.0, b.1, gray, thick: true) }
            if series.points.count <= Self.markLimit {
                for (x, y) in line { canvas.fill(x - 2, y - 2, x + 2, y + 2, gray) }
            }
            // Legend, right-aligned on the title line: a short stroke in the series' gray, then its name.
            guard panel.series.count > 1 else { continue }
            legendX -= PlotCanvas.textWidth(series.name, scale: 2) + 22
            let y = top - Self.titleHeight + 8
            canvas.fill(legendX, y, legendX + 14, y + 1, gray)
            canvas.text(series.name, x: legendX + 20, y: y - 4, scale: 2)
        }
    }

    /// A value for an axis label: three decimals in the usual range, else scientific.
    static func label(_ value: Double) -> String {
        abs(value) >= 0.01 && abs(value) < 1000 || value == 0
            ? String(format: "%.3f", value) : String(format: "%.1e", value)
    }
}
