import ArgumentParser
import ClassifierTraining
import Classifiers
import Core
import Datasets
import Foundation
import Torch
import Training

struct ClassifierTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a multi-label chest X-ray classifier (DenseNet-121, ResNet-18/50).",
        discussion: """
            Trains on the train part of a patient-level split and validates on its
            validation part (the split is OUTPUT/split.csv, made if absent; no patient
            is in both). Labels missing from a row, and CheXpert's -1 under
            --uncertain ignore, are masked out of the loss. Images are made gray,
            centre-cropped square and resized; the network sees (x - mean) / std with
            ImageNet's statistics.

            Example:
              prism classifier train --data ph/manifest.csv --images ph \\
                  --labels "Pleural Effusion,Cardiomegaly,Support Devices" \\
                  --arch resnet18 --resolution 128 --batch 32 --steps 400 \\
                  --augment flip,affine --output runs/clf

            Any CSV trains one once its columns are named (--labels then defaults
            to every label column; see "Any label file" below):
              prism classifier train --data derm/labels.csv --images derm \\
                  --path-column file --label-columns lesion,marker \\
                  --label-values positive=yes,negative=no --patient-column subject \\
                  --arch resnet18 --resolution 128 --steps 400 --output runs/derm
            and so does a folder of class folders, one-hot (lesions/benign/x.png,
            lesions/malignant/y.png: the labels benign and malignant):
              prism classifier train --data-folder lesions --arch resnet18 \\
                  --resolution 128 --steps 400 --output runs/lesions
            predict and evaluate take the same data options.

            --group-weights COLUMN weights each (image, label) entry by the inverse
            frequency of its (label, COLUMN) group, normalised to mean 1 per label, so
            that images where the attribute contradicts the label weigh as much as
            those where it agrees.

            OUTPUT receives: best/ (the weights of the best mean validation AUROC, with
            per-label Youden thresholds chosen on validation in its config.json), last/
            (the final weights), validation.csv, log.csv, curves.png (loss and AUROC),
            split.csv, run.json and checkpoints/. --resume continues a killed run
            exactly, from its newest checkpoint.
            """
    )

    @OptionGroup var input: LabelledImagesOptions

    @Option(help: ArgumentHelp("The findings to predict, comma-separated (columns of the label file; default with --label-columns or --data-folder: every label).", valueName: "names"))
    var labels: String?

    @Option(help: ArgumentHelp("The run's folder.", valueName: "dir"))
    var output: String

    @Option(help: "densenet121 | resnet18 | resnet50 (torchvision's definitions).")
    var arch: ClassifierArchitecture = .densenet121

    @Option(help: "Image side in pixels.")
    var resolution = 224

    @Option(help: "Input channels: 1 (gray) or 3 (the gray image repeated, as ImageNet networks take it).")
    var channels = 1

    @OptionGroup var loop: TrainingLoopOptions<ClassifierTrainingDefaults>

    @Option(help: "Random augmentation: flip, affine (rotation ±10°, scale 0.9-1.1, shift ±5%), flip,affine or none.")
    var augment = "none"

    @Option(help: ArgumentHelp("Balance the (label, attribute) groups of this column in the loss (e.g. \"Support Devices\").", valueName: "column"))
    var groupWeights: String?

    @Option(help: "What uncertain labels (-1) become: ignore (masked out) | positive | negative.")
    var uncertain: UncertainPolicy = .ignore

    @Option(help: "Validate every N steps (default: once an epoch).")
    var validateEvery: Int?

    @Option(help: "Write a checkpoint every N steps (default: at every validation).")
    var checkpointEvery: Int?

    @OptionGroup var splitFile: TrainingSplitOption

    @OptionGroup var device: ClassifierDeviceOption

    func validate() throws {
        try requireCount(resolution, "--resolution", atLeast: 32)
        guard channels == 1 || channels == 3 else { throw ValidationError("--channels \(channels): use 1 or 3") }
        try requireCount(validateEvery, "--validate-every", atLeast: 1)
        try requireCount(checkpointEvery, "--checkpoint-every", atLeast: 1)
        do { _ = try Augmentation(parsing: augment) } catch { throw ValidationError("\(error)") }
        if let labels, labelNames.isEmpty { throw ValidationError("--labels \"\(labels)\": name at least one finding") }
        if labels == nil, !input.data.isGeneric {
            throw ValidationError("give --labels \"A,B\" (the findings to predict; a label file described by --label-columns, "
                                  + "or --data-folder, predicts every label unless --labels says)")
        }
    }

    var labelNames: [String] { (labels ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }

    func run() throws {
        let imageRoot = try input.imageRoot()
        try requireWritableFolder(output, "--output")
        loop.applyThreads()
        let outputURL = URL(fileURLWithPath: output)
        let data = try input.loadData()
        let records = data.records
        let wanted = labels == nil ? data.findings ?? [] : labelNames
        let names = try classifierTry { try LabelTargets.resolve(wanted, records: records, file: data.source, header: data.names) }
        let split = try classifierTry { try splitFile.loadOrCreate(for: records, output: outputURL, seed: loop.seed) }
        var options = ClassifierTrainingOptions(
            train: records.filter { split.split(of: $0.patientID) == .train },
            validation: records.filter { split.split(of: $0.patientID) == .validation },
            imageRoot: imageRoot, output: outputURL, labels: names)
        options.architecture = arch
        options.resolution = resolution
        options.window = try input.window.value()
        options.channels = channels
        options.uncertain = uncertain
        options.augmentation = try Augmentation(parsing: augment)
        options.groupAttribute = try groupWeights.map { column in
            try classifierTry { try BinaryAttribute.read(column: column, table: data.requireTable(for: "--group-weights"),
                                                         records: options.train) }
        }
        loop.apply(to: &options.settings)
        options.epochs = loop.epochs
        options.validateEvery = validateEvery
        options.checkpointEvery = checkpointEvery
        options.device = try device.resolved()
        options.resume = loop.resume

        let run = try classifierTry { try ClassifierTrainingRun(options) }
        ClassifierCommand.log("training \(arch.rawValue) on \(options.train.count) images (validating on \(options.validation.count)) at "
                              + "\(resolution) px for \(names.joined(separator: ", ")): \(run.totalSteps) steps of \(loop.batch), "
                              + "validation every \(run.validateEvery) steps, into \(output)")
        var bar: ProgressBar?
        var first = 0
        try classifierTry {
            try run.run(report: { r in
                if bar == nil {
                    first = r.step - 1
                    bar = ProgressBar(total: r.totalSteps - first, label: "train", unit: "step")
                }
                let best = run.history.bestScore.map { String(format: " best AUROC %.3f", $0) } ?? ""
                bar?.update(r.step - first, info: String(format: "step %d/%d loss %.4f lr %.2e", r.step, r.totalSteps, r.loss,
                                                         r.learningRate) + best)
            }, message: ClassifierCommand.log)
        }
        bar?.finish()
        summarize(run)
    }

    func summarize(_ run: ClassifierTrainingRun) {
        let best = run.history.records.last { $0.isBest }
        if let best {
            print(String(format: "best: step %d, mean validation AUROC %.4f", best.step, best.meanAUROC))
            for (label, (auroc, t)) in zip(run.options.labels, zip(best.auroc, best.thresholds)) {
                print("  " + label.padding(toLength: 24, withPad: " ", startingAt: 0) + String(format: "AUROC %.4f  threshold %.3f", auroc, t))
            }
        }
        print("classifiers: \(run.bestURL.path) (best), \(run.lastURL.path) (last); "
              + "log: \(run.logURL.path), \(run.validationURL.path), \(run.curvesURL.path)")
    }
}
