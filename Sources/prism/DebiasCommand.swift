import ArgumentParser
import ClassifierMetrics
import Classifiers
import Core
import Counterfactual
import Datasets
import Debiasing
import Diffusion
import Foundation
import Phantom
import Torch

struct DebiasCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "debias",
        abstract: "Cut a classifier's shortcut with counterfactuals, measured against the usual fixes: the whole experiment.",
        discussion: """
            Trains the same classifier (--label) several ways on the same schedule and
            measures how much each leans on a shortcut attribute (--attribute):
              baseline        the biased training set
              reweighted      group-balanced loss weights over label × attribute
              generated       plus images sampled from the counterfactuals' captions
              counterfactual  plus Prism's counterfactuals: the attribute removed from
                              aligned images that have it, added to those without
              oracle          plus the phantom's true counterfactuals of the same
                              images (--phantom only)
            Every method is trained once per seed and scored on an unbiased test set:
            AUROC, the AUROC gap between shortcut-aligned and -conflicting images,
            worst-group accuracy and, on the phantom, the counterfactual sensitivity
            (mean |Δp| between a test image and its true counterfactual with the
            attribute flipped). The headline is the bias reduction, 1 − bias(method) /
            bias(baseline), for the gap and for the sensitivity.

            --phantom makes the data: a biased training set (--spurious, effusions
            drawn faint: docs/debiasing.md) and an unbiased test set (seed + 1). --data
            and --images take a label file instead, split by patient into train,
            validation and test parts (OUTPUT/split.csv).

            OUTPUT receives report.html (open it in a browser), metrics.json,
            classifiers/METHOD/seed-K/ (each a classifier training run; best/ is a
            torchvision-compatible classifier folder), augment/ (the added images with
            their manifests) and data/. Rerun the same command to resume after a kill:
            finished phases are reused.

            Examples:
              prism debias --phantom --output debias/
              prism debias --phantom --seed 7 --seeds 1 --methods baseline,counterfactual \\
                  --output quick/
              prism debias --data labels.csv --images imgs --label "Pleural Effusion" \\
                  --attribute "Support Devices" --output mine/
            """
    )

    @Option(help: ArgumentHelp("The experiment's folder (a rerun with the same settings resumes it).", valueName: "dir"))
    var output: String

    @OptionGroup var source: PhantomOrLabelFileOptions

    @Option(help: "auto | chexpert | nih.")
    var format: ManifestFormat = .auto

    @Option(help: "The finding the classifier predicts.")
    var label = "Pleural Effusion"

    @Option(help: "The attribute it might lean on: flipped by the counterfactuals, the groups of the AUROC gap.")
    var attribute = "Support Devices"

    @Option(help: "Comma-separated subset of baseline,reweighted,generated,counterfactual,oracle.")
    var methods = DebiasMethod.allCases.map(\.rawValue).joined(separator: ",")

    @Option(help: "--phantom: the training set's tie between attribute and label, 0...1 (the test set has none).")
    var spurious = 0.9

    @Option(help: "--phantom: training images (85% train, 15% validation).")
    var trainCount = 2000

    @Option(help: "--phantom: test images.")
    var testCount = 800

    @Option(help: "--phantom: the data's seed (the test set's is seed + 1).")
    var seed: UInt64 = 0

    @Option(help: ArgumentHelp("--phantom: causal-model parameters as JSON (default: effusionDensity 0.3, faint effusions).", valueName: "file"))
    var graph: String?

    @Option(help: "densenet121 | resnet18 | resnet50.")
    var arch: ClassifierArchitecture = .resnet18

    @Option(help: "Classifier input side in pixels.")
    var resolution = 64

    @Option(help: "Training runs per method (seeds 1...N).")
    var seeds = 3

    @Option(help: "Training steps of every classifier.")
    var steps = 200

    @Option(help: "Batch size.")
    var batch = 32

    @Option(help: "Peak learning rate (AdamW, cosine schedule).")
    var lr = 1e-3

    @Option(help: "Warm-up steps.")
    var warmup = 20

    @Option(help: "Images each augmenting method adds (half with the attribute removed, half added).")
    var augmentCount = 200

    @OptionGroup var model: ModelOption

    @Option(help: "Inversion of Prism's counterfactuals: null-text, direct or ddim (direct is 3× faster but, with the bundled model, paints dense effusions and adds no devices: docs/debiasing.md).")
    var inversion: InversionMethod = .nullText

    @Option(help: "Denoising steps of the counterfactuals.")
    var editSteps = 50

    @Option(help: "Classifier-free guidance of the counterfactuals and generated images (default: the model's prism.json, else 7.5).")
    var guidance: Double?

    @Option(help: "Weight on the attention of the words a counterfactual adds (default: the model's prism.json, else 1; docs/editing.md).")
    var emphasis: Double?

    @Option(help: "Denoising steps of the generated images.")
    var generationSteps = 25

    @Option(help: "Bootstrap resamples of the intervals.")
    var bootstrap = 1000

    @Option(help: "libtorch threads (default: all cores).")
    var threads: Int?

    @Option(help: "Image-loading threads while training.")
    var loaderThreads = 1

    func validate() throws {
        _ = try methodList()
        try requireFinite(spurious, "--spurious", range: .closed(0, 1))
        try requireCount(trainCount, "--train-count", atLeast: 20)
        try requireCount(testCount, "--test-count", atLeast: 10)
        try requireCount(resolution, "--resolution", atLeast: 32)
        try requireCount(seeds, "--seeds", atLeast: 1)
        try requireCount(steps, "--steps", atLeast: 1)
        try requireCount(batch, "--batch", atLeast: 1)
        try requireCount(augmentCount, "--augment-count", atLeast: 2)
        try requireCount(editSteps, "--edit-steps", atLeast: 1)
        try requireCount(generationSteps, "--generation-steps", atLeast: 1)
        try requireCount(bootstrap, "--bootstrap", atLeast: 10)
        try requireCount(threads, "--threads", atLeast: 1)
        try requireFinite(guidance, "--guidance", range: .atLeast(0))
        try requireFinite(emphasis, "--emphasis", range: .above(0))
    }

    func methodList() throws -> [DebiasMethod] {
        let names = methods.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let list = try names.map { name -> DebiasMethod in
            guard let m = DebiasMethod(rawValue: name) else {
                throw ValidationError("--methods: \"\(name)\" is not a method (baseline, reweighted, generated, counterfactual, oracle)")
            }
            return m
        }
        if list.isEmpty { throw ValidationError("--methods: name at least one method") }
        if list.contains(.oracle) && !source.phantom && methods != DebiasMethod.allCases.map(\.rawValue).joined(separator: ",") {
            throw ValidationError("--methods oracle needs --phantom (only the phantom has true counterfactuals)")
        }
        return list
    }

    var log: Log { Log(tool: "prism debias") }

    func run() throws {
        if let threads { Torch.threadCount = threads }
        let data: DebiasSource
        if source.phantom {
            var p = PhantomDebiasData()
            p.trainCount = trainCount
            p.testCount = testCount
            p.seed = seed
            p.spurious = spurious
            if let graph {
                try requireRegularFile(graph, "--graph")
                p.parameters = try cliTry { try SCMParameters.load(URL(fileURLWithPath: graph)) }
            }
            data = .phantom(p)
        } else {
            let file = source.labelFile!
            try requireRegularFile(file.data, "--data")
            try requireFolder(file.images, "--images")
            data = .labelFile(data: URL(fileURLWithPath: file.data), images: URL(fileURLWithPath: file.images), format: format)
        }
        _ = try prepareOutputFolder(output)
        var options = DebiasOptions(output: URL(fileURLWithPath: output), source: data)
        options.label = label
        options.attribute = attribute
        options.methods = try methodList()
        options.architecture = arch
        options.resolution = resolution
        options.seeds = seeds
        options.steps = steps
        options.batchSize = batch
        options.learningRate = lr
        options.warmupSteps = warmup
        options.loaderThreads = loaderThreads
        options.augmentCount = augmentCount
        options.generationSteps = generationSteps
        options.bootstrap = Bootstrap(resamples: bootstrap)
        let modelURL = try model.url()
        options.editing.method = inversion
        options.editing.steps = editSteps
        options.editing = options.editing.adopting(try ModelDefaults.load(from: modelURL), guidance: guidance, emphasis: emphasis)
        // The counterfactuals' captions in the words the model was trained with.
        options.template = try CaptionOptions.template(of: modelURL)

        let experiment = DebiasExperiment(options)
        log("methods: \(options.runnableMethods.map(\.rawValue).joined(separator: ", ")); \(seeds) seed(s) each; "
            + "\(arch.rawValue) at \(resolution) px, \(steps) steps of \(batch); \(augmentCount) images added by each augmenting method; "
            + "counterfactuals by \(inversion.rawValue) inversion, \(editSteps) steps, guidance \(options.editing.guidance), emphasis \(number(options.editing.emphasis))")
        let phases = PhaseBars()
        let metrics = try classifierTry {
            try experiment.run(model: {
                log("loading the diffusion model \(modelURL.path)")
                return try StableDiffusionEditingModel.load(from: modelURL)
            }, events: DebiasExperiment.Events(message: { phases.message($0, log: log) }, progress: phases.update))
        }
        phases.finish()
        print(Self.summary(metrics))
        print("report: \(output)/report.html; numbers: \(output)/metrics.json")
    }

    /// The headline table, one method a line.
    static func summary(_ m: DebiasMetrics) -> String {
        var lines = ["\(m.label) vs \(m.attribute): mean over \(m.seeds) seed(s) [95% bootstrap interval over \(m.testImages) test images]",
                     "method          AUROC                 AUROC gap             worst-group acc.  sensitivity           bias cut (gap / sens.)"]
        for method in DebiasMethod.allCases {
            guard let x = m.methods[method.rawValue] else { continue }
            func f(_ e: SeedEstimate?) -> String {
                guard let e else { return "–".padding(toLength: 21, withPad: " ", startingAt: 0) }
                return String(format: "%.3f [%.3f, %.3f]", e.value, e.ciLow, e.ciHigh)
            }
            let cut = x.biasReduction.map { r in
                String(format: "%+.0f%% / %@", 100 * r.aurocGap.value, r.sensitivity.map { String(format: "%+.0f%%", 100 * $0.value) } ?? "–")
            } ?? "–"
            lines.append(method.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0) + f(x.auroc) + " " + f(x.aurocGap) + " "
                         + String(format: "%.3f", x.worstGroupAccuracy.value).padding(toLength: 18, withPad: " ", startingAt: 0)
                         + f(x.sensitivity) + " " + cut)
        }
        return lines.joined(separator: "\n")
    }
}

/// One progress bar per phase of a long run: a new phase finishes the bar of the one before.
final class PhaseBars {
    var bar: ProgressBar?
    var phase = ""
    var count = 0

    func update(_ name: String, _ done: Int, _ total: Int) {
        if name != phase {
            bar?.finish()
            count += 1
            phase = name
            bar = ProgressBar(total: max(total, 1), label: "[\(count)] \(name)", unit: name.hasPrefix("train") ? "step" : "image")
        }
        bar?.update(done)
    }

    func message(_ text: String, log: Log) {
        bar?.finish()
        bar = nil
        phase = ""
        log(text)
    }

    func finish() {
        bar?.finish()
        bar = nil
    }
}
