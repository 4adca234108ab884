import Foundation
import Testing
@testable import Evaluation

@Suite struct HTMLReportTests {
    @Test func everyPictureIsLinkedRelativelyAndTextIsEscaped() throws {
        let report = HTMLReport(
            title: "Demo <1>", introduction: "intro",
            summaryHeader: ["edit", "gap closed"], summaryRows: [["remove devices", "0.71"]],
            cases: [HTMLReport.Case(
                title: "case 1", subtitle: "a \"quoted\" caption", input: .init("input", "case1/input.png"),
                rows: [HTMLReport.Row(title: "remove support devices",
                                      pictures: [.init("edit", "case1/edit.png"), .init("truth", "case1/truth.png")],
                                      metrics: [("PSNR", "31.2 dB")])])],
            footer: "made by prism")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("prism-report-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let url = try report.write(to: folder)
        let html = try String(contentsOf: url, encoding: .utf8)
        #expect(html.contains("<title>Demo &lt;1&gt;</title>"))
        #expect(html.contains("a &quot;quoted&quot; caption"))
        for file in ["case1/input.png", "case1/edit.png", "case1/truth.png"] { #expect(html.contains("src=\"\(file)\"")) }
        #expect(html.contains("<td>0.71</td>") && html.contains("31.2 dB"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["report.html"])
    }
}
