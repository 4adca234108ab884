import Core
import Counterfactual
import Foundation
import Imaging

/// The report of a phantom evaluation: `report.html` (every case, its counterfactuals beside the truth, the
/// difference maps and masks, the numbers) and `metrics.json`.
public enum EvaluationReport {
    /// The targets an edit should meet (the editing issue's quality bars).
    public static let gapTarget = 0.5
    public static let outsideTarget = 1.0 / 255

    public struct Summary: Sendable, Codable {
        public var edit: String
        public var mask: String
        public var count: Int
        public var meanGapClosed: Double
        public var meanChangeOutside255: Double
        public var meetingTargets: Int
        public var meanPacemakerChange255: Double?
        /// Over the edits whose causal total effect differs from the truth.
        public var meanCausalGapClosed: Double?
        /// Against the patient nearest to each edit among those its caption allows (`ScoredEdit.nearest`).
        public var nearest: NearestMeans?
    }

    public struct NearestMeans: Sendable, Codable {
        public var gapClosed: Double
        public var changeOutside255: Double
    }

    public static func summaries(_ cases: [ScoredCase]) -> [Summary] {
        var order: [String] = []
        var groups: [String: [ScoredEdit]] = [:]
        for e in cases.flatMap(\.edits) {
            let key = "\(e.edit)|\(e.mask.name)"
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(e)
        }
        return order.map { key in
            let edits = groups[key]!
            let parts = key.split(separator: "|").map(String.init)
            let pacemaker = edits.compactMap(\.pacemakerChange)
            let causal = edits.compactMap(\.causalGapClosed)
            let nearest = edits.compactMap(\.nearest?.score)
            func average(_ values: [Double]) -> Double { values.reduce(0, +) / Double(values.count) }
            func mean(_ values: [Double]) -> Double? { values.isEmpty ? nil : average(values) }
            return Summary(
                edit: parts[0], mask: parts[1], count: edits.count,
                meanGapClosed: average(edits.map(\.score.gapClosed)),
                meanChangeOutside255: 255 * average(edits.map(\.score.changeOutside)),
                meetingTargets: edits.filter { $0.score.gapClosed >= gapTarget && ($0.mask == .none || $0.score.changeOutside <= outsideTarget) }.count,
                meanPacemakerChange255: mean(pacemaker).map { 255 * $0 },
                meanCausalGapClosed: mean(causal),
                nearest: nearest.isEmpty ? nil : NearestMeans(gapClosed: average(nearest.map(\.gapClosed)),
                                                              changeOutside255: 255 * average(nearest.map(\.changeOutside))))
        }
    }

    /// One case at a glance (`figure.png`): the input above its reconstruction, then per edit its counterfactual above
    /// the phantom's true counterfactual (for an edit with no mask, the causal model's total effect where it differs:
    /// what a model that learned the data's relationships draws), 4 px apart.
    public static func figure(_ c: ScoredCase, in folder: URL) throws -> Image {
        func load(_ file: String) throws -> Plane { Plane(gray: try Image(contentsOf: folder.appendingPathComponent(file))) }
        let top = try [load(c.inputFile)] + c.edits.map { try load($0.files["edit"]!) }
        let bottom = try [load(c.reconstructionFile)]
            + c.edits.map { try load(($0.mask == .none ? $0.files["causal"] : nil) ?? $0.files["truth"]!) }
        return Plane.grid([top, bottom], gap: 4).image()
    }

    /// The mean reconstruction PSNR of the cases (a lossless reconstruction counts as 99 dB).
    public static func meanReconstructionPSNR(_ cases: [ScoredCase]) -> Double {
        guard !cases.isEmpty else { return 0 }
        return cases.map { min($0.reconstructionPSNR, 99) }.reduce(0, +) / Double(cases.count)
    }

    /// Writes report.html and metrics.json into `folder`; returns the report's URL.
    @discardableResult
    public static func write(_ cases: [ScoredCase], to folder: URL, model: String, settings: EditSettings,
                             totalSeconds: Double, writtenBy: String = "prism demo") throws -> URL {
        let summary = summaries(cases)
        func f(_ x: Double, _ digits: Int = 2) -> String { x.isFinite ? String(format: "%.\(digits)f", x) : "∞" }
        func mark(_ ok: Bool) -> String { ok ? "<span class=\"pass\">✓</span>" : "<span class=\"fail\">✗</span>" }
        let rows = summary.map { s -> [String] in
            [HTMLReport.escape(s.edit), s.mask, "\(s.count)", f(s.meanGapClosed) + " " + mark(s.meanGapClosed >= gapTarget),
             f(s.meanChangeOutside255) + (s.mask == "auto" ? " " + mark(s.meanChangeOutside255 <= 255 * outsideTarget) : ""),
             "\(s.meetingTargets)/\(s.count)", s.meanPacemakerChange255.map { f($0, 1) } ?? "–",
             s.meanCausalGapClosed.map { f($0) } ?? "–",
             s.nearest.map { f($0.gapClosed) + " / " + f($0.changeOutside255) } ?? "–"]
        }
        let reportCases = cases.map { c -> HTMLReport.Case in
            HTMLReport.Case(
                title: "Case \(c.id)", subtitle: c.caption + " · reconstruction PSNR \(f(c.reconstructionPSNR, 1)) dB",
                input: .init("input", c.inputFile),
                rows: c.edits.map { e in
                    var pictures = [HTMLReport.Picture("counterfactual", e.files["edit"]!),
                                    HTMLReport.Picture("ground truth", e.files["truth"]!),
                                    HTMLReport.Picture("difference (red brighter, blue darker)", e.files["difference"]!)]
                    if e.mask == .none, let causal = e.files["causal"] {
                        pictures.insert(HTMLReport.Picture("causal model's total effect", causal), at: 2)
                    }
                    pictures.append(e.files["mask"].map { HTMLReport.Picture("mask", $0) }
                                    ?? HTMLReport.Picture("true change", e.files["change"]!))
                    if let n = e.nearest, let file = e.files["nearest"] {
                        pictures.append(HTMLReport.Picture("nearest patient the caption allows (\(n.interventions))", file))
                    }
                    var metrics: [(String, String)] = [
                        ("gap closed", f(e.score.gapClosed) + " " + mark(e.score.gapClosed >= gapTarget)),
                        ("change outside (×255)", f(255 * e.score.changeOutside)
                            + (e.mask == .auto ? " " + mark(e.score.changeOutside <= outsideTarget) : "")),
                        ("change inside (×255)", f(255 * e.score.changeInside)),
                        ("true change area", f(100 * e.score.changeArea, 1) + "%"),
                        ("seconds", f(e.seconds, 1)),
                    ]
                    if let p = e.pacemakerChange { metrics.append(("pacemaker change (×255)", f(255 * p, 1))) }
                    if let g = e.causalGapClosed { metrics.append(("gap closed to the causal total effect", f(g))) }
                    if let n = e.nearest {
                        metrics.append(("against the nearest patient the caption allows (\(n.interventions)): gap closed / change outside (×255)",
                                        f(n.score.gapClosed) + " / " + f(255 * n.score.changeOutside)))
                    }
                    return HTMLReport.Row(title: "\(e.edit)\(e.mask == .none ? " — no mask" : "") → “\(e.target)”",
                                          pictures: pictures, metrics: metrics)
                })
        }
        let report = HTMLReport(
            title: "Prism: counterfactual chest X-rays",
            introduction: """
                Each phantom chest X-ray below was edited by changing its caption, with the model <code>\(HTMLReport.escape(model))</code> \
                (\(settings.method.rawValue) inversion, \(settings.steps) steps, guidance \(f(settings.guidance, 1))). The phantom gives the \
                ground truth: the same patient with only the edited finding changed, the patient the target caption describes. \
                Where the phantom's causal model would change more (without cardiomegaly its patients seldom have a pacemaker), \
                the “no mask” row also shows that total effect, and how far each edit went towards it. <b>Gap closed</b>: how much of the way from the input to the \
                truth the edit went inside the true change (target ≥ \(f(gapTarget))). <b>Change outside</b>: mean absolute change \
                more than 8 px from the true change, in grey levels (target ≤ 1). The “no mask” rows let the model change anything: \
                a large pacemaker change there means the model removes the pacemaker along with the cardiomegaly, the hidden \
                relationship in its training data. A caption leaves some things open that the input does not show (how small \
                the heart becomes without cardiomegaly; the side and volume of a new effusion): <b>against the nearest patient \
                the caption allows</b> scores each such edit against the one of those patients (on a grid) that lies nearest \
                to it, which tells another valid patient from a wrong one.
                """,
            summaryHeader: ["edit", "mask", "cases", "gap closed", "change outside (×255)", "meeting targets", "pacemaker change (×255)",
                            "gap closed to the causal total effect", "against the nearest patient the caption allows: gap closed / change outside (×255)"],
            summaryRows: rows, cases: reportCases,
            footer: "Written by \(writtenBy) in \(f(totalSeconds, 0)) s. Pictures are the files beside this page.")
        let url = try report.write(to: folder)
        if let first = cases.first { try figure(first, in: folder).writePNG(to: folder.appendingPathComponent("figure.png")) }

        let json: [String: Any] = [
            "model": model,
            "settings": ["inversion": settings.method.rawValue, "steps": settings.steps, "guidance": settings.guidance,
                         "emphasis": settings.emphasis, "cross_replace": settings.crossReplace,
                         "self_replace": settings.selfReplace, "mask_threshold": settings.maskThreshold, "blend_start": settings.blendStart,
                         "change_threshold": settings.changeThreshold, "protect_kept": settings.protectKept] as [String: Any],
            "seconds": totalSeconds,
            "mean_reconstruction_psnr_db": meanReconstructionPSNR(cases),
            "summary": summary.map { s -> [String: Any] in
                var d: [String: Any] = ["edit": s.edit, "mask": s.mask, "count": s.count, "mean_gap_closed": s.meanGapClosed,
                                        "mean_change_outside_255": s.meanChangeOutside255, "meeting_targets": s.meetingTargets]
                if let p = s.meanPacemakerChange255 { d["mean_pacemaker_change_255"] = p }
                if let g = s.meanCausalGapClosed { d["mean_causal_gap_closed"] = g }
                if let n = s.nearest {
                    d["mean_nearest_gap_closed"] = n.gapClosed
                    d["mean_nearest_change_outside_255"] = n.changeOutside255
                }
                return d
            },
            "cases": cases.map { c -> [String: Any] in
                ["id": c.id, "caption": c.caption, "reconstruction_psnr_db": c.reconstructionPSNR.isFinite ? c.reconstructionPSNR : 999,
                 "inversion_seconds": c.inversionSeconds,
                 "edits": c.edits.map { e -> [String: Any] in
                     var d: [String: Any] = ["edit": e.edit, "mask": e.mask.name, "target": e.target,
                                             "gap_closed": e.score.gapClosed, "change_outside": e.score.changeOutside,
                                             "change_inside": e.score.changeInside, "change_area": e.score.changeArea,
                                             "seconds": e.seconds, "files": e.files]
                     if let p = e.pacemakerChange { d["pacemaker_change"] = p }
                     if let g = e.causalGapClosed { d["causal_gap_closed"] = g }
                     if let n = e.nearest {
                         d["nearest"] = ["do": n.interventions, "gap_closed": n.score.gapClosed, "change_outside": n.score.changeOutside]
                     }
                     return d
                 }]
            },
        ]
        let data = try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys])
        try writeAtomically(data, to: folder.appendingPathComponent("metrics.json"))
        return url
    }
}
