import ArgumentParser
import Testing
@testable import prism

/// `prism classifier ...` refuses bad option values before reading any file, naming the option and what it allows.
@Suite struct ClassifierCommandTests {
    let train = ["--data", "/nonexistent/labels.csv", "--images", "/nonexistent", "--labels", "Pleural Effusion",
                 "--output", "/nonexistent/run"]

    @Test func trainParsesItsOptions() throws {
        let c = try ClassifierTrainCommand.parse(train + ["--arch", "resnet18", "--resolution", "64", "--channels", "3",
                                                          "--steps", "300", "--augment", "flip,affine",
                                                          "--group-weights", "Support Devices", "--uncertain", "positive"])
        #expect(c.arch == .resnet18 && c.resolution == 64 && c.channels == 3 && c.loop.steps == 300)
        #expect(c.groupWeights == "Support Devices" && c.uncertain == .positive && c.labelNames == ["Pleural Effusion"])
    }

    @Test func trainRefusesBadValues() {
        expectRefused(ClassifierTrainCommand.self, train, saying: "--steps N or --epochs E")
        expectRefused(ClassifierTrainCommand.self, train + ["--steps", "5", "--epochs", "2"], saying: "--steps N or --epochs E")
        expectRefused(ClassifierTrainCommand.self, train + ["--steps", "5", "--augment", "flip,rotate"], saying: "\"rotate\"", "flip, affine")
        expectRefused(ClassifierTrainCommand.self, train + ["--steps", "5", "--channels", "2"], saying: "--channels 2", "1 or 3")
        expectRefused(ClassifierTrainCommand.self, train + ["--steps", "5", "--arch", "vgg16"], saying: "vgg16")
        expectRefused(ClassifierTrainCommand.self, train + ["--steps", "5", "--resolution", "16"], saying: "--resolution 16", "32 or more")
        expectNumbersRefused(ClassifierTrainCommand.self, train + ["--steps", "5"],
                             [("--lr", ["0", "-1"], "> 0"), ("--weight-decay", ["-1"], ">= 0")])
    }

    @Test func evaluateAndSensitivityRefuseBadValues() {
        let evaluate = ["--classifier", "/nonexistent/best", "--data", "/nonexistent/labels.csv", "--images", "/nonexistent",
                        "--output", "/nonexistent/eval"]
        expectRefused(ClassifierEvaluateCommand.self, evaluate + ["--split", "holdout"], saying: "--split holdout", "test")
        expectRefused(ClassifierEvaluateCommand.self, evaluate + ["--bootstrap", "0"], saying: "--bootstrap 0")
        expectRefused(ClassifierPredictCommand.self, ["--classifier", "c", "--data", "d.csv", "--images", "i", "--output", "p.csv",
                                                      "--batch", "0"], saying: "--batch 0")
        expectRefused(ClassifierSensitivityCommand.self, ["--classifier", "c", "--pairs", "p.csv", "--images", "i",
                                                          "--device", "tpu"], saying: "--device tpu")
    }
}
