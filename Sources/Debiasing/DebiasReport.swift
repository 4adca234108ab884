import Core
import Evaluation
import Foundation

/// report.html of a de-biasing experiment: the bias of each method as bars with their intervals (the AUROC gap and
/// the counterfactual sensitivity), the table of every number, and examples of the images each method added.
public struct DebiasReport {
    public struct Example: Sendable {
        public var edit: String
        public var source: String
        /// (what, file relative to the report).
        public var pictures: [(String, String)]
    }

    public let metrics: DebiasMetrics
    public let options: DebiasOptions
    public let examples: [Example]

    var methods: [(DebiasMethod, DebiasMethodMetrics)] {
        DebiasMethod.allCases.compactMap { m in metrics.methods[m.rawValue].map { (m, $0) } }
    }

    public func write(to url: URL) throws {
        try writeAtomically(Data(html().utf8), to: url)
    }

    static func escape(_ s: String) -> String { HTMLReport.escape(s) }

    public func html() -> String {
        var h = """
            <!doctype html><html><head><meta charset="utf-8"><title>Prism de-biasing</title><style>
            body{font-family:sans-serif;margin:2em;max-width:1200px} table{border-collapse:collapse;margin:1em 0}
            td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px;text-align:right} th{background:#f4f4f4}
            td:first-child{text-align:left} img{width:128px;image-rendering:pixelated} small{color:#555}
            figure{display:inline-block;margin:4px} .charts{display:flex;gap:2em;flex-wrap:wrap}
            </style></head><body>
            <h1>De-biasing: \(Self.escape(metrics.label)) against the \(Self.escape(metrics.attribute)) shortcut</h1>
            <p>\(Self.escape(metrics.source)). \(metrics.testImages) test images\(metrics.testPairs > 0 ? ", \(metrics.testPairs) with their true counterfactual (\(Self.escape(metrics.attribute)) flipped)" : "").
            Each method trains \(options.architecture.rawValue) at \(options.resolution) px for \(options.steps) steps of
            \(options.batchSize) (learning rate \(options.learningRate)), once per seed (\(metrics.seeds) seeds). Every
            number is the mean over seeds; the interval is a 95% bootstrap over test images (\(metrics.bootstrapResamples)
            resamples, all classifiers scored on the same resamples), ± the standard deviation over seeds.</p>
            """
        h += "<div class=\"charts\">" + chart("AUROC gap, aligned − conflicting (lower: less bias)") { $0.aurocGap }
        if methods.contains(where: { $0.1.sensitivity != nil }) {
            h += chart("Counterfactual sensitivity, mean |Δp| (lower: less bias)") { $0.sensitivity }
        }
        h += "</div>" + table() + exampleSection() + "</body></html>\n"
        return h
    }

    /// A horizontal bar per method with its interval as a whisker, as inline SVG.
    func chart(_ title: String, _ value: (DebiasMethodMetrics) -> SeedEstimate?) -> String {
        let rows = methods.compactMap { m, metrics in value(metrics).map { (m, $0) } }
        let top = max(0.05, rows.map { max($0.1.ciHigh, $0.1.value) }.max() ?? 1) * 1.1
        let width = 460.0, left = 110.0, bar = 26.0, height = Double(rows.count) * (bar + 10) + 40
        func x(_ v: Double) -> Double { left + max(0, min(v, top)) / top * (width - left - 20) }
        var s = "<figure><figcaption><b>\(Self.escape(title))</b></figcaption>"
            + String(format: "<svg width=\"%.0f\" height=\"%.0f\" xmlns=\"http://www.w3.org/2000/svg\" font-size=\"12\">", width, height)
        for (k, (method, e)) in rows.enumerated() {
            let y = 10 + Double(k) * (bar + 10)
            let colour = method == .baseline ? "#b44" : method == .counterfactual ? "#36a" : "#999"
            s += String(format: "<text x=\"4\" y=\"%.0f\">%@</text>", y + bar * 0.65, method.rawValue)
            s += String(format: "<rect x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" height=\"%.0f\" fill=\"%@\"/>", left, y, x(e.value) - left, bar, colour)
            s += String(format: "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#000\"/>", x(e.ciLow), x(e.ciHigh), y + bar / 2, y + bar / 2)
            for v in [e.ciLow, e.ciHigh] {
                s += String(format: "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.0f\" y2=\"%.0f\" stroke=\"#000\"/>", x(v), x(v), y + 6, y + bar - 6)
            }
            s += String(format: "<text x=\"%.1f\" y=\"%.0f\">%.3f</text>", min(x(e.ciHigh) + 4, width - 40), y + bar * 0.65, e.value)
        }
        let axis = 10 + Double(rows.count) * (bar + 10)
        s += String(format: "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.0f\" y2=\"%.0f\" stroke=\"#555\"/>", left, width - 20, axis, axis)
        s += String(format: "<text x=\"%.0f\" y=\"%.0f\">0</text><text x=\"%.0f\" y=\"%.0f\">%.2f</text>", left - 3, axis + 14,
                    width - 40, axis + 14, top)
        return s + "</svg></figure>"
    }

    func cell(_ e: SeedEstimate?, percent: Bool = false) -> String {
        guard let e else { return "<td>–</td>" }
        let f = percent ? 100.0 : 1.0, u = percent ? "%" : ""
        return String(format: "<td>%.\(percent ? 0 : 3)f%@<br><small>[%.\(percent ? 0 : 3)f, %.\(percent ? 0 : 3)f] ±%.\(percent ? 0 : 3)f</small></td>",
                      e.value * f, u, e.ciLow * f, e.ciHigh * f, e.seedSd * f)
    }

    func table() -> String {
        var h = "<h2>Numbers</h2><table><tr><th>method</th><th>training images</th><th>AUROC</th><th>AUROC gap</th>"
            + "<th>worst-group accuracy</th><th>sensitivity (mean |Δp|)</th><th>bias reduction: gap</th>"
            + "<th>bias reduction: sensitivity</th></tr>"
        for (method, m) in methods {
            h += "<tr><td><b>\(method.rawValue)</b><br><small>\(Self.escape(m.description))</small></td><td>\(m.trainingImages)</td>"
                + cell(m.auroc) + cell(m.aurocGap) + cell(m.worstGroupAccuracy) + cell(m.sensitivity)
                + cell(m.biasReduction?.aurocGap, percent: true) + cell(m.biasReduction?.sensitivity, percent: true) + "</tr>"
        }
        h += "</table><p><small>Bias reduction: 1 − bias(method) / bias(baseline), the baseline of the same resample (interval) "
            + "or seed (±). Sensitivity: mean |p(counterfactual) − p(image)| over the test images and their true "
            + "counterfactuals with \(Self.escape(metrics.attribute)) flipped. Per-classifier numbers: metrics.json "
            + "(runs) and classifiers/METHOD/seed-K/test-predictions.csv.</small></p>"
        return h
    }

    func exampleSection() -> String {
        guard !examples.isEmpty else { return "" }
        var h = "<h2>Added images</h2><p>The same training images as each augmenting method adds them.</p>"
        for e in examples {
            h += "<h3>\(Self.escape(e.edit)): \(Self.escape(e.source))</h3>"
            for (what, file) in e.pictures {
                h += "<figure><img src=\"\(Self.escape(file))\"><figcaption>\(Self.escape(what))</figcaption></figure>"
            }
        }
        return h
    }
}
