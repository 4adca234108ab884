import ClassifierMetrics
import Classifiers
import Core
import Datasets
import Foundation
import Testing
import Training
@testable import ClassifierTraining

/// Prediction, evaluation and sensitivity of an untrained network on the tiny phantom: the files and their keys.
@Suite struct EvaluationTests {
    let classifier = Classifier(config: ClassifierConfig(architecture: .resnet18, labels: TinyPhantom.labels, resolution: 32,
                                                         thresholds: [0.4, 0.6]), seed: 1)
    var dataset: ImageDataset { ImageDataset(records: TinyPhantom.records, imageRoot: TinyPhantom.folder, resolution: 32) }

    @Test func predictionsHaveOneRowPerImage() throws {
        let out = TinyPhantom.scratch()
        defer { try? FileManager.default.removeItem(at: out) }
        let p = try ClassifierPrediction.probabilities(classifier, dataset: dataset, batchSize: 20)
        #expect(p.count == 48 && p.allSatisfy { $0.count == 2 && $0.allSatisfy { (0...1).contains($0) } })
        // Batching does not change the numbers beyond rounding (eval mode: no batch statistics).
        let rebatched = try ClassifierPrediction.probabilities(classifier, dataset: dataset, batchSize: 7)
        #expect(zip(rebatched.joined(), p.joined()).allSatisfy { abs($0 - $1) < 1e-5 })
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let url = out.appendingPathComponent("predictions.csv")
        try ClassifierPrediction.writeCSV(records: dataset.records, labels: TinyPhantom.labels, probabilities: p, to: url)
        let table = try CSVTable.read(url)
        #expect(table.header == ["path", "patient", "Pleural Effusion", "Cardiomegaly"])
        #expect(table.rows.count == 48 && table.rows[0][0] == "images/000000.png")
    }

    @Test func evaluationWritesMetricsAndDiagrams() throws {
        let out = TinyPhantom.scratch()
        defer { try? FileManager.default.removeItem(at: out) }
        let records = TinyPhantom.records
        let p = try ClassifierPrediction.probabilities(classifier, dataset: dataset)
        let table = try CSVTable.read(TinyPhantom.manifest)
        let devices = try BinaryAttribute.read(column: "Support Devices", table: table, records: records)
        let result = ClassifierEvaluation.evaluate(probabilities: p, targets: LabelTargets(records: records, labels: TinyPhantom.labels, policy: .ignore),
                                                   thresholds: classifier.config.thresholds, attribute: devices,
                                                   bootstrap: Bootstrap(resamples: 50))
        try ClassifierEvaluation.write(result, to: out)
        let json = try JSONFile.object(from: out.appendingPathComponent("metrics.json"))
        #expect(json["attribute"] as? String == "Support Devices")
        let labels = try #require(json["labels"] as? [[String: Any]])
        #expect(labels.count == 2)
        for key in ["label", "count", "auroc", "threshold", "at_threshold", "calibration", "reliability_diagram", "shortcut"] {
            #expect(labels[0][key] != nil, "metrics.json has no labels[0].\(key)")
        }
        let shortcut = try #require(labels[0]["shortcut"] as? [String: Any])
        for key in ["groups", "worst_group_accuracy", "aligned", "conflicting", "gap"] { #expect(shortcut[key] != nil, "no shortcut.\(key)") }
        #expect(labels[1]["threshold"] as? Double == 0.6)
        for file in ["reliability-pleural-effusion.png", "reliability-cardiomegaly.png"] {
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(file).path))
        }
    }

    @Test func aCounterfactualEqualToItsOriginalMovesNothing() throws {
        let paths = TinyPhantom.records.prefix(12).map(\.path)
        let pairs = CounterfactualPairs(originals: paths, counterfactuals: paths, interventions: paths.indices.map { $0 % 2 == 0 ? "a" : "b" })
        let p = try ClassifierPrediction.probabilities(classifier, dataset: ImageDataset(
            records: pairs.distinctPaths.map { Record(path: $0, patientID: "") }, imageRoot: TinyPhantom.folder, resolution: 32))
        let byPath = Dictionary(uniqueKeysWithValues: zip(pairs.distinctPaths, p))
        let result = SensitivityResult(pairs: pairs, labels: TinyPhantom.labels, thresholds: [0.4, 0.6],
                                       bootstrap: Bootstrap(resamples: 50)) { byPath[$0]! }
        #expect(result.groups.map(\.name) == ["all", "a", "b"])
        for group in result.groups {
            for label in group.labels {
                let s = label.sensitivity
                #expect(s.meanAbsoluteShift.value == 0 && s.meanSignedShift.value == 0 && s.flipRate.value == 0)
                #expect(s.meanAbsoluteShift.interval?.upper == 0)
            }
        }
        #expect(result.table().contains("all"))
    }

    @Test func pairsReadTheirColumnsOrThePhantomsLayout() throws {
        let dir = TinyPhantom.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let plain = dir.appendingPathComponent("pairs.csv"), phantom = dir.appendingPathComponent("counterfactuals.csv")
        try "original,counterfactual\na.png,a-cf.png\n".write(to: plain, atomically: true, encoding: .utf8)
        try "Path,Case,Intervention\ncounterfactuals/000003/x=0.png,000003,x=0\n".write(to: phantom, atomically: true, encoding: .utf8)
        #expect(try CounterfactualPairs.read(plain) == CounterfactualPairs(originals: ["a.png"], counterfactuals: ["a-cf.png"]))
        #expect(try CounterfactualPairs.read(phantom) == CounterfactualPairs(originals: ["images/000003.png"],
                                                                             counterfactuals: ["counterfactuals/000003/x=0.png"], interventions: ["x=0"]))
        let error = #expect(throws: DataFileError.self) { try CounterfactualPairs.read(plain, originalColumn: "before") }
        #expect(error?.description.contains("the header has: original, counterfactual") == true)
    }
}
