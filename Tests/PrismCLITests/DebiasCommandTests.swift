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
}
