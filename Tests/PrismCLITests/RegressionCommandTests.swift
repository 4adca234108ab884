import ArgumentParser
import Core
import Datasets
import Foundation
import Phantom
import Testing
import TestSupport
@testable import prism

/// `prism classifier train --regress Age --labels Sex`, then predict and evaluate: the Age column in years, the MAE
/// in metrics.json and the summary, and clear refusals of a column that is missing or not numeric.
@Suite struct RegressionCommandTests {
    /// A 24-image phantom of 32 pixels (manifest.csv with Sex and Age columns).
    func phantom(_ scratch: Scratch) throws -> [String] {
        var dataset = PhantomDataset(output: scratch.url("ph"), count: 24, seed: 9)
        dataset.size = 32
        _ = try dataset.generate()
        return ["--data", scratch.path("ph/manifest.csv"), "--images", scratch.path("ph")]
    }

    @Test func trainParsesRegressAndNeedsNoLabelsWithIt() throws {
        let base = ["--data", "/nonexistent/labels.csv", "--images", "/nonexistent", "--output", "/nonexistent/run", "--steps", "2"]
        let c = try ClassifierTrainCommand.parse(base + ["--regress", "Age", "--labels", "Sex"])
        #expect(c.regressNames == ["Age"] && c.labelNames == ["Sex"])
        #expect(refusal(ClassifierTrainCommand.self, base + ["--regress", "Age"]) == nil, "an age-only regressor")
        expectRefused(ClassifierTrainCommand.self, base + ["--regress", " , "], saying: "--regress", "Age")
        expectRefused(ClassifierTrainCommand.self, base, saying: "--labels", "--regress Age")
    }

    @Test(.tags(.slow)) func ageAndSexAreTrainedPredictedAndEvaluated() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let data = try phantom(scratch)
        let train = try ClassifierTrainCommand.parse(data + ["--regress", "age", "--labels", "Sex", "--arch", "resnet18",
                                                             "--resolution", "32", "--batch", "4", "--steps", "2",
                                                             "--validate-every", "2", "--device", "cpu", "--threads", "1",
                                                             "--loader-threads", "1", "--output", scratch.path("run")])
        try train.run()
        let config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: scratch.url("run/best/config.json"))) as? [String: Any])
        #expect(config["labels"] as? [String] == ["Sex"])
        #expect((config["regression_targets"] as? [[String: Any]])?.first?["name"] as? String == "Age")
        let validation = try String(contentsOf: scratch.url("run/validation.csv"), encoding: .utf8)
        #expect(validation.hasPrefix("step,epoch,train_loss,mean_auroc,best,auroc Sex,threshold Sex,mae Age\n"))

        let predict = try ClassifierPredictCommand.parse(["--classifier", scratch.path("run/best")] + data
                                                         + ["--device", "cpu", "--output", scratch.path("p.csv")])
        try predict.run()
        let rows = try String(contentsOf: scratch.url("p.csv"), encoding: .utf8).split(separator: "\n")
        #expect(rows.count == 25 && rows[0] == "path,patient,Sex,Age")
        let ages = rows.dropFirst().map { Double($0.split(separator: ",").last!)! }
        #expect(ages.allSatisfy { $0 > 0 && $0 < 150 }, "ages in years: \(ages.prefix(3))")

        let evaluate = try ClassifierEvaluateCommand.parse(["--classifier", scratch.path("run/best")] + data
                                                           + ["--device", "cpu", "--bootstrap", "50", "--output", scratch.path("eval")])
        try evaluate.run()
        let metrics = try JSONFile.object(from: scratch.url("eval/metrics.json"))
        let age = try #require((metrics["regression"] as? [[String: Any]])?.first)
        let mae = try #require((age["metrics"] as? [String: Any])?["mean_absolute_error"] as? [String: Any])
        #expect(age["target"] as? String == "Age" && (mae["value"] as? Double).map { $0 > 0 } == true && mae["interval"] != nil)
        #expect((metrics["labels"] as? [[String: Any]])?.first?["label"] as? String == "Sex")
        let header = try String(contentsOf: scratch.url("eval/predictions.csv"), encoding: .utf8).split(separator: "\n")[0]
        #expect(header == "path,patient,Sex,Age")
        #expect(try String(contentsOf: scratch.url("eval/report.html"), encoding: .utf8).contains("Age (regression"))
    }

    @Test func aMissingOrNonNumericColumnIsRefusedNamingTheFileAndColumn() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let data = try phantom(scratch)
        func refused(_ regress: String) throws -> String {
            let c = try ClassifierTrainCommand.parse(data + ["--regress", regress, "--steps", "1", "--device", "cpu",
                                                             "--output", scratch.path("run-\(UUID().uuidString)")])
            return try #require(failure { try c.run() }).message
        }
        let manifest = scratch.path("ph/manifest.csv")
        let unknown = try refused("Weight")
        #expect(unknown.contains(manifest) && unknown.contains("\"Weight\"") && unknown.contains("Path, Sex, Age"), "\(unknown)")
        let text = try refused("Effusion Side")
        #expect(text.contains(manifest + ":2") && text.contains("\"Effusion Side\"") && text.contains("not a number"), "\(text)")
        // A numeric column of the phantom's own is a target like age.
        let ctr = try ClassifierTrainCommand.parse(data + ["--regress", "CTR", "--arch", "resnet18", "--resolution", "32",
                                                           "--batch", "4", "--steps", "1", "--device", "cpu", "--threads", "1",
                                                           "--output", scratch.path("ctr")])
        try ctr.run()
        let config = try String(contentsOf: scratch.url("ctr/best/config.json"), encoding: .utf8)
        #expect(config.contains("\"name\" : \"CTR\""), "\(config)")
    }
}
