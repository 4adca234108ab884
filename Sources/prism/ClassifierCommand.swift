import ArgumentParser
import ClassifierTraining
import ClassifierMetrics
import Classifiers
import Core
import Datasets
import Foundation
import Torch
import Training

extension ClassifierArchitecture: ExpressibleByArgument {}

struct ClassifierCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classifier",
        abstract: "Chest X-ray classifiers: train, predict, evaluate (with the shortcut measured) and test on counterfactuals.",
        discussion: """
            A classifier folder holds config.json (architecture, labels, input channels,
            resolution, normalisation, per-label thresholds, and the mean and std of
            any regression target such as Age) and model.safetensors (torchvision's
            state dict: torchvision's load_state_dict takes it).

            A typical study on the phantom, whose --spurious ties support devices to
            pleural effusion:
              prism phantom generate --output ph --count 600 --size 128 --spurious 0.8
              prism classifier train --data ph/manifest.csv --images ph \\
                  --labels "Pleural Effusion,Cardiomegaly" --arch resnet18 \\
                  --resolution 128 --steps 300 --output runs/clf
              prism classifier evaluate --classifier runs/clf/best \\
                  --data ph/manifest.csv --images ph --split test \\
                  --groups "Support Devices" --output runs/clf/eval
            """,
        subcommands: [ClassifierTrainCommand.self, ClassifierPredictCommand.self, ClassifierEvaluateCommand.self,
                      ClassifierSensitivityCommand.self]
    )

    /// Writes a line to standard error.
    static func log(_ message: String) { FileHandle.standardError.write(Data((message + "\n").utf8)) }
}

/// The images a trained classifier is run on: a label file and its image root (or a folder of class folders), and
/// optionally one part of the patient split the classifier was trained with.
struct ClassifierInputOptions: ParsableArguments {
    @OptionGroup var input: LabelledImagesOptions

    @OptionGroup var split: SplitPartOption<UseSplitPart>

    @Option(help: ArgumentHelp("The patient split file (patient_id,split) (default: split.csv beside the classifier folder, as `classifier train` writes it).", valueName: "csv"))
    var splitFile: String?

    /// The dataset's records, of the asked part of the split, checked to exist; and what they came from (the label
    /// file's table, for attribute columns).
    func load(classifier: String) throws -> (records: [Record], data: LabelledData) {
        _ = try input.imageRoot()
        let data = try input.loadData()
        var records = data.records
        if !split.isAll {
            let file = splitFile.map { URL(fileURLWithPath: $0) }
                ?? URL(fileURLWithPath: classifier).standardizedFileURL.deletingLastPathComponent().appendingPathComponent("split.csv")
            guard FileManager.default.fileExists(atPath: file.path) else {
                throw CLIError("--split \(split.split): \(file.path): no such split file; give --split-file (the training run's split.csv)")
            }
            let s = try classifierTry { try PatientSplit.read(file) }
            records = split.records(records, of: s)
        }
        guard !records.isEmpty else {
            throw CLIError("\(input.data.data == nil ? "--data-folder" : "--data") \(data.source): no images"
                           + (split.isAll ? "" : " in the \(split.split) part of the split"))
        }
        return (records, data)
    }

    func dataset(_ records: [Record], resolution: Int) throws -> ImageDataset {
        let dataset = ImageDataset(records: records, imageRoot: try input.imageRoot(), resolution: resolution,
                                   window: try input.window.value())
        try classifierTry { try dataset.checkFilesExist() }
        return dataset
    }
}

/// Where a classifier runs: the folder and the device.
struct ClassifierModelOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A classifier folder (config.json and model.safetensors), e.g. RUN/best.", valueName: "dir"))
    var classifier: String

    @Option(help: "Images per forward pass.")
    var batch = 32

    @OptionGroup var device: ClassifierDeviceOption

    func validate() throws { try requireCount(batch, "--batch", atLeast: 1) }

    func load() throws -> Classifier {
        try requireFolder(classifier, "--classifier")
        do {
            return try Classifier.load(from: URL(fileURLWithPath: classifier), device: try device.resolved())
        } catch {
            throw CLIError("--classifier \(describingFileErrors(error))")
        }
    }
}

/// `--device` of the classifier commands: the fastest device here unless asked.
struct ClassifierDeviceOption: ParsableArguments {
    @Option(help: "cpu, cuda, cuda:N or auto.")
    var device = "auto"

    func validate() throws { _ = try resolved() }

    /// The device, refused when this process cannot use it.
    func resolved() throws -> Device { try requireDevice(device) }
}

/// The bootstrap of a classifier measurement's 95% intervals.
struct BootstrapOptions: ParsableArguments {
    @Option(help: "Bootstrap resamples of the intervals.")
    var bootstrap = 1000

    @Option(help: "Seed of the bootstrap.")
    var seed: UInt64 = 0

    func validate() throws { try requireCount(bootstrap, "--bootstrap", atLeast: 1) }

    var value: Bootstrap { Bootstrap(resamples: bootstrap, seed: seed) }
}

/// Library errors (a bad file, a missing column, a refused resume) as one clean line and exit status 1.
func classifierTry<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as CLIError { throw error } catch let error as ValidationError { throw error } catch {
        throw CLIError("\(describingFileErrors(error))")
    }
}

/// Probabilities of `dataset`'s images under `classifier`, with a progress bar on long runs.
func classifierProbabilities(_ classifier: Classifier, _ dataset: ImageDataset, batch: Int) throws -> [[Double]] {
    try classifierOutputs(classifier, dataset, batch: batch).probabilities
}

/// Probabilities and regressed values of `dataset`'s images under `classifier`, with a progress bar on long runs.
func classifierOutputs(_ classifier: Classifier, _ dataset: ImageDataset, batch: Int) throws -> ClassifierOutputs {
    let bar = dataset.count >= 256 ? ProgressBar(total: dataset.count, label: "predict", unit: "image") : nil
    let p = try classifierTry {
        try ClassifierPrediction.outputs(classifier, dataset: dataset, batchSize: batch) { done, _ in bar?.update(done) }
    }
    bar?.finish()
    return p
}

