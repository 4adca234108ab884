import ArgumentParser
import ClassifierTraining
import Foundation

struct ClassifierPredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Write a classifier's probabilities (and regressed values) for every image of a label file.",
        discussion: """
            Writes a CSV with one row per image: path, patient, then one probability
            (sigmoid of the logit) per label of the classifier, in its order, then
            one column per regression target in its units (Age in years).

            Example:
              prism classifier predict --classifier runs/clf/best \\
                  --data ph/manifest.csv --images ph --output predictions.csv
            """
    )

    @OptionGroup var model: ClassifierModelOptions
    @OptionGroup var input: ClassifierInputOptions

    @Option(help: ArgumentHelp("The CSV to write.", valueName: "csv"))
    var output: String

    func run() throws {
        try requireWritableFolder(URL(fileURLWithPath: output).deletingLastPathComponent().path, "--output")
        let classifier = try model.load()
        let (records, _) = try input.load(classifier: model.classifier)
        let dataset = try input.dataset(records, resolution: classifier.config.resolution)
        let outputs = try classifierOutputs(classifier, dataset, batch: model.batch)
        try classifierTry { try ClassifierPrediction.writeCSV(records: records, outputs: outputs, to: URL(fileURLWithPath: output)) }
        print("\(records.count) images → \(output) (\(classifier.config.outputNames.joined(separator: ", ")))")
    }
}
