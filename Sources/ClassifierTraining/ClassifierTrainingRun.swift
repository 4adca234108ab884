import Classifiers
import Core
import Datasets
import Foundation
import Imaging
import NN
import Torch
import Training

/// Everything a classifier training run is made of, as `prism classifier train` gathers it.
public struct ClassifierTrainingOptions: Sendable {
    /// The images trained on and those validated on (patient-disjoint: the split's train and validation parts).
    public var train: [Record]
    public var validation: [Record]
    public var imageRoot: URL
    /// How DICOM images become gray levels (their own window by default).
    public var window: DICOMWindow = .auto
    public var output: URL
    /// Canonical finding names (and ``LabelTargets/sex``), one output each; may be empty when `regress` is not.
    public var labels: [String]
    /// Numeric targets regressed beside the labels, one linear output each after the labels' logits: `Age`, or a
    /// numeric column of `labelTable` (see ``RegressionTargets``).
    public var regress: [String] = []
    /// The label file the records were read from: where regression targets other than the records' age are read
    /// (nil: only `Age`).
    public var labelTable: CSVTable?
    public var architecture = ClassifierArchitecture.densenet121
    public var resolution = 224
    public var channels = 1
    public var uncertain = UncertainPolicy.ignore
    public var augmentation = Augmentation()
    /// The attribute of each training image whose (label, attribute) groups the loss balances; nil: no weights.
    public var groupAttribute: BinaryAttribute?
    /// Batch size, learning rate, schedule, weight decay, seed, steps, checkpoints (`totalSteps` is replaced when
    /// `epochs` is given).
    public var settings = TrainingSettings()
    public var epochs: Int?
    /// Validate every this many steps; nil: once an epoch.
    public var validateEvery: Int?
    /// Write a checkpoint every this many steps; nil: at every validation.
    public var checkpointEvery: Int?
    public var device = Device.cpu
    /// Continue from the newest checkpoint in `output`.
    public var resume = false

    public init(train: [Record], validation: [Record], imageRoot: URL, output: URL, labels: [String]) {
        self.train = train
        self.validation = validation
        self.imageRoot = imageRoot
        self.output = output
        self.labels = labels
        settings.schedule = .cosine
        settings.warmupSteps = 0
        settings.learningRate = 1e-4
        settings.weightDecay = 1e-5
        settings.batchSize = 32
        settings.keepCheckpoints = 2
    }
}

/// A classifier training run on the one ``Trainer``: the task, the data, validation every epoch (or every
/// `validateEvery` steps) with per-label AUROC and per-regression-target MAE, the best weights by mean validation
/// AUROC (by mean validation MAE when there are no labels) kept as the classifier folder `best/` (with Youden
/// thresholds chosen on validation in its config) and the final ones as `last/`,
/// `validation.csv` beside the trainer's `log.csv`, and `curves.png`. A killed run resumes exactly: weights,
/// optimizer, data order and augmentation from the checkpoint, the validation history and best score from
/// `validation.csv` cut back to the checkpoint's step.
public final class ClassifierTrainingRun {
    public let options: ClassifierTrainingOptions
    public let classifier: Classifier
    public let trainData: ImageDataset
    public let validationData: ImageDataset
    public let validationTargets: LabelTargets
    /// The validation images' regression targets, in their units.
    public let validationRegression: RegressionTargets
    let trainer: Trainer<ClassifierTrainingTask>
    public let validateEvery: Int
    public private(set) var history: ValidationHistory
    /// The step the run started from (non-zero after a resume).
    public private(set) var startStep = 0

    public var output: URL { options.output }
    public var totalSteps: Int { trainer.settings.totalSteps }
    public var step: Int { trainer.state.step }
    public var bestURL: URL { output.appendingPathComponent("best") }
    public var lastURL: URL { output.appendingPathComponent("last") }
    public var validationURL: URL { output.appendingPathComponent("validation.csv") }
    public var curvesURL: URL { output.appendingPathComponent("curves.png") }
    public var logURL: URL { trainer.logURL }
    public var runFolder: RunFolder { RunFolder(output) }
    public var runURL: URL { runFolder.descriptionURL }
    public var checkpoints: CheckpointFolder { trainer.checkpoints }

    /// Checks the data (every image exists and decodes), the labels and the output folder, and builds the network;
    /// nothing is written or trained yet.
    public init(_ options: ClassifierTrainingOptions, checkingImages: (Int, Int) -> Void = { _, _ in }) throws {
        var options = options
        guard !options.train.isEmpty else { throw TrainingRunError("no images to train on (the split's train part is empty)") }
        guard !options.validation.isEmpty else {
            throw TrainingRunError("no images to validate on (the split's validation part is empty): give more patients")
        }
        guard !options.labels.isEmpty || !options.regress.isEmpty else {
            throw TrainingRunError("nothing to learn: give at least one label or regression target")
        }
        let source = options.labelTable?.file ?? "the training data", header = options.labelTable?.header ?? []
        let trainRegression = try RegressionTargets.read(options.regress, records: options.train, table: options.labelTable,
                                                         file: source, header: header)
        validationRegression = try RegressionTargets.read(options.regress, records: options.validation,
                                                          table: options.labelTable, file: source, header: header)
        let regressionTargets = try trainRegression.names.indices.map { j -> RegressionTarget in
            let (mean, std, count) = trainRegression.statistics(j)
            let name = trainRegression.names[j]
            guard count >= 2, std > 0 else {
                throw TrainingRunError("regression target \"\(name)\": the training images hold \(count) known value\(count == 1 ? "" : "s")"
                                       + (count >= 2 ? ", all equal to \(mean)" : "") + ": nothing to learn")
            }
            return RegressionTarget(name: name, mean: mean, std: std)
        }
        options.regress = trainRegression.names
        let config = ClassifierConfig(architecture: options.architecture, labels: options.labels,
                                      inChannels: options.channels, resolution: options.resolution,
                                      regressionTargets: regressionTargets)
        do { _ = try config.encoded() } catch { throw TrainingRunError("the classifier's config: \(error)") }
        trainData = ImageDataset(records: options.train, imageRoot: options.imageRoot, resolution: options.resolution,
                                 window: options.window)
        validationData = ImageDataset(records: options.validation, imageRoot: options.imageRoot, resolution: options.resolution,
                                      window: options.window)
        let all = ImageDataset(records: options.train + options.validation, imageRoot: options.imageRoot,
                               resolution: options.resolution, window: options.window)
        try all.checkFilesExist()
        try all.checkImagesDecode(progress: checkingImages)
        try RunFolder(options.output).refuseOverwrite(resuming: options.resume)

        let trainTargets = LabelTargets(records: options.train, labels: options.labels, policy: options.uncertain)
        validationTargets = LabelTargets(records: options.validation, labels: options.labels, policy: options.uncertain)
        for (k, label) in options.labels.enumerated() {
            let known = trainTargets.known(k).positives
            guard known.contains(true), known.contains(false) else {
                throw TrainingRunError("\"\(label)\": the training images hold \(known.isEmpty ? "no known label" : "one class only") "
                                              + "(\(known.filter { $0 }.count) positive of \(known.count) known): nothing to learn")
            }
        }
        let weights = options.groupAttribute.map { groupBalancingWeights(targets: trainTargets, attribute: $0) }
            ?? trainTargets.targets.map { $0.map { _ in 1 } }
        // Standardised regression targets (0 and masked where unknown).
        let regression = trainRegression.values.map { row in
            zip(row, regressionTargets).map { v, t in v.map { Float(t.standardized($0)) } ?? 0 }
        }
        let regressionMask = trainRegression.values.map { row in row.map { $0 == nil ? Float(0) : 1 } }

        let perStep = options.settings.batchSize * options.settings.gradientAccumulation
        if let epochs = options.epochs {
            options.settings.totalSteps = max(1, (epochs * options.train.count + perStep - 1) / perStep)
        }
        let stepsPerEpoch = max(1, (options.train.count + perStep - 1) / perStep)
        validateEvery = options.validateEvery ?? stepsPerEpoch
        options.settings.checkpointEvery = options.checkpointEvery ?? validateEvery
        classifier = Classifier(config: config, seed: options.settings.seed, device: options.device)
        let task = ClassifierTrainingTask(classifier: classifier)
        let (data, augmentation, seed) = (trainData, options.augmentation, options.settings.seed)
        trainer = Trainer(task: task, settings: options.settings, output: options.output, dataCount: trainData.count,
                          visits: VisitLoader { visit in
            let plane = try data.plane(visit.index)
            return ClassifierSample(pixels: augmentation.apply(plane, side: data.resolution, seed: seed, index: visit.index, epoch: visit.epoch),
                                    targets: trainTargets.targets[visit.index], mask: trainTargets.mask[visit.index],
                                    weights: weights[visit.index], regression: regression[visit.index],
                                    regressionMask: regressionMask[visit.index])
        })
        history = ValidationHistory(labels: options.labels, regressionNames: options.regress)
        self.options = options
    }

    /// What a resumed run must share with the run it continues, besides the trainer's settings.
    var description: [String: String] {
        let o = options
        return (o.regress.isEmpty ? [:] : ["regress": o.regress.joined(separator: "|")]).merging([
                "architecture": o.architecture.rawValue, "labels": o.labels.joined(separator: "|"), "resolution": "\(o.resolution)",
                "channels": "\(o.channels)", "uncertain": o.uncertain.rawValue, "augment": o.augmentation.description,
                "group_weights": o.groupAttribute?.column ?? "none", "train_images": "\(o.train.count)",
                "validation_images": "\(o.validation.count)", "validate_every": "\(validateEvery)", "steps": "\(totalSteps)"],
            uniquingKeysWith: { $1 })
    }

    // MARK: Running

    /// Resumes when asked to, trains to the last step validating on the way, and writes `last/` (and `best/` if no
    /// validation gave a defined AUROC). `afterStep` runs after each step's own work; throwing from it stops the run.
    public func run(report: (TrainingStepReport) -> Void = { _ in }, message: (String) -> Void = { _ in },
                    validating: (Int, Int) -> Void = { _, _ in }, afterStep: (Int) throws -> Void = { _ in }) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: output, withIntermediateDirectories: true)
        let lock = try runFolder.lock()
        defer { close(lock) }
        runFolder.cleanUpAfterKill()
        if options.resume {
            try runFolder.checkDescription(description)
            if let step = try trainer.resume() {
                startStep = step
                history = try ValidationHistory.read(validationURL, labels: options.labels, regressionNames: options.regress)
                history.trim(after: step)
                message("resuming from \(checkpoints.url(step: step).path) (step \(step) of \(totalSteps))")
            } else {
                message("no checkpoint in \(checkpoints.root.path): starting from step 0")
                for url in [logURL, validationURL] { try? fm.removeItem(at: url) }
            }
        }
        try runFolder.writeDescription(description)
        // A kill between the checkpoint of a step and that step's validation: validate the restored weights now.
        if startStep > 0, isValidationStep(startStep), history.records.last?.step != startStep {
            try validate(step: startStep, progress: validating)
        }
        try trainer.run(report: report) { step in
            if isValidationStep(step) { try validate(step: step, progress: validating) }
            try afterStep(step)
        }
        try saveClassifier(thresholds: history.records.last?.thresholds ?? classifier.config.thresholds, to: lastURL)
        if !fm.fileExists(atPath: bestURL.appendingPathComponent(Classifier.configName).path) {
            message(history.choosesByMAE ? "no validation gave a defined MAE (no validation image has a known value): "
                    + "best/ holds the last weights"
                    : "no validation gave a defined AUROC (each label needs both classes among the validation images): "
                    + "best/ holds the last weights")
            try classifier.save(to: bestURL)
        }
    }

    func isValidationStep(_ step: Int) -> Bool { step % validateEvery == 0 || step == totalSteps }

    /// Validates the current weights: per-label AUROC and Youden thresholds and per-target MAE on the validation
    /// images; `best/` when the score (mean AUROC, or mean MAE without labels) beats every earlier one; then
    /// `validation.csv` and `curves.png`.
    public func validate(step: Int, progress: (Int, Int) -> Void = { _, _ in }) throws {
        let outputs = try ClassifierPrediction.outputs(classifier, dataset: validationData,
                                                       batchSize: options.settings.batchSize, progress: progress)
        let (auroc, thresholds) = ValidationRecord.measure(targets: validationTargets, probabilities: outputs.probabilities)
        let mae = ValidationRecord.meanAbsoluteErrors(targets: validationRegression, predictions: outputs.regressions)
        let previous = history.records.last?.step ?? 0
        let losses = trainer.lossHistory().filter { $0.step > previous && $0.step <= step }.map(\.loss)
        var record = ValidationRecord(step: step, epoch: trainer.state.epoch,
                                      trainLoss: losses.isEmpty ? .nan : losses.reduce(0, +) / Double(losses.count),
                                      auroc: auroc, thresholds: thresholds, isBest: false, mae: mae)
        if history.improves(record) {
            record.isBest = true
            try saveClassifier(thresholds: thresholds, to: bestURL)
        }
        history.append(record)
        try history.write(to: validationURL)
        try history.curves(loss: trainer.lossHistory()).writePNG(to: curvesURL)
    }

    /// Writes the current weights as a classifier folder whose config carries `thresholds`.
    func saveClassifier(thresholds: [Double], to folder: URL) throws {
        try classifier.setThresholds(thresholds)
        try classifier.save(to: folder)
    }
}
