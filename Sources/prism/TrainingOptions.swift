import ArgumentParser
import Datasets
import Foundation
import Torch
import Training

// Options that `prism train` and `prism classifier train` share: the training loop, the labelled images and the
// patient split. Each is declared, validated and read in one place.

/// The defaults and words of the training-loop options that differ between the two training commands:
/// argument-parser takes an option's default and help from its declaration, so the group takes them as a type
/// (as `OptionDefault` does for a single value).
protocol TrainingLoopDefaults {
    static var batch: Int { get }
    static var batchHelp: String { get }
    static var stepsHelp: String { get }
    static var epochsHelp: String { get }
    static var lr: Double { get }
    static var lrHelp: String { get }
    static var weightDecay: Double { get }
    static var warmup: Int { get }
    static var keepCheckpoints: Int { get }
    static var loaderThreadsHelp: String { get }
    static var threadsHelp: String { get }
    static var seedHelp: String { get }
}

/// `prism train`: a diffusion model, fine-tuned or from scratch.
enum DiffusionTrainingDefaults: TrainingLoopDefaults {
    static let batch = 8
    static let batchHelp = "Images per micro-batch."
    static let stepsHelp = "Optimizer steps to train (or give --epochs)."
    static let epochsHelp = "Passes over the data to train (instead of --steps)."
    static let lr = 1e-5
    static let lrHelp = "Peak learning rate of AdamW."
    static let weightDecay = 1e-2
    static let warmup = 500
    static let keepCheckpoints = 3
    static let loaderThreadsHelp = "Threads that load and prepare images ahead of the training loop."
    static let threadsHelp = "libtorch compute threads (default: libtorch's choice, one per core). On a machine shared "
        + "with other jobs, fewer threads than cores is often faster."
    static let seedHelp = "Seed of the initialisation, noise, data order and caption dropout."
}

/// `prism classifier train`.
enum ClassifierTrainingDefaults: TrainingLoopDefaults {
    static let batch = 32
    static let batchHelp = "Images per step."
    static let stepsHelp = "Optimizer steps (or give --epochs)."
    static let epochsHelp = "Passes over the training images (or give --steps)."
    static let lr = 1e-4
    static let lrHelp = "Peak learning rate of AdamW (cosine decay to 0)."
    static let weightDecay = 1e-5
    static let warmup = 0
    static let keepCheckpoints = 2
    static let loaderThreadsHelp = "Threads that load and augment images ahead of the training loop."
    static let threadsHelp = "libtorch compute threads (default: one per core)."
    static let seedHelp = "Seed of the initialisation, the split, the data order and the augmentation."
}

/// The training loop: batch, length, AdamW and its schedule's warm-up, clipping, checkpoints kept, loader and compute
/// threads, seed and resumption.
struct TrainingLoopOptions<Defaults: TrainingLoopDefaults>: ParsableArguments {
    @Option(help: ArgumentHelp(Defaults.batchHelp))
    var batch = Defaults.batch

    @Option(help: ArgumentHelp(Defaults.stepsHelp))
    var steps: Int?

    @Option(help: ArgumentHelp(Defaults.epochsHelp))
    var epochs: Int?

    @Option(help: ArgumentHelp(Defaults.lrHelp))
    var lr = Defaults.lr

    @Option(help: "AdamW weight decay.")
    var weightDecay = Defaults.weightDecay

    @Option(help: "Steps of linear learning-rate warm-up.")
    var warmup = Defaults.warmup

    @Option(help: "Gradient clipping: the largest global gradient norm.")
    var maxGradNorm = 1.0

    @Option(help: "Checkpoints kept (the newest).")
    var keepCheckpoints = Defaults.keepCheckpoints

    @Option(help: ArgumentHelp(Defaults.loaderThreadsHelp))
    var loaderThreads = 2

    @Option(help: ArgumentHelp(Defaults.threadsHelp))
    var threads: Int?

    @Option(help: ArgumentHelp(Defaults.seedHelp))
    var seed: UInt64 = 0

    @Flag(help: "Continue the run in --output from its newest checkpoint.")
    var resume = false

    func validate() throws {
        guard (steps != nil) != (epochs != nil) else { throw ValidationError("give --steps N or --epochs E") }
        try requireCount(steps, "--steps", atLeast: 1)
        try requireCount(epochs, "--epochs", atLeast: 1)
        try requireCount(batch, "--batch", atLeast: 1)
        try requireCount(warmup, "--warmup", atLeast: 0)
        try requireCount(keepCheckpoints, "--keep-checkpoints", atLeast: 1)
        try requireCount(loaderThreads, "--loader-threads", atLeast: 1)
        try requireCount(threads, "--threads", atLeast: 1)
        try requireFinite(lr, "--lr", range: .above(0))
        try requireFinite(maxGradNorm, "--max-grad-norm", range: .above(0))
        try requireFinite(weightDecay, "--weight-decay", range: .atLeast(0))
    }

    /// Sets libtorch's compute threads when --threads is given.
    func applyThreads() {
        if let threads { Torch.threadCount = threads }
    }

    /// The settings these options give; with --epochs, the run works out the steps (`totalSteps` is then 1).
    func apply(to settings: inout TrainingSettings) {
        settings.batchSize = batch
        settings.learningRate = lr
        settings.weightDecay = weightDecay
        settings.warmupSteps = warmup
        settings.totalSteps = steps ?? 1
        settings.maxGradNorm = maxGradNorm
        settings.keepCheckpoints = keepCheckpoints
        settings.loaderThreads = loaderThreads
        settings.seed = seed
    }
}

/// `--split-file` of a training run: the patient split, made if absent.
struct TrainingSplitOption: ParsableArguments {
    @Option(help: ArgumentHelp("The patient split file (patient_id,split), made if absent (default: OUTPUT/split.csv).", valueName: "csv"))
    var splitFile: String?

    /// The split of `records` in --split-file (default: OUTPUT/split.csv), read, or made with `seed` and written.
    func loadOrCreate(for records: [Record], output: URL, seed: UInt64) throws -> PatientSplit {
        let file = splitFile.map { URL(fileURLWithPath: $0) } ?? output.appendingPathComponent("split.csv")
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        return try PatientSplit.loadOrCreate(at: file, for: records, seed: seed)
    }
}

/// An option's help that differs between the commands sharing its group (as `OptionDefault` does for a default).
protocol OptionHelp { static var text: String { get } }

enum TrainOnSplitPart: OptionHelp { static let text = "Train on a part of the patient-level split: all | train | validation | test." }
enum UseSplitPart: OptionHelp { static let text = "Use a part of the patient-level split: all | train | validation | test." }

/// `--split`: one part of a patient-level split, or all the images.
struct SplitPartOption<Help: OptionHelp>: ParsableArguments {
    @Option(help: ArgumentHelp(Help.text))
    var split = "all"

    func validate() throws { try requireChoice(split, "--split", ["all", "train", "validation", "test"]) }

    /// Whether every image is used (no split file is needed).
    var isAll: Bool { split == "all" }

    /// The records in the part --split names.
    func records(_ records: [Record], of patients: PatientSplit) -> [Record] {
        isAll ? records : records.filter { patients.split(of: $0.patientID)?.rawValue == split }
    }
}
