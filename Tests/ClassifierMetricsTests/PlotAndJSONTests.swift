import Core
import Foundation
import Imaging
import Testing
@testable import ClassifierMetrics

@Suite struct PlotAndJSONTests {
    @Test func reliabilityBarsRiseToTheObservedFrequency() throws {
        // Bin (0.6, 0.6667] holds ten images at 0.65, all positive: a bar to the top; bin (0.2, 0.2667] ten at 0.25,
        // none positive: no bar, only the tick at 0.25.
        let labels = [Bool](repeating: true, count: 10) + [Bool](repeating: false, count: 10)
        let probabilities = [Double](repeating: 0.65, count: 10) + [Double](repeating: 0.25, count: 10)
        let calibration = calibrationSummary(labels: labels, probabilities: probabilities)
        #expect(abs(calibration.expectedCalibrationError - (0.5 * 0.35 + 0.5 * 0.25)) < 1e-12)
        let diagram = ReliabilityDiagram(calibration: calibration, title: "effusion")
        let image = diagram.image()
        #expect(image.channels == 1 && image.bitDepth == 8 && image.width == 456)
        let left = ReliabilityDiagram.left, top = ReliabilityDiagram.top, size = diagram.plotSize
        func column(_ p: Double) -> Int { left + Int(p * Double(size)) }
        func row(_ f: Double) -> Int { top + size - Int(f * Double(size)) }
        // The full bar is filled gray near the top and the bottom of its column.
        #expect((100...220).contains(image[column(0.633), row(0.95), 0]) && (100...220).contains(image[column(0.633), row(0.1), 0]))
        // The empty bar: white above its tick at 0.25 (the diagonal passes elsewhere), black on the tick.
        #expect(image[column(0.233), row(0.5), 0] == 255 && image[column(0.21), row(0.25), 0] == 0)

        let url = FileManager.default.temporaryDirectory.appendingPathComponent("reliability-\(UUID()).png")
        defer { try? FileManager.default.removeItem(at: url) }
        try diagram.writePNG(to: url)
        #expect(try Image(contentsOfPNG: url) == image)
    }

    @Test func resultsEncodeWithSnakeCaseKeysAndBareNonFiniteTokens() throws {
        let labels: [Bool] = [true, false, true, false]
        let report = shortcutReport(labels: labels, attributes: labels, scores: [0.9, 0.1, 0.4, 0.6], threshold: 0.5,
                                    bootstrap: Bootstrap(resamples: 10))
        let text = String(decoding: try MetricsJSON.encode(report), as: UTF8.self)
        #expect(text.contains("\"worst_group_accuracy\" : 0.5") && text.contains("\"undefined_reason\" : \"no images\""))
        #expect(text.contains("\"value\" : NaN") && !text.contains("\"NaN\""))
        let back = try MetricsJSON.decode(ShortcutReport.self, from: Data(text.utf8), source: "metrics.json")
        #expect(back.conflicting.value.isNaN && back.aligned.value == 0.75 && back.aligned.interval == report.aligned.interval)
        #expect(back.groups[1].accuracy.isNaN && back.groups[0].accuracy == 0.5)

        let roc = rocCurve(labels: labels, scores: [0.9, 0.1, 0.4, 0.6])
        let object = try MetricsJSON.object(roc)
        #expect((object["thresholds"] as? [Double])?.first == .infinity && object["false_positive_rate"] != nil)
        let choice = maxF1Threshold(labels: labels, scores: [0.9, 0.1, 0.4, 0.6])!
        #expect(try MetricsJSON.object(choice)["criterion"] as? String == "max_f1")
        // Core's JSONFile reads what MetricsJSON writes, tokens included.
        let read = try JSONFile.object(from: Data(text.utf8), source: "metrics.json")
        #expect(((read["conflicting"] as? [String: Any])?["value"] as? Double)?.isNaN == true)
    }
}
