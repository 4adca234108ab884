import Core
import Foundation

/// A self-contained HTML page of cases and their counterfactuals: every picture is a file beside the page,
/// linked relatively, so the folder can be opened, moved or zipped as it is.
public struct HTMLReport {
    public struct Picture: Sendable {
        public var caption: String
        public var file: String
        public init(_ caption: String, _ file: String) {
            self.caption = caption
            self.file = file
        }
    }

    /// One counterfactual of a case: a row of pictures and its numbers.
    public struct Row: Sendable {
        public var title: String
        public var pictures: [Picture]
        public var metrics: [(String, String)]
        public init(title: String, pictures: [Picture], metrics: [(String, String)]) {
            self.title = title
            self.pictures = pictures
            self.metrics = metrics
        }
    }

    public struct Case: Sendable {
        public var title: String
        public var subtitle: String
        public var input: Picture
        public var rows: [Row]
        public init(title: String, subtitle: String, input: Picture, rows: [Row]) {
            self.title = title
            self.subtitle = subtitle
            self.input = input
            self.rows = rows
        }
    }

    public var title: String
    public var introduction: String
    /// The summary table: header and rows of cells.
    public var summaryHeader: [String]
    public var summaryRows: [[String]]
    public var cases: [Case]
    public var footer: String

    public init(title: String, introduction: String, summaryHeader: [String], summaryRows: [[String]], cases: [Case],
                footer: String) {
        self.title = title
        self.introduction = introduction
        self.summaryHeader = summaryHeader
        self.summaryRows = summaryRows
        self.cases = cases
        self.footer = footer
    }

    public static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    public func html() -> String {
        let e = Self.escape
        func figure(_ p: Picture) -> String {
            "<figure><img src=\"\(e(p.file))\" alt=\"\(e(p.caption))\" loading=\"lazy\"><figcaption>\(e(p.caption))</figcaption></figure>"
        }
        var out = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(e(title))</title>
            <style>
            body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#111;background:#fafafa}
            h1{font-size:1.6rem}h2{margin-top:2.5rem;border-bottom:1px solid #ccc}h3{margin:1.2rem 0 .3rem;font-size:1rem}
            .sub{color:#555;margin:.2rem 0 1rem}.row{display:flex;gap:.6rem;align-items:flex-start;flex-wrap:wrap}
            figure{margin:0;text-align:center}figure img{width:176px;height:176px;object-fit:contain;background:#000;image-rendering:auto;border-radius:3px}
            figcaption{font-size:.75rem;color:#444;max-width:176px}table{border-collapse:collapse;margin:.5rem 0}
            td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:right;font-variant-numeric:tabular-nums}
            th{background:#eee}td:first-child,th:first-child{text-align:left}.metrics td{font-size:.8rem}
            .pass{color:#075}.fail{color:#b00}footer{margin-top:3rem;color:#666;font-size:.8rem}
            </style></head><body>
            <h1>\(e(title))</h1>
            <p>\(introduction)</p>

            """
        if !summaryRows.isEmpty {
            out += "<h2>Summary</h2><table><tr>" + summaryHeader.map { "<th>\(e($0))</th>" }.joined() + "</tr>\n"
            for r in summaryRows { out += "<tr>" + r.map { "<td>\($0)</td>" }.joined() + "</tr>\n" }
            out += "</table>\n"
        }
        for c in cases {
            out += "<h2>\(e(c.title))</h2><p class=\"sub\">\(e(c.subtitle))</p>\n"
            for r in c.rows {
                out += "<h3>\(e(r.title))</h3><div class=\"row\">\(figure(c.input))"
                out += r.pictures.map(figure).joined()
                out += "<table class=\"metrics\">" + r.metrics.map { "<tr><td>\(e($0.0))</td><td>\($0.1)</td></tr>" }.joined()
                out += "</table></div>\n"
            }
        }
        out += "<footer>\(footer)</footer></body></html>\n"
        return out
    }

    /// Writes `report.html` into `folder` (atomically) and returns its URL.
    @discardableResult
    public func write(to folder: URL, name: String = "report.html") throws -> URL {
        let url = folder.appendingPathComponent(name)
        try writeAtomically(Data(html().utf8), to: url)
        return url
    }
}
