import Foundation
import Imaging

/// A loss curve as a small grayscale PNG: the per-step loss in light gray, its running mean (window of about a
/// twentieth of the steps) in black, a frame with tick marks, and the step and loss ranges written in a 3×5
/// pixel font at the corners (first/last step under the axis, top/bottom loss beside it).
public struct LossCurve: Sendable {
    public var points: [(x: Double, y: Double)]
    public var width = 640
    public var height = 360
    /// A log-scale loss axis (useful when the loss falls by orders of magnitude).
    public var logScale = false

    public init(points: [(Double, Double)], logScale: Bool = false) {
        self.points = points.map { (x: $0.0, y: $0.1) }.filter { $0.y.isFinite }
        self.logScale = logScale
    }

    /// The running mean over `window` points centred on each point (fewer at the ends).
    public static func smoothed(_ values: [Double], window: Int) -> [Double] {
        guard window > 1, !values.isEmpty else { return values }
        var prefix = [0.0]
        for v in values { prefix.append(prefix.last! + v) }
        return values.indices.map { i in
            let lo = max(0, i - window / 2), hi = min(values.count, i + window / 2 + 1)
            return (prefix[hi] - prefix[lo]) / Double(hi - lo)
        }
    }

    public func image() -> Image {
        var canvas = PlotCanvas(width: width, height: height)
        let left = 56, right = width - 12, top = 12, bottom = height - 28
        guard !points.isEmpty else { return canvas.image() }
        let transform: (Double) -> Double = logScale ? { log10(max($0, 1e-12)) } : { $0 }
        let ys = points.map { transform($0.y) }
        let x0 = points.first!.x, x1 = max(points.last!.x, x0 + 1)
        var y0 = ys.min()!, y1 = ys.max()!
        if y1 - y0 < 1e-12 { y0 -= 0.5; y1 += 0.5 }
        let pad = (y1 - y0) * 0.05
        y0 -= pad; y1 += pad
        func px(_ x: Double) -> Int { left + Int(((x - x0) / (x1 - x0) * Double(right - left)).rounded()) }
        func py(_ y: Double) -> Int { bottom - Int(((y - y0) / (y1 - y0) * Double(bottom - top)).rounded()) }

        // Grid lines and frame.
        for k in 1..<4 {
            let gy = top + (bottom - top) * k / 4
            for x in stride(from: left, to: right, by: 4) { canvas.set(x, gy, 0.85) }
        }
        canvas.rect(left, top, right, bottom, 0)

        let raw = points.map { (px($0.x), py(transform($0.y))) }
        for (a, b) in zip(raw, raw.dropFirst()) { canvas.line(a.0, a.1, b.0, b.1, 0.75) }
        let window = max(1, points.count / 20)
        let smooth = Self.smoothed(points.map(\.y), window: window).map(transform)
        let line = zip(points, smooth).map { (px($0.x), py($1)) }
        for (a, b) in zip(line, line.dropFirst()) { canvas.line(a.0, a.1, b.0, b.1, 0, thick: true) }

        // Labels: loss range at the top and bottom of the axis, step range under it.
        func label(_ v: Double) -> String {
            let value = logScale ? pow(10, v) : v
            return abs(value) >= 0.01 && abs(value) < 1000 ? String(format: "%.3f", value) : String(format: "%.1e", value)
        }
        canvas.text(label(y1), x: 2, y: top, scale: 2)
        canvas.text(label(y0), x: 2, y: bottom - 10, scale: 2)
        canvas.text(String(Int(x0)), x: left, y: bottom + 6, scale: 2)
        let last = String(Int(x1))
        canvas.text(last, x: right - last.count * 8, y: bottom + 6, scale: 2)
        canvas.text(logScale ? "LOSS (LOG)  VS  STEP" : "LOSS  VS  STEP", x: (left + right) / 2 - 56, y: bottom + 6, scale: 2)
        return canvas.image()
    }
}
