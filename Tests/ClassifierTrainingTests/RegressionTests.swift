import ClassifierMetrics
import Classifiers
import Core
import Datasets
import Foundation
import Imaging
import Testing
import Training
@testable import ClassifierTraining

/// Age as a regression target and sex as a label: the data they are read from, the config that keeps them, the
/// training that learns them and the numbers that report them.
@Suite(.serialized) struct RegressionTests {
    /// 48 images of 32 pixels whose brightness grows with the patient's age (20-80 years), each its own patient.
    static let brightness: (folder: URL, records: [Record]) = {
        let folder = TinyPhantom.scratch()
        try! FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var rng = SplitMix64(seed: 11)
        let records = (0..<48).map { i -> Record in
            let age = 20 + Int(rng.next() % 61)
            let level = 0.15 + 0.7 * Float(age - 20) / 60
            var floats: [Float] = []
            for y in 0..<32 { for x in 0..<32 { floats.append(level * (0.75 + 0.25 * Float((x * 5 + y * 3) % 11) / 10)) } }
            try! Image(floats: floats, width: 32, height: 32, bitDepth: 8).writePNG(to: folder.appendingPathComponent("\(i).png"))
            return Record(path: "\(i).png", patientID: "p\(i)", sex: i % 2 == 0 ? .female : .male, age: age, line: i + 2)
        }
        return (folder, records)
    }()

    @Test func aTinyRegressorLearnsAgeFromBrightness() throws {
        let out = TinyPhantom.scratch()
        defer { try? FileManager.default.removeItem(at: out) }
        let (folder, records) = Self.brightness
        var options = ClassifierTrainingOptions(train: Array(records.prefix(36)), validation: Array(records.dropFirst(36)),
                                                imageRoot: folder, output: out, labels: [])
        options.regress = ["age"]
        options.architecture = .resnet18
        options.resolution = 32
        options.settings.batchSize = 8
        options.settings.totalSteps = 36
        options.settings.learningRate = 1e-3
        options.settings.weightDecay = 0
        options.settings.seed = 3
        options.validateEvery = 18
        options.checkpointEvery = 36
        let run = try ClassifierTrainingRun(options)
        try run.run()

        // The target keeps its canonical name, its training mean and std, and the best weights are chosen by MAE.
        let train = options.train.map { Double($0.age!) }
        let mean = train.reduce(0, +) / Double(train.count)
        let best = try Classifier.load(from: run.bestURL)
        #expect(best.config.labels.isEmpty && best.config.regressionTargets.map(\.name) == ["Age"])
        #expect(abs(best.config.regressionTargets[0].mean - mean) < 1e-9)
        #expect(run.history.choosesByMAE && run.history.scoreName == "MAE")
        let bestRecord = try #require(run.history.records.last { $0.isBest })
        #expect(bestRecord.meanMAE == run.history.records.map(\.meanMAE).min())

        // Better than predicting the training mean, in years, on the validation images (36 steps give about 9
        // years against 16.2; the margin absorbs the rounding of other thread counts).
        let validation = ImageDataset(records: options.validation, imageRoot: folder, resolution: 32)
        let outputs = try ClassifierPrediction.outputs(best, dataset: validation)
        let predicted = try #require(outputs.regression("Age"))
        let truth = options.validation.map { Double($0.age!) }
        let mae = zip(predicted, truth).map { abs($0 - $1) }.reduce(0, +) / Double(truth.count)
        let baseline = truth.map { abs($0 - mean) }.reduce(0, +) / Double(truth.count)
        #expect(mae < 0.75 * baseline, "MAE \(mae) years against \(baseline) for the mean")
        #expect(abs(mae - bestRecord.mae[0]) < 1e-3, "validation.csv's MAE is the one of best/")
        #expect(outputs.probabilities.allSatisfy { $0.isEmpty })

        let header = try String(contentsOf: run.validationURL, encoding: .utf8).split(separator: "\n")[0]
        #expect(header == "step,epoch,train_loss,mean_auroc,best,mae Age")
        let reread = try ValidationHistory.read(run.validationURL, labels: [], regressionNames: ["Age"])
        #expect(reread.records.map(\.step) == [18, 36] && reread.records.map(\.isBest) == run.history.records.map(\.isBest))
        #expect(zip(reread.records, run.history.records).allSatisfy { abs($0.mae[0] - $1.mae[0]) < 1e-5 })
    }

    @Test func sexIsALabelAndAgeATargetOnThePhantom() throws {
        let out = TinyPhantom.scratch()
        defer { try? FileManager.default.removeItem(at: out) }
        var options = TinyPhantom.options(output: out, steps: 2)
        options.labels = try LabelTargets.resolve(["sex", "Cardiomegaly"], records: TinyPhantom.records,
                                                  file: "manifest.csv", header: [])
        options.regress = ["Age"]
        #expect(options.labels == ["Sex", "Cardiomegaly"])
        let run = try ClassifierTrainingRun(options)
        try run.run()
        let best = try Classifier.load(from: run.bestURL)
        #expect(best.config.labels == ["Sex", "Cardiomegaly"] && best.config.outputNames == ["Sex", "Cardiomegaly", "Age"])
        #expect(best.store.stateDict().first { $0.name == "fc.weight" }?.tensor.shape == [3, 512])
        #expect(!run.history.choosesByMAE, "with labels, best/ is chosen by the mean AUROC")
        #expect(run.history.records.allSatisfy { $0.mae.count == 1 && !$0.mae[0].isNaN && $0.auroc.count == 2 })

        // Sex: 1 female, 0 male, from the manifest's Sex column (Female / Male).
        let records = TinyPhantom.records
        let targets = LabelTargets(records: records, labels: ["Sex"], policy: .ignore)
        #expect(targets.targets.map { $0[0] == 1 } == records.map { $0.sex == .female })
        #expect(targets.mask.allSatisfy { $0 == [1] } && Set(targets.targets.map { $0[0] }) == [0, 1])
    }

    @Test func configKeepsRegressionTargetsAndOldConfigsStillLoad() throws {
        let out = TinyPhantom.scratch()
        defer { try? FileManager.default.removeItem(at: out) }
        let config = ClassifierConfig(architecture: .resnet18, labels: ["Sex"], resolution: 32,
                                      regressionTargets: [RegressionTarget(name: "Age", mean: 57.5, std: 16.25)])
        let classifier = Classifier(config: config, seed: 2)
        try classifier.save(to: out)
        let loaded = try Classifier.load(from: out)
        #expect(loaded.config == config && loaded.config.outputCount == 2)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("config.json"))) as? [String: Any])
        let targets = try #require(json["regression_targets"] as? [[String: Any]])
        #expect(targets.count == 1 && targets[0]["name"] as? String == "Age" && targets[0]["std"] as? Double == 16.25)
        // The weights are torchvision's keys: only the final layer's width grows.
        let plain = Classifier(config: ClassifierConfig(architecture: .resnet18, labels: ["a", "b"], resolution: 32))
        #expect(classifier.store.names == plain.store.names)
        #expect(zip(classifier.store.stateDict(), plain.store.stateDict()).allSatisfy { $0.tensor.shape == $1.tensor.shape })
        // A regression output maps to years through the stored mean and std.
        #expect(config.regressionTargets[0].value(2) == 57.5 + 2 * 16.25)
        #expect(config.regressionTargets[0].standardized(57.5 + 16.25) == 1)

        // A config written before regression targets existed loads, and a label-only config is written as before.
        let old = out.appendingPathComponent("old.json")
        try Data("""
            {"architecture": "resnet18", "labels": ["Cardiomegaly"], "in_channels": 1, "resolution": 64,
             "mean": [0.449], "std": [0.226], "thresholds": [0.4]}
            """.utf8).write(to: old)
        let legacy = try JSONFile.decode(ClassifierConfig.self, from: old)
        #expect(legacy.regressionTargets.isEmpty && legacy.outputCount == 1 && legacy.outputNames == ["Cardiomegaly"])
        #expect(!String(decoding: try legacy.encoded(), as: UTF8.self).contains("regression"))

        // What cannot work is refused naming the key.
        for bad in [#""labels": [], "regression_targets": []"#,
                    #""labels": ["Sex"], "regression_targets": [{"name": "Age", "mean": 50, "std": 0}]"#,
                    #""labels": ["Age"], "regression_targets": [{"name": "Age", "mean": 50, "std": 10}]"#] {
            try Data("{\"architecture\": \"resnet18\", \(bad), \"in_channels\": 1, \"resolution\": 64, \"mean\": [0.4], \"std\": [0.2]}".utf8)
                .write(to: old)
            let error = #expect(throws: (any Error).self) { try JSONFile.decode(ClassifierConfig.self, from: old) }
            #expect("\(error!)".contains(bad.contains("[]") ? "labels" : "regression_targets"), "\(error!)")
        }
    }

    @Test func badColumnsAreRefusedNamingTheFileAndTheColumn() throws {
        let table = try CSVTable.parse("Path,Age,CTR,Side\na.png,50,0.52,left\nb.png,,0.61,none\nc.png,70,n/a,right\n",
                                       file: "labels.csv")
        let records = ["a.png", "b.png", "c.png"].enumerated().map { i, p in
            Record(path: p, patientID: p, age: i == 1 ? nil : 50 + 10 * i, line: i + 2)
        }
        // Age from the records (blank: unknown); another column read as numbers.
        let age = try RegressionTargets.read(["AGE"], records: records, table: table, file: "labels.csv", header: table.header)
        #expect(age.names == ["Age"] && age.values == [[50], [nil], [70]])
        #expect(age.known(0).indices == [0, 2] && age.statistics(0).mean == 60 && age.statistics(0).std == 10)
        let ctr = try RegressionTargets.read(["CTR"], records: Array(records.prefix(2)), table: table, file: "labels.csv",
                                             header: table.header)
        #expect(ctr.values == [[0.52], [0.61]])

        func message(_ names: [String], _ records: [Record]) -> String {
            do {
                _ = try RegressionTargets.read(names, records: records, table: table, file: "labels.csv", header: table.header)
                return "accepted"
            } catch { return "\(error)" }
        }
        let nonNumeric = message(["CTR"], records)
        #expect(nonNumeric.contains("labels.csv:4") && nonNumeric.contains("\"CTR\"") && nonNumeric.contains("\"n/a\""), "\(nonNumeric)")
        let text = message(["Side"], records)
        #expect(text.contains("labels.csv:2") && text.contains("\"Side\"") && text.contains("not a number"), "\(text)")
        let unknown = message(["Weight"], records)
        #expect(unknown.contains("labels.csv") && unknown.contains("\"Weight\"") && unknown.contains("Path, Age, CTR, Side"), "\(unknown)")
        // With no age in the records (a generic file without --age-column), a column named Age is read.
        let ageless = records.map { var r = $0; r.age = nil; return r }
        #expect(try RegressionTargets.read(["Age"], records: ageless, table: table, file: "labels.csv", header: table.header).values
                == [[50], [nil], [70]])
        let noAge = (try? RegressionTargets.read(["Age"], records: ageless, table: nil, file: "images", header: [])).map { _ in "accepted" }
        #expect(noAge == nil, "no age anywhere is refused")
        #expect(message(["Age", "age"], records).contains("named twice"))

        // A non-numeric Age of a known label file is refused as it is read, naming the file, the line and the column.
        let manifest = TinyPhantom.scratch()
        try FileManager.default.createDirectory(at: manifest, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: manifest) }
        let file = manifest.appendingPathComponent("manifest.csv")
        try Data("Path,Sex,Age,Cardiomegaly\na.png,Female,old,1\n".utf8).write(to: file)
        let error = #expect(throws: DataFileError.self) { try Manifest.load(file) }
        #expect(error?.description.contains("manifest.csv:2") == true && error?.description.contains("\"Age\"") == true,
                "\(String(describing: error))")

        // Sex as a label needs a sex somewhere.
        let sexless = #expect(throws: DataFileError.self) {
            try LabelTargets.resolve(["Sex"], records: records, file: "labels.csv", header: table.header)
        }
        #expect(sexless?.description.contains("labels.csv") == true && sexless?.description.contains("sex") == true)
    }

    @Test func evaluationReportsTheMAEWithItsInterval() throws {
        let out = TinyPhantom.scratch()
        defer { try? FileManager.default.removeItem(at: out) }
        let records = (0..<40).map { Record(path: "\($0).png", patientID: "\($0)", sex: $0 % 3 == 0 ? .female : .male,
                                             age: $0 == 5 ? nil : 30 + $0, line: $0 + 2) }
        let truth = try RegressionTargets.read(["Age"], records: records, table: nil, file: "x", header: [])
        // Predictions 2 years high for even images, 4 years low for odd ones: MAE 3, bias -1.
        let predictions = records.indices.map { [Double(30 + $0) + ($0 % 2 == 0 ? 2 : -4)] }
        let probabilities = records.indices.map { [$0 % 3 == 0 ? 0.8 : 0.3] }
        let result = ClassifierEvaluation.evaluate(probabilities: probabilities,
                                                   targets: LabelTargets(records: records, labels: ["Sex"], policy: .ignore),
                                                   thresholds: [0.5], bootstrap: Bootstrap(resamples: 200, seed: 1),
                                                   regression: truth, predictions: predictions,
                                                   regressionTargets: [RegressionTarget(name: "Age", mean: 50, std: 12)])
        #expect(result.labels[0].auroc.value == 1)
        let age = try #require(result.regression?.first)
        #expect(age.target == "Age" && age.metrics.count == 39)
        let odd = Double(records.indices.filter { $0 != 5 && $0 % 2 == 1 }.count)
        #expect(abs(age.metrics.meanAbsoluteError.value - (2 * (39 - odd) + 4 * odd) / 39) < 1e-12)
        let interval = try #require(age.metrics.meanAbsoluteError.interval)
        #expect(interval.lower >= 2 && interval.upper <= 4 && interval.contains(age.metrics.meanAbsoluteError.value))
        #expect(age.metrics.correlation.value > 0.9 && age.metrics.constant == 50)

        try ClassifierEvaluation.write(result, to: out)
        let json = try JSONFile.object(from: out.appendingPathComponent("metrics.json"))
        let regression = try #require((json["regression"] as? [[String: Any]])?.first)
        let metrics = try #require(regression["metrics"] as? [String: Any])
        #expect(regression["target"] as? String == "Age")
        let written = try #require((metrics["mean_absolute_error"] as? [String: Any])?["value"] as? Double)
        #expect(abs(written - age.metrics.meanAbsoluteError.value) < 1e-9)
        for key in ["correlation", "bias", "root_mean_squared_error", "constant_mae"] { #expect(metrics[key] != nil, "\(key)") }

        // Without regression targets metrics.json has no regression key.
        let plain = ClassifierEvaluation.evaluate(probabilities: probabilities,
                                                  targets: LabelTargets(records: records, labels: ["Sex"], policy: .ignore),
                                                  thresholds: [0.5], bootstrap: Bootstrap(resamples: 10))
        #expect(plain.regression == nil)

        // predictions.csv: the labels' probabilities, then the regression targets in years.
        let outputs = ClassifierOutputs(labels: ["Sex"], regressionNames: ["Age"], probabilities: probabilities, regressions: predictions)
        #expect(outputs.regression("age") == predictions.map { $0[0] } && outputs.probability("Sex")?.count == 40)
        try ClassifierPrediction.writeCSV(records: records, outputs: outputs, to: out.appendingPathComponent("p.csv"))
        let table = try CSVTable.read(out.appendingPathComponent("p.csv"))
        #expect(table.header == ["path", "patient", "Sex", "Age"] && table.rows[0] == ["0.png", "0", "0.800000", "32.0000"])
    }
}
