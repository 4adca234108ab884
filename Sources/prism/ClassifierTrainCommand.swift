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

            Age and sex: --regress Age adds one linear output that predicts the
            patient's age (the Age column of CheXpert and the phantom, NIH's Patient
            Age, MIMIC's anchor_age, a DICOM header, or --age-column), trained with
            the mean squared error of the standardised age (its training mean and
            std are kept in config.json, so predictions come back in years), masked
            where the age is unknown, beside the labels' cross-entropy. Any other
            numeric column regresses the same way (--regress CTR). The label Sex is
            the patient's sex: 1 female, 0 male. --labels may be left out with
            --regress (an age-only regressor):
              prism classifier train --data ph/manifest.csv --images ph \\
                  --regress Age --labels Sex --arch resnet18 --resolution 64 \\
                  --steps 150 --output runs/age
            Validation reports each target's MAE (in its units); best/ is chosen by
            the mean AUROC of the labels, or without labels by the lowest mean MAE.

            --group-weights COLUMN weights each (image, label) entry by the inverse
            frequency of its (label, COLUMN) group, normalised to mean 1 per label, so
            that images where the attribute contradicts the label weigh as much as
            those where it agrees.

            OUTPUT receives: best/ (the weights of the best mean validation AUROC, with
            per-label Youden thresholds chosen on validation in its config.json), last/
            (the final weights), validation.csv, log.csv, curves.png (loss, AUROC, MAE),
            split.csv, run.json and checkpoints/. --resume continues a killed run
            exactly, from its newest checkpoint.
            """
    )

    @OptionGroup var input: LabelledImagesOptions

    @Option(help: ArgumentHelp("The findings to predict, comma-separated (columns of the label file, or Sex: 1 female, 0 male; default with --label-columns or --data-folder: every label).", valueName: "names"))
    var labels: String?

    @Option(help: ArgumentHelp("Numeric targets to regress beside the labels, comma-separated: Age (in years), or a numeric column of the label file.", valueName: "names"))
    var regress: String?

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
        if let regress, regressNames.isEmpty { throw ValidationError("--regress \"\(regress)\": name at least one column (Age)") }
        if labels == nil, regress == nil, !input.data.isGeneric {
            throw ValidationError("give --labels \"A,B\" (the findings to predict; a label file described by --label-columns, "
                                  + "or --data-folder, predicts every label unless --labels says) or --regress Age")
        }
    }

    var labelNames: [String] { Self.names(labels) }
    var regressNames: [String] { Self.names(regress) }

    static func names(_ list: String?) -> [String] {
        (list ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func run() throws {
        let imageRoot = try input.imageRoot()
        try requireWritableFolder(output, "--output")
        loop.applyThreads()
        let outputURL = URL(fileURLWithPath: output)
        let data = try input.loadData()
        let records = data.records
        let wanted = labels == nil ? (regress != nil && !input.data.isGeneric ? [] : data.findings ?? []) : labelNames
        let names = try classifierTry { try LabelTargets.resolve(wanted, records: records, file: data.source, header: data.names) }
        // Read once over every image, so that a missing or non-numeric column is refused before the split is made.
        let regressed = try classifierTry {
            try RegressionTargets.read(regressNames, records: records, table: data.table, file: data.source, header: data.names).names
        }
        let split = try classifierTry { try splitFile.loadOrCreate(for: records, output: outputURL, seed: loop.seed) }
        var options = ClassifierTrainingOptions(
            train: records.filter { split.split(of: $0.patientID) == .train },
            validation: records.filter { split.split(of: $0.patientID) == .validation },
            imageRoot: imageRoot, output: outputURL, labels: names)
        options.regress = regressed
        options.labelTable = data.table
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
                              + "\(resolution) px for \((names + regressed.map { "\($0) (regression)" }).joined(separator: ", ")): "
                              + "\(run.totalSteps) steps of \(loop.batch), "
                              + "validation every \(run.validateEvery) steps, into \(output)")
        var bar: ProgressBar?
        var first = 0
        try classifierTry {
            try run.run(report: { r in
                if bar == nil {
                    first = r.step - 1
                    bar = ProgressBar(total: r.totalSteps - first, label: "train", unit: "step")
                }
                let best = run.history.bestScore.map { String(format: " best \(run.history.scoreName) %.3f", $0) } ?? ""
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
            print(run.history.choosesByMAE ? String(format: "best: step %d, mean validation MAE %.4f", best.step, best.meanMAE)
                  : String(format: "best: step %d, mean validation AUROC %.4f", best.step, best.meanAUROC))
            for (label, (auroc, t)) in zip(run.options.labels, zip(best.auroc, best.thresholds)) {
                print("  " + label.padding(toLength: 24, withPad: " ", startingAt: 0) + String(format: "AUROC %.4f  threshold %.3f", auroc, t))
            }
            for (target, mae) in zip(run.options.regress, best.mae) {
                print("  " + target.padding(toLength: 24, withPad: " ", startingAt: 0) + String(format: "MAE %.4f", mae))
            }
        }
        print("classifiers: \(run.bestURL.path) (best), \(run.lastURL.path) (last); "
              + "log: \(run.logURL.path), \(run.validationURL.path), \(run.curvesURL.path)")
    }
}
