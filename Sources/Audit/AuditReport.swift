import Core
import Datasets
import Evaluation
import Foundation
import Imaging

/// `metrics.json` of an audit.
public struct AuditMetrics: Codable, Sendable {
    public var editor: String
    public var measure: String
    /// Audited images (each edit counts the ones it applied to, `cells[].count`).
    public var images: Int
    public var level: Double
    /// The smallest |mean change| of a probability that is flagged (Age: `min_age_effect` years).
    public var minEffect: Double
    public var minAgeEffect: Double
    public var cells: [EffectCell]
    /// On the phantom: the causal model's own expected change of each true label under each edit, [edit][label].
    public var scmTotalEffect: [String: [String: Double]]?
    /// A model's phantom audit also runs the same cases and edits by the phantom's true counterfactuals, read by the
    /// same measure: the direct effect (what the caption asks; a kept label that moves here is the classifier's own
    /// confusion) and the total effect (what the causal model does).
    public var oracleDirectCells: [EffectCell]?
    public var oracleTotalCells: [EffectCell]?

    public init(editor: String, measure: String, images: Int, statistics: AuditStatistics, cells: [EffectCell],
                scmTotalEffect: [String: [String: Double]]? = nil) {
        self.editor = editor
        self.measure = measure
        self.images = images
        level = statistics.level
        minEffect = statistics.minimumEffect
        minAgeEffect = statistics.minimumAgeEffect
        self.cells = cells
        self.scmTotalEffect = scmTotalEffect
    }

    /// The causal model's total effects ([edit][label] as `PhantomAudit.scmTotalEffects` gives them) by names.
    public static func table(_ effects: [[Double]], edits: [AuditEdit], labels: [String] = PhantomTruth.labels)
        -> [String: [String: Double]]
    {
        Dictionary(uniqueKeysWithValues: zip(edits, effects).map { edit, row in
            (edit.text, Dictionary(uniqueKeysWithValues: zip(labels, row).map { ($0, $1) }))
        })
    }

    enum CodingKeys: String, CodingKey {
        case editor, measure, images, level, cells
        case minEffect = "min_effect", minAgeEffect = "min_age_effect"
        case scmTotalEffect = "scm_total_effect"
        case oracleDirectCells = "oracle_direct_cells", oracleTotalCells = "oracle_total_cells"
    }
}

/// Writes an audit's folder: `metrics.json`, `report.html` (the matrix as a heat map with intervals, the SCM's
/// matrix beside it on the phantom, and for each flagged cell the image pairs that moved most) and those pictures.
public enum AuditReport {
    public static func write(_ result: PhantomAudit.Result, metrics: AuditMetrics, scm: [[Double]]?, scmLabels: [String],
                             to folder: URL, pairsShown: Int = 3) throws {
        try createFolder(folder)
        try writeAtomically(try JSONFile.encode(metrics), to: folder.appendingPathComponent("metrics.json"))
        var shown: [String: [(id: String, change: Double, files: (String, String))]] = [:]
        let pictures = folder.appendingPathComponent("pairs")
        for cell in result.matrix.flagged {
            guard let e = result.effects.first(where: { $0.edit == cell.edit }),
                  let k = result.matrix.labels.firstIndex(of: cell.label) else { continue }
            let ranked = zip(e.ids, e.changes(k)).sorted { abs($0.1) > abs($1.1) }.prefix(pairsShown)
            var rows: [(id: String, change: Double, files: (String, String))] = []
            for (id, change) in ranked {
                guard let pair = result.pairs.first(where: { $0.edit == cell.edit && $0.id == id }),
                      let f = pair.factual, let cf = pair.counterfactual else { continue }
                try createFolder(pictures)
                let stem = "\(LabelEdit.slugify(cell.edit))-\(id)"
                try f.writePNG(to: pictures.appendingPathComponent("\(stem)-factual.png"))
                try cf.writePNG(to: pictures.appendingPathComponent("\(stem)-counterfactual.png"))
                rows.append((id, change, ("pairs/\(stem)-factual.png", "pairs/\(stem)-counterfactual.png")))
            }
            shown["\(cell.edit)|\(cell.label)"] = rows
        }
        let html = page(result.matrix, metrics: metrics, scm: scm, scmLabels: scmLabels, shown: shown)
        try writeAtomically(Data(html.utf8), to: folder.appendingPathComponent("report.html"))
    }

    /// The matrix as text, one edit a line, for the terminal.
    public static func text(_ matrix: EffectMatrix) -> String {
        var lines: [String] = []
        for edit in matrix.edits {
            let cells = matrix.labels.compactMap { matrix.cell(edit, $0) }
            let n = cells.first?.count ?? 0
            lines.append("\(edit) (\(n) images):")
            for c in cells {
                let mark = c.flagged ? "  FLAGGED" : (c.role == .kept ? "" : "  (\(c.role.rawValue))")
                let name = c.label.padding(toLength: max(24, c.label.count), withPad: " ", startingAt: 0)
                lines.append("  " + name + String(format: " %+.3f [%+.3f, %+.3f]  p_adj %.4f", c.meanChange, c.ciLow, c.ciHigh,
                                                  c.pAdjusted) + mark)
            }
        }
        return lines.joined(separator: "\n")
    }

    /// A model's kept cells beside the direct and total truth of the same cases (nil without the oracles): one line
    /// per cell that moved anywhere, so the model's hidden relationships read apart from the classifier's.
    public static func comparisonText(_ metrics: AuditMetrics) -> String? {
        guard let direct = metrics.oracleDirectCells, let total = metrics.oracleTotalCells else { return nil }
        func find(_ cells: [EffectCell], _ c: EffectCell) -> EffectCell? { cells.first { $0.edit == c.edit && $0.label == c.label } }
        func show(_ c: EffectCell?) -> String {
            guard let c else { return "–" }
            return String(format: "%+.3f [%+.3f, %+.3f]%@", c.meanChange, c.ciLow, c.ciHigh, c.flagged ? " FLAGGED" : "")
        }
        var lines = ["kept labels, the model's edit beside the phantom's true counterfactuals of the same cases "
                     + "(direct: what the caption asks; total: what the causal model does), read by the same classifier:"]
        for c in metrics.cells where c.role == .kept {
            let d = find(direct, c), t = find(total, c)
            guard c.flagged || d?.flagged == true || t?.flagged == true else { continue }
            let name = "\(c.edit) → \(c.label)"
            lines.append("  " + name.padding(toLength: max(44, name.count), withPad: " ", startingAt: 0)
                         + " model " + show(c) + " | direct " + show(d) + " | total " + show(t))
        }
        if lines.count == 1 { lines.append("  none flagged by the model or either oracle") }
        return lines.joined(separator: "\n")
    }

    static func escape(_ s: String) -> String { HTMLReport.escape(s) }

    /// The |change| at which a cell's colour saturates: a probability's whole range, 10 years of age.
    static func scale(_ label: String) -> Double { label == "Age" ? 10 : 1 }

    /// Red for a fall, blue for a rise, white for none; saturated at |change| = scale.
    static func colour(_ change: Double, scale: Double) -> String {
        let t = min(1, abs(change) / max(scale, 1e-9))
        let fade = Int((255 * (1 - 0.75 * t)).rounded())
        return change < 0 ? "rgb(255,\(fade),\(fade))" : "rgb(\(fade),\(fade),255)"
    }

    /// Rows the edits, columns the labels: each cell's mean change, interval and adjusted p, coloured, flags framed.
    static func table(_ cells: [EffectCell], edits: [String], labels: [String]) -> String {
        var h = "<table><tr><th>edit</th>" + labels.map { "<th>\(escape($0))</th>" }.joined() + "</tr>"
        for edit in edits {
            let n = cells.first { $0.edit == edit }?.count ?? 0
            h += "<tr><th>\(escape(edit))<br><small>\(n) images</small></th>"
            for label in labels {
                guard let c = cells.first(where: { $0.edit == edit && $0.label == label }) else { h += "<td></td>"; continue }
                let cls = c.flagged ? " class=\"flag\"" : (c.role == .kept ? "" : " class=\"role\"")
                h += String(format: "<td%@ style=\"background:%@\">%+.3f<br><small>[%+.3f, %+.3f]<br>p %.3g</small></td>",
                            cls, colour(c.meanChange, scale: scale(label)), c.meanChange, c.ciLow, c.ciHigh, c.pAdjusted)
            }
            h += "</tr>"
        }
        return h + "</table>"
    }

    static func page(_ m: EffectMatrix, metrics: AuditMetrics, scm: [[Double]]?, scmLabels: [String],
                     shown: [String: [(id: String, change: Double, files: (String, String))]]) -> String {
        var h = """
            <!doctype html><html><head><meta charset="utf-8"><title>Prism audit</title><style>
            body{font-family:sans-serif;margin:2em;max-width:1400px} table{border-collapse:collapse;margin:1em 0}
            td,th{border:1px solid #ccc;padding:4px 6px;font-size:13px;text-align:center} td.flag{outline:3px solid #000}
            td.role{color:#777} img{width:160px;image-rendering:pixelated} small{color:#555}
            </style></head><body>
            <h1>Audit: what each edit changes</h1>
            <p>Editor <b>\(escape(metrics.editor))</b>, measure <b>\(escape(metrics.measure))</b>, \(metrics.images) images.
            Each cell: the mean change of the label (counterfactual − factual) over the images the edit applied to, its
            95% bootstrap interval, and Holm-adjusted p (sign-flip test, whole matrix). A black frame flags a label the
            edit's caption kept that moved (p<sub>adj</sub> &lt; \(metrics.level) and |change| ≥ \(metrics.minEffect),
            \(metrics.minAgeEffect) years for Age).
            Grey cells are the edited label and what it implies by definition. Red: falls; blue: rises.</p>
            """
        h += table(m.cells, edits: m.edits, labels: m.labels)
        if let direct = metrics.oracleDirectCells, let total = metrics.oracleTotalCells {
            h += "<h2>The same cases by the phantom's true counterfactuals</h2><p>Each edit made by the causal model "
                + "instead of the generative model, read by the same measure. <b>Direct effect</b>: only the edited "
                + "attribute changes, as the caption asks; a kept label that moves here moves because the classifier "
                + "reads it from the edited finding, not because of the images. <b>Total effect</b>: every descendant "
                + "changes too; a model that learned its data's relationships lands between the two.</p>"
                + "<h3>Direct effect</h3>" + table(direct, edits: m.edits, labels: m.labels)
                + "<h3>Total effect</h3>" + table(total, edits: m.edits, labels: m.labels)
        }
        if let scm {
            h += "<h2>The causal model's total effects</h2><p>Expected change of each true label under the edit, over "
                + "20,000 patients of the same graph to whom it applies: the edges an audit with the total-effect oracle "
                + "should flag.</p><table><tr><th>edit</th>" + scmLabels.map { "<th>\(escape($0))</th>" }.joined() + "</tr>"
            for (e, edit) in m.edits.enumerated() where e < scm.count {
                h += "<tr><th>\(escape(edit))</th>" + scm[e].enumerated().map { k, v in
                    String(format: "<td style=\"background:%@\">%+.3f</td>", colour(v, scale: scale(scmLabels[k])), v)
                }.joined() + "</tr>"
            }
            h += "</table>"
        }
        let flagged = m.flagged
        h += "<h2>Flagged cells</h2>" + (flagged.isEmpty ? "<p>None: no edit moved a label its caption kept.</p>" : "")
        for c in flagged {
            h += String(format: "<h3>%@ → %@: %+.3f</h3>", escape(c.edit), escape(c.label), c.meanChange)
            for row in shown["\(c.edit)|\(c.label)"] ?? [] {
                h += String(format: "<figure style=\"display:inline-block\"><img src=\"%@\"><img src=\"%@\"><figcaption>"
                            + "case %@: factual, counterfactual (%+.3f)</figcaption></figure>",
                            row.files.0, row.files.1, row.id, row.change)
            }
        }
        return h + "</body></html>\n"
    }
}
