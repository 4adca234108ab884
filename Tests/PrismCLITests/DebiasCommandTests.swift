import Classifiers
import Foundation
import Testing
@testable import prism

/// `prism debias` as a user meets it before any work starts: the data source, the methods and the counts checked.
@Suite struct DebiasCommandTests {
    @Test func refusedOptionsSaySo() {
        expectRefused(DebiasCommand.self, ["--output", "o"], saying: "--phantom", "--data")
        expectRefused(DebiasCommand.self, ["--output", "o", "--phantom", "--data", "x.csv", "--images", "i"], saying: "not both")
        expectRefused(DebiasCommand.self, ["--output", "o", "--data", "x.csv"], saying: "--images")
        expectRefused(DebiasCommand.self, ["--output", "o", "--phantom", "--methods", "baseline,mixup"], saying: "mixup", "counterfactual")
        expectRefused(DebiasCommand.self, ["--output", "o", "--data", "x.csv", "--images", "i", "--methods", "baseline,oracle"],
                      saying: "oracle", "--phantom")
        expectRefused(DebiasCommand.self, ["--output", "o", "--phantom", "--spurious", "1.5"], saying: "--spurious")
        expectRefused(DebiasCommand.self, ["--output", "o", "--phantom", "--seeds", "0"], saying: "--seeds")
        expectRefused(DebiasCommand.self, ["--output", "o", "--phantom", "--inversion", "magic"], saying: "magic")
        expectNumbersRefused(DebiasCommand.self, ["--output", "o", "--phantom"], [("--emphasis", ["0", "-1"], "> 0")])
        expectNumbersRefused(EvaluateCounterfactualsCommand.self,
                             ["--output", "o", "--phantom", "--classifier", "c", "--edit", "remove support devices"],
                             [("--emphasis", ["0"], "> 0")])
    }

    @Test func theDefaultsAreAcceptedAndAnUnknownLabelIsNamed() throws {
        #expect(refusal(DebiasCommand.self, ["--output", "o", "--phantom"]) == nil)
        let scratch = try Scratch()
        defer { scratch.remove() }
        let csv = try scratch.write("Path,Sex,Age,No Finding,Cardiomegaly,Support Devices\nimages/a.png,Male,50,1,0,0\n", to: "m.csv")
        try FileManager.default.createDirectory(at: scratch.url("images"), withIntermediateDirectories: true)
        let command = try DebiasCommand.parse(["--data", csv, "--images", scratch.path("images"), "--output", scratch.path("out"),
                                               "--label", "Pneumonia"])
        let failed = failure { try command.run() }
        #expect(failed?.message.contains("Pneumonia") == true && failed?.message.contains("m.csv") == true
                && failed?.message.contains("Cardiomegaly") == true, "\(failed?.message ?? "no error")")
        #expect(failed?.status == 1)
    }
}

/// `prism audit` and `prism evaluate counterfactuals` refuse what cannot work before any model loads.
@Suite struct AuditAndEvaluateCommandTests {
    @Test func refusedOptionsSaySo() {
        expectRefused(AuditCommand.self, ["--output", "o"], saying: "--phantom", "--data")
        expectRefused(AuditCommand.self, ["--output", "o", "--data", "x.csv", "--images", "i"], saying: "--classifier")
        expectRefused(AuditCommand.self, ["--output", "o", "--data", "x.csv", "--images", "i", "--classifier", "c",
                                          "--editor", "oracle-total"], saying: "oracle-total", "--phantom")
        expectRefused(EvaluateCounterfactualsCommand.self, ["--output", "o", "--phantom", "--classifier", "c"], saying: "--edit")
        expectRefused(EvaluateCounterfactualsCommand.self, ["--output", "o", "--phantom", "--classifier", "c", "--edit", "paint it"],
                      saying: "paint it", "remove FINDING")
        expectRefused(EvaluateCounterfactualsCommand.self, ["--output", "o", "--data", "x.csv", "--classifier", "c",
                                                            "--edit", "remove cardiomegaly"], saying: "--images")
    }

    /// A model's phantom audit also reads the phantom's true counterfactuals of the same cases with the same
    /// classifier: its oracle matrices equal the oracle audits run on their own (at the classifier's resolution,
    /// here the tiny model's 64 px, as the model's cases are rendered).
    @Test func aModelsPhantomAuditComesWithTheOraclesOfTheSameCases() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let classifier = scratch.url("clf")
        try Classifier(config: ClassifierConfig(architecture: .resnet18, labels: ["Cardiomegaly", "Support Devices", "Pacemaker"],
                                                resolution: 64), seed: 1).save(to: classifier)
        func audit(_ editor: String) throws -> [String: Any] {
            let out = scratch.url(editor)
            try AuditCommand.parse(["--phantom", "--seed", "11", "--count", "6", "--model", tinyPipeline.path,
                                    "--classifier", classifier.path, "--edit", "remove support devices", "--edit", "add cardiomegaly",
                                    "--editor", editor, "--inversion", "ddim", "--steps", "2", "--output", out.path]).run()
            let data = try Data(contentsOf: out.appendingPathComponent("metrics.json"))
            return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        }
        func changes(_ cells: Any?) -> [String] {
            ((cells as? [[String: Any]]) ?? []).map { "\($0["edit"]!) \($0["label"]!) \($0["mean_change"]!) \($0["count"]!)" }
        }
        let model = try audit("model"), direct = try audit("oracle-direct"), total = try audit("oracle-total")
        #expect(changes(model["cells"]).count == 6)
        #expect(changes(model["oracle_direct_cells"]) == changes(direct["cells"]))
        #expect(changes(model["oracle_total_cells"]) == changes(total["cells"]))
        #expect(direct["oracle_direct_cells"] == nil && total["oracle_total_cells"] == nil)
        let wrongSize = try #require(failure {
            try AuditCommand.parse(["--phantom", "--count", "2", "--model", tinyPipeline.path, "--classifier", classifier.path,
                                    "--size", "32", "--output", scratch.path("wrong")]).run()
        })
        #expect(wrongSize.message.contains("--size 32") && wrongSize.message.contains("64"), "\(wrongSize.message)")
    }
}
