import ArgumentParser
import ClassifierMetrics
import ClassifierTraining
import Datasets
import Foundation
import Training

struct ClassifierSensitivityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sensitivity",
        abstract: "How much a classifier's probabilities move when each image is replaced by its counterfactual.",
        discussion: """
            Each row of --pairs names an image and its counterfactual (columns
            "original" and "counterfactual"; an "intervention" column, if present,
            also reports each intervention on its own). Per label: mean |Δp|, mean
            signed Δp, and the flip rate at the classifier's threshold, each with a 95%
            bootstrap interval over the pairs. A classifier that uses the edited
            attribute only where it should moves little on an edit that leaves its
            label alone (do(support devices = 0) for Pleural Effusion).

            The phantom's counterfactuals.csv is read as it is (original
            images/CASE.png, counterfactual Path, grouped by Intervention):
              prism phantom generate --output cf --count 200 --size 128 \\
                  --counterfactuals "support_devices=0;pleural_effusion=0"
              prism classifier sensitivity --classifier runs/clf/best \\
                  --pairs cf/counterfactuals.csv --images cf --output runs/clf/cf
            """
    )

    @OptionGroup var model: ClassifierModelOptions

    @Option(help: ArgumentHelp("A CSV of image pairs (original, counterfactual).", valueName: "csv"))
    var pairs: String

    @Option(help: ArgumentHelp("The folder the pairs' paths are relative to.", valueName: "dir"))
    var images: String

    @Option(help: ArgumentHelp("Also write metrics.json into this folder.", valueName: "dir"))
    var output: String?

    @Option(help: "The column of the original images.")
    var originalColumn = "original"

    @Option(help: "The column of the counterfactual images.")
    var counterfactualColumn = "counterfactual"

    @OptionGroup var bootstrap: BootstrapOptions

    @Flag(help: "Print metrics.json to standard output instead of the table.")
    var json = false

    func run() throws {
        try requireRegularFile(pairs, "--pairs")
        try requireFolder(images, "--images")
        let folder = try output.map { try prepareOutputFolder($0) }
        let classifier = try model.load()
        let list = try classifierTry {
            try CounterfactualPairs.read(URL(fileURLWithPath: pairs), originalColumn: originalColumn, counterfactualColumn: counterfactualColumn)
        }
        let paths = list.distinctPaths
        let dataset = ImageDataset(records: paths.map { Record(path: $0, patientID: "") }, imageRoot: URL(fileURLWithPath: images),
                                   resolution: classifier.config.resolution)
        try classifierTry { try dataset.checkFilesExist() }
        let probabilities = try classifierProbabilities(classifier, dataset, batch: model.batch)
        let byPath = Dictionary(uniqueKeysWithValues: zip(paths, probabilities))
        let result = SensitivityResult(pairs: list, labels: classifier.config.labels, thresholds: classifier.config.thresholds,
                                       bootstrap: bootstrap.value) { byPath[$0]! }
        if let folder { try classifierTry { try result.write(to: folder) } }
        if json {
            print(String(decoding: try MetricsJSON.encode(result), as: UTF8.self))
        } else {
            print("\(list.count) pairs, \(paths.count) images; thresholds \(classifier.config.thresholds.map { String(format: "%.3f", $0) }.joined(separator: ", "))")
            print(result.table())
            if let folder { print("wrote \(folder.appendingPathComponent("metrics.json").path)") }
        }
    }
}
