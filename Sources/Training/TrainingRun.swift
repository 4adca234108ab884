import Datasets
import Diffusion
import Core
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Imaging
import NN
import Tokenizer
import Torch

/// Everything a training run is made of, as `prism train` gathers it from its options.
public struct TrainingRunOptions: Sendable {
    /// What the run trains.
    public enum Component: String, Sendable, CaseIterable {
        case unet
        case unetText = "unet+text"
        case vae
    }

    /// Where the model comes from.
    public enum Source: Sendable {
        /// Fine-tune a diffusers model folder: tokenizer, VAE, scheduler (and the text encoder unless trained)
        /// come from it unchanged.
        case base(URL)
        /// Train from scratch: a folder of diffusers component configs (`unet/config.json`, `vae/config.json`,
        /// `text_encoder/config.json`, `tokenizer/`, `scheduler/scheduler_config.json`). A UNet trains on the
        /// latents of the already-trained VAE in `vae` (a vae folder or a model folder holding `vae/`).
        case config(URL, vae: URL?)
    }

    public var source: Source
    public var records: [Record]
    public var imageRoot: URL
    public var template: CaptionTemplate
    public var output: URL
    public var component = Component.unet
    public var resolution = 512
    public var settings = TrainingSettings()
    /// Epochs to train when `settings.totalSteps` should follow from the data (nil: use totalSteps).
    public var epochs: Int?
    public var unet = UNetTrainingTask.Options()
    /// β of the VAE's KL term.
    public var klWeight = 1e-6
    /// Mixed precision: the forward pass under autocast to this type (weights and optimizer stay fp32).
    public var autocast: DType?
    /// The dtype of the published weights (nil: fp32).
    public var saveDType: DType?
    public var device = Device.cpu
    /// Write samples every this many steps (nil: never).
    public var sampleEvery: Int?
    /// Prompts of the sample grid (UNet runs); empty: a few captions from the data.
    public var samplePrompts: [String] = []
    public var sampleSteps = 20
    public var sampleGuidance = 5.0
    /// Keep each image's latents in memory after its first encoding (4·(resolution/8)²·4 bytes an image for an
    /// SD VAE); false encodes them again each time, with the same per-image draw, so the results are the same.
    public var cacheLatents = true
    /// Continue from the newest checkpoint in `output`.
    public var resume = false

    public init(source: Source, records: [Record], imageRoot: URL, template: CaptionTemplate, output: URL) {
        self.source = source
        self.records = records
        self.imageRoot = imageRoot
        self.template = template
        self.output = output
    }
}

public struct TrainingRunError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// What a run needs of its trainer whatever its task: the generic ``Trainer`` seen through one protocol.
protocol RunTrainer: AnyObject {
    var step: Int { get }
    var totalSteps: Int { get }
    func resume() throws -> Int?
    func run(report: (TrainingStepReport) -> Void, afterStep: (Int) throws -> Void) throws
    func saveCheckpoint() throws
    func history() -> [(step: Int, loss: Double)]
    /// Runs `body` with the EMA weights in the model (the trained weights otherwise), then puts the trained ones back.
    func withPublishedWeights<R>(_ body: () throws -> R) rethrows -> R
}

extension Trainer: RunTrainer {
    var step: Int { state.step }
    var totalSteps: Int { settings.totalSteps }
    func history() -> [(step: Int, loss: Double)] { lossHistory() }

    func withPublishedWeights<R>(_ body: () throws -> R) rethrows -> R {
        guard ema != nil else { return try body() }
        let trained = withNoGrad { task.parameters.map { $0.detach().clone() } }
        applyEMA()
        defer { withNoGrad { for (p, t) in zip(task.parameters, trained) { p.copyFrom(t) } } }
        return try body()
    }
}

/// A task as the run trains it: mixed precision around the loss, and checkpoints whose `model/` folder is a
/// complete diffusers model (the frozen components linked from the published folder).
final class RunTask<Inner: TrainingTask>: TrainingTask {
    typealias Sample = Inner.Sample
    let inner: Inner
    let autocast: DType?
    let device: Device
    let complete: (URL) throws -> Void

    init(_ inner: Inner, autocast: DType?, device: Device, complete: @escaping (URL) throws -> Void) {
        self.inner = inner
        self.autocast = autocast
        self.device = device
        self.complete = complete
    }

    var parameters: [Tensor] { inner.parameters }

    func loss(_ batch: [Sample], generator: Generator) -> Tensor {
        guard let autocast else { return inner.loss(batch, generator: generator) }
        return withAutocast(autocast, device: device) { inner.loss(batch, generator: generator) }.to(.float32)
    }

    func saveModel(to folder: URL) throws {
        try inner.saveModel(to: folder)
        try complete(folder)
    }

    func loadModel(from folder: URL) throws { try inner.loadModel(from: folder) }
}

/// Latents of the dataset's images under a frozen VAE, each encoded once (on first use, on a loader thread)
/// and kept in memory. The posterior is sampled with a generator seeded by the run's seed and the image's index,
/// so an image always gets the same latents, whichever thread encodes it and whenever (a resumed run sees the
/// same numbers). diffusers' train_text_to_image draws a new posterior sample every step instead.
final class LatentCache: @unchecked Sendable {
    let dataset: CaptionedImageDataset
    let vae: AutoencoderKL
    let seed: UInt64
    let tokenIDs: [[Int]]
    let keep: Bool
    private let lock = NSLock()
    private var latents: [Int: [Float]] = [:]
    private(set) var shape: [Int] = []

    init(dataset: CaptionedImageDataset, vae: AutoencoderKL, seed: UInt64, tokenIDs: [[Int]], keep: Bool = true) {
        self.keep = keep
        self.dataset = dataset
        self.vae = vae
        self.seed = seed
        self.tokenIDs = tokenIDs
    }

    func sample(_ i: Int) throws -> CaptionedLatents {
        lock.lock()
        let cached = latents[i]
        let s = shape
        lock.unlock()
        if let cached { return CaptionedLatents(latents: cached, shape: s, tokenIDs: tokenIDs[i]) }
        let pixels = try dataset.pixels(i)
        let r = dataset.resolution
        let z: Tensor = withNoGrad {
            let x = Tensor(pixels, shape: [1, dataset.channels, r, r]).to(vae.store.dtype, vae.store.device)
            let g = Generator(seed: seed &+ 0x1A7E_0000 &+ UInt64(i))
            return vae.scaleLatents(vae.encode(x).sample(generator: g)).to(.float32, .cpu)
        }
        let values = z.floats(), zShape = Array(z.shape.dropFirst())
        lock.lock()
        if keep { latents[i] = values }
        shape = zShape
        lock.unlock()
        return CaptionedLatents(latents: values, shape: zShape, tokenIDs: tokenIDs[i])
    }
}

/// A training run assembled from ``TrainingRunOptions``: the models, the task, the trainer, the data, and the
/// published model folder in `output` (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/),
/// which is rewritten at every checkpoint and at the end so that `prism generate --model output` and diffusers'
/// `from_pretrained(output)` load the newest weights (the EMA weights when there is an EMA).
public final class TrainingRun {
    public let options: TrainingRunOptions
    public let dataset: CaptionedImageDataset
    public let tokenizer: CLIPTokenizer
    public let unet: UNet2DConditionModel?
    public let textEncoder: CLIPTextModel?
    public let vae: AutoencoderKL
    /// The scheduler config the run publishes, its `prediction_type` saying what the UNet is trained to predict.
    public let schedulerConfig: SchedulerConfig
    let trainer: any RunTrainer
    /// The VAE task of a `--train vae` run (its calibrated config is what gets published).
    var vaeTask: VAETrainingTask?
    /// The step the run started from (non-zero after a resume).
    public private(set) var startStep = 0

    public var output: URL { options.output }
    public var totalSteps: Int { trainer.totalSteps }
    public var step: Int { trainer.step }
    public var samplesFolder: URL { output.appendingPathComponent("samples") }
    public var lossCurveURL: URL { output.appendingPathComponent("loss.png") }
    public var logURL: URL { output.appendingPathComponent("log.csv") }
    public var checkpoints: CheckpointFolder { CheckpointFolder(root: output.appendingPathComponent("checkpoints")) }

    /// Checks the data (every image file exists and decodes) and the output folder, then loads or builds the
    /// models; nothing is written or trained yet. `checkingImages(checked, total)` reports the pass over the images.
    public init(_ options: TrainingRunOptions, checkingImages: (Int, Int) -> Void = { _, _ in }) throws {
        var options = options
        guard !options.records.isEmpty else { throw TrainingRunError("the label file has no rows to train on") }
        let dataset = CaptionedImageDataset(records: options.records, imageRoot: options.imageRoot,
                                            resolution: options.resolution, template: options.template)
        try dataset.checkFilesExist()
        try dataset.checkImagesDecode(progress: checkingImages)
        self.dataset = dataset
        try Self.checkOutput(options)

        let seed = options.settings.seed
        let componentRoot: URL
        switch options.source {
        case .base(let base):
            _ = try StableDiffusionFolder(base)
            componentRoot = base
            guard options.component != .vae else {
                throw TrainingRunError("--train vae trains a VAE from a config (--config); fine-tuning a base model's VAE is not supported")
            }
        case .config(let folder, _):
            componentRoot = folder
        }
        tokenizer = try CLIPTokenizer(folder: componentRoot.appendingPathComponent("tokenizer"))
        var schedulerConfig = try SchedulerConfig.load(from: componentRoot.appendingPathComponent("scheduler"))
        if options.component != .vae {
            // What the trained UNet predicts, so that samples, `prism generate` and diffusers read its output right.
            schedulerConfig.predictionType = options.unet.prediction == .v ? "v_prediction" : "epsilon"
        }
        self.schedulerConfig = schedulerConfig
        let dtype = DType.float32, device = options.device

        // The UNet and text encoder: loaded from the base or new from their configs, seeded.
        let teFolder = componentRoot.appendingPathComponent("text_encoder")
        let unetFolder = componentRoot.appendingPathComponent("unet")
        if case .base = options.source {
            textEncoder = try CLIPTextModel.load(from: teFolder, dtype: dtype, device: device)
            unet = try UNet2DConditionModel.load(from: unetFolder, dtype: dtype, device: device)
        } else {
            let teConfig = try DiffusersFolder.config(CLIPTextConfig.self, in: teFolder)
            textEncoder = CLIPTextModel(teConfig, store: ParameterStore(dtype: dtype, device: device, seed: seed &+ 2))
            let unetConfig = try DiffusersFolder.config(UNet2DConditionConfig.self, in: unetFolder)
            unet = UNet2DConditionModel(config: unetConfig, path: ParameterStore(dtype: dtype, device: device, seed: seed &+ 1).root)
        }

        // The VAE: trained from its config, or frozen from the base or --vae.
        switch (options.source, options.component) {
        case (.config(let folder, _), .vae):
            let config = try DiffusersFolder.config(AutoencoderKLConfig.self, in: folder.appendingPathComponent("vae"))
            vae = AutoencoderKL(config: config, path: ParameterStore(dtype: dtype, device: device, seed: seed &+ 3).root)
        case (.config(_, let vaeSource), _):
            guard let vaeSource else {
                throw TrainingRunError("training a UNet from a config needs a trained VAE: give --vae (a vae folder or a model folder with vae/), "
                                       + "for instance the output of a --train vae run")
            }
            let vaeFolder = FileManager.default.fileExists(atPath: vaeSource.appendingPathComponent("vae/config.json").path)
                ? vaeSource.appendingPathComponent("vae") : vaeSource
            vae = try AutoencoderKL.load(from: vaeFolder, dtype: dtype, device: device)
        case (.base(let base), _):
            vae = try AutoencoderKL.load(from: base.appendingPathComponent("vae"), dtype: dtype, device: device)
        }
        if options.resume { try Self.checkRunDescription(options) }
        if options.resolution % vae.downscaleFactor != 0 {
            throw TrainingRunError("--resolution \(options.resolution) is not a multiple of the VAE's downscale factor \(vae.downscaleFactor)")
        }

        // Steps from epochs.
        let perStep = options.settings.batchSize * options.settings.gradientAccumulation
        if let epochs = options.epochs {
            options.settings.totalSteps = max(1, (epochs * dataset.count + perStep - 1) / perStep)
        }

        let publishedRoot = options.output
        let index = Self.modelIndex(schedulerConfig)
        let frozenNames: [String] = switch options.component {
        case .vae: ["unet", "text_encoder", "tokenizer", "scheduler"]
        case .unet: ["vae", "text_encoder", "tokenizer", "scheduler"]
        case .unetText: ["vae", "tokenizer", "scheduler"]
        }
        // A checkpoint's model/ folder gets the frozen components as hard links to the published ones.
        let complete: (URL) throws -> Void = { folder in
            for name in frozenNames {
                try Self.linkTree(publishedRoot.appendingPathComponent(name), to: folder.appendingPathComponent(name))
            }
            try DiffusersFolderWriter.writeIndex(index, in: folder)
        }

        switch options.component {
        case .vae:
            let vaeTask = VAETrainingTask(vae: vae, klWeight: options.klWeight)
            let channels = vae.config.inChannels, r = options.resolution
            vaeTask.calibrationImages = try (0..<min(16, dataset.count)).map { k in
                ImageSample(pixels: try dataset.pixels((k * 7919) % dataset.count), shape: [channels, r, r])
            }
            self.vaeTask = vaeTask
            let task = RunTask(vaeTask, autocast: options.autocast, device: device, complete: complete)
            trainer = Trainer(task: task, settings: options.settings, output: options.output, dataCount: dataset.count) {
                [dataset] i in ImageSample(pixels: try dataset.pixels(i), shape: [channels, r, r])
            }
        case .unet, .unetText:
            var unetOptions = options.unet
            unetOptions.trainTextEncoder = options.component == .unetText
            let tok = tokenizer, length = tokenizer.modelMaxLength
            let empty = tok.encode("", maxLength: length, padding: true).ids
            let ids = (0..<dataset.count).map { tok.encode(dataset.caption($0), maxLength: length, padding: true).ids }
            let inner = UNetTrainingTask(unet: unet!, textEncoder: textEncoder!,
                                         schedule: try DDPMScheduler(config: schedulerConfig).schedule, emptyPromptIDs: empty,
                                         options: unetOptions)
            let cache = LatentCache(dataset: dataset, vae: vae, seed: seed, tokenIDs: ids, keep: options.cacheLatents)
            trainer = Trainer(task: RunTask(inner, autocast: options.autocast, device: device, complete: complete),
                              settings: options.settings, output: options.output, dataCount: dataset.count) { try cache.sample($0) }
        }
        self.options = options
    }

    /// Refuses to start over a previous run unless resuming.
    static func checkOutput(_ options: TrainingRunOptions) throws {
        let fm = FileManager.default
        let existing = CheckpointFolder(root: options.output.appendingPathComponent("checkpoints")).steps()
        let hasLog = fm.fileExists(atPath: options.output.appendingPathComponent("log.csv").path)
        if !options.resume && (!existing.isEmpty || hasLog) {
            let what = existing.last.map { "a checkpoint at step \($0)" } ?? "a training log"
            throw TrainingRunError("\(options.output.path) already holds a training run (\(what)): pass --resume to continue it, "
                                   + "or choose another --output")
        }
    }

    /// Takes an exclusive lock on `output/.lock` for as long as the returned descriptor stays open, so that two
    /// processes never train into one folder (the kernel drops the lock when a process dies, even by SIGKILL).
    static func lockOutput(_ output: URL) throws -> Int32 {
        let path = output.appendingPathComponent(".lock").path
        let fd = open(path, O_RDWR | O_CREAT, 0o644)
        guard fd >= 0 else { throw TrainingRunError("\(path): cannot open (\(String(cString: strerror(errno))))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
            close(fd)
            throw TrainingRunError("\(output.path): another training process (pid \(holder)) is writing to this folder; "
                                   + "wait for it or stop it before resuming")
        }
        let pid = Data("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, pid.count, 0) }
        return fd
    }

    /// What a resumed run must share with the run it continues, besides the trainer's settings.
    static func runDescription(_ o: TrainingRunOptions) -> [String: String] {
        let source: String = switch o.source {
        case .base(let url): "base \(url.standardizedFileURL.path)"
        case .config(let url, let vae): "config \(url.standardizedFileURL.path)" + (vae.map { " vae \($0.standardizedFileURL.path)" } ?? "")
        }
        var d = ["train": o.component.rawValue, "source": source, "resolution": "\(o.resolution)", "images": "\(o.records.count)"]
        if o.component == .vae {
            d["kl_weight"] = "\(o.klWeight)"
        } else {
            d["prediction"] = o.unet.prediction.rawValue
            d["snr_gamma"] = o.unet.snrGamma.map { "\($0)" } ?? "none"
            d["noise_offset"] = "\(o.unet.noiseOffset)"
            d["caption_dropout"] = "\(o.unet.captionDropout)"
        }
        return d
    }

    static func runDescriptionURL(_ o: TrainingRunOptions) -> URL { o.output.appendingPathComponent("run.json") }

    /// On resume: the run's kind, model source, data size and task options must be the ones it started with.
    static func checkRunDescription(_ o: TrainingRunOptions) throws {
        let url = runDescriptionURL(o)
        guard FileManager.default.fileExists(atPath: url.path) else { return }
        let saved: [String: String]
        do { saved = try JSONFile.decode([String: String].self, from: url) } catch {
            throw TrainingRunError("\(error); it describes how the run in \(o.output.path) was started: "
                                   + "restore it, or start in a new --output")
        }
        let now = runDescription(o)
        let changed = Set(saved.keys).union(now.keys).filter { saved[$0] != now[$0] }.sorted()
        guard changed.isEmpty else {
            throw TrainingRunError("\(url.path): the run was started differently (" + changed.map {
                "\($0): \(saved[$0] ?? "none") → \(now[$0] ?? "none")" }.joined(separator: ", ")
                + "); resume with the same options, or start in a new --output")
        }
    }

    /// The model_index.json of the folders the run writes (training uses the DDPM forward process whatever the
    /// scheduler class, which the index keeps).
    static func modelIndex(_ scheduler: SchedulerConfig) -> ModelIndex {
        .stableDiffusion(schedulerClass: scheduler.className ?? "DDPMScheduler")
    }

    /// Hard-links every file of `source` into `destination` (copying where links are impossible).
    static func linkTree(_ source: URL, to destination: URL) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: destination, withIntermediateDirectories: true)
        for name in try fm.contentsOfDirectory(atPath: source.path) where !name.hasPrefix(".") {
            let from = source.appendingPathComponent(name), to = destination.appendingPathComponent(name)
            try? fm.removeItem(at: to)
            do { try fm.linkItem(at: from, to: to) } catch { try fm.copyItem(at: from, to: to) }
        }
    }

    // MARK: Running

    /// Resumes when asked to (from the newest checkpoint; a fresh start when there is none), writes the frozen
    /// components of the published folder, trains to the last step, and publishes the model.
    /// `afterStep` runs after each step's own work (checkpoint, samples); throwing from it stops the run.
    public func run(report: (TrainingStepReport) -> Void = { _ in }, message: (String) -> Void = { _ in },
                    afterStep: (Int) throws -> Void = { _ in }) throws {
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let lock = try Self.lockOutput(output)
        defer { close(lock) }
        // What a killed earlier process left: half-written files and folders, a component moved aside.
        removeAbandonedTemporaryFiles(under: output)
        StagedFolder.recoverInterrupted(in: output)
        checkpoints.removeLeftovers()
        if options.resume {
            if let step = try trainer.resume() {
                startStep = step
                message("resuming from \(checkpoints.url(step: step).path) (step \(step) of \(totalSteps))")
            } else {
                message("no checkpoint in \(checkpoints.root.path): starting from step 0")
                // Rows a run killed before its first checkpoint logged will be trained again.
                try? FileManager.default.removeItem(at: logURL)
            }
        }
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeAtomically(try encoder.encode(Self.runDescription(options)), to: Self.runDescriptionURL(options))
        try publishFrozenComponents()
        if startStep == 0, let every = options.sampleEvery, every > 0 { try writeSamples() }
        try trainer.run(report: report) { step in
            if step % options.settings.checkpointEvery == 0 || step == totalSteps {
                try publish()
                try writeLossCurve()
            }
            if let every = options.sampleEvery, every > 0, step % every == 0 || step == totalSteps { try writeSamples() }
            try afterStep(step)
        }
        if trainer.step >= totalSteps, startStep >= totalSteps {
            try publish()
            try writeLossCurve()
        }
    }

    /// The components the run does not train, written once into the published folder.
    public func publishFrozenComponents() throws {
        let fm = FileManager.default
        try fm.createDirectory(at: output, withIntermediateDirectories: true)
        let root: URL
        switch options.source {
        case .base(let url): root = url
        case .config(let url, _): root = url
        }
        // The source's files (a NOTICE, say), then the tokenizer in both forms, tokenizer.json and vocab.json +
        // merges.txt, whichever the source had: every reader, old or new, loads the published folder.
        try replaceFolder("tokenizer") { folder in
            for name in try fm.contentsOfDirectory(atPath: root.appendingPathComponent("tokenizer").path) where !name.hasPrefix(".") {
                try fm.copyItem(at: root.appendingPathComponent("tokenizer").appendingPathComponent(name),
                                to: folder.appendingPathComponent(name))
            }
            try tokenizer.save(to: folder)
        }
        try DiffusersFolderWriter.write(.scheduler(schedulerConfig), in: output)
        switch options.component {
        case .vae:
            try saveUNet()
            try saveTextEncoder()
        case .unet:
            try saveVAE()
            try saveTextEncoder()
        case .unetText:
            try saveVAE()
        }
        try DiffusersFolderWriter.writeIndex(Self.modelIndex(schedulerConfig), in: output)
    }

    /// Writes the trained components (EMA weights when there is an EMA) into the published folder.
    public func publish() throws {
        try trainer.withPublishedWeights {
            switch options.component {
            case .vae: try saveVAE()
            case .unet: try saveUNet()
            case .unetText:
                try saveUNet()
                try saveTextEncoder()
            }
        }
        try DiffusersFolderWriter.writeIndex(Self.modelIndex(schedulerConfig), in: output)
    }

    func saveUNet() throws {
        try DiffusersFolderWriter.write(.unet(unet!), in: output, dtype: options.saveDType)
    }

    func saveTextEncoder() throws {
        try DiffusersFolderWriter.write(.textEncoder(textEncoder!), in: output, dtype: options.saveDType)
    }

    func saveVAE() throws {
        try DiffusersFolderWriter.write(.vae(vae, config: vaeTask?.calibratedConfig()), in: output, dtype: options.saveDType)
    }

    /// Fills a temporary folder beside `output/name`, then swaps it in: a reader sees the old or the new component.
    func replaceFolder(_ name: String, _ write: (URL) throws -> Void) throws {
        try StagedFolder.write(output.appendingPathComponent(name), write)
    }

    // MARK: Samples and the loss curve

    /// The prompts of the sample grid: the given ones, or the captions of a few spread-out rows.
    public var samplePrompts: [String] {
        if !options.samplePrompts.isEmpty { return options.samplePrompts }
        let n = min(4, dataset.count)
        var seen = Set<String>(), prompts: [String] = []
        for k in 0..<dataset.count where prompts.count < n {
            let c = dataset.caption((k * 7919) % dataset.count)
            if seen.insert(c).inserted { prompts.append(c) }
        }
        return prompts
    }

    /// Writes `samples/step-NNNNNN.png`: for a UNet run, one image per sample prompt (fixed seed) in a row; for a
    /// VAE run, a few fixed images (top) over their reconstructions (bottom).
    public func writeSamples() throws {
        let fm = FileManager.default
        try fm.createDirectory(at: samplesFolder, withIntermediateDirectories: true)
        let url = samplesFolder.appendingPathComponent(String(format: "step-%06d.png", trainer.step))
        let r = options.resolution
        let tiles: [[Float]] = try trainer.withPublishedWeights {
            try withSamplingMode {
                switch options.component {
                case .vae:
                    let indices = (0..<min(4, dataset.count)).map { ($0 * 7919) % dataset.count }
                    var originals: [[Float]] = [], reconstructions: [[Float]] = []
                    for i in indices {
                        let pixels = try dataset.pixels(i)
                        let x = Tensor(pixels, shape: [1, vae.config.inChannels, r, r]).to(vae.store.dtype, vae.store.device)
                        let y = vae.decode(vae.encode(x).mode())
                        originals.append(VaeImageProcessor.denormalize(Array(pixels.prefix(r * r))))
                        reconstructions.append(Self.grayPlane(y))
                    }
                    return originals + reconstructions
                case .unet, .unetText:
                    let pipeline = StableDiffusionPipeline(tokenizer: tokenizer, textEncoder: textEncoder!, unet: unet!, vae: vae,
                                                           schedulerConfig: schedulerConfig,
                                                           dtype: .float32, device: options.device)
                    return try samplePrompts.map { prompt in
                        var request = GenerationRequest(prompt: prompt)
                        request.steps = options.sampleSteps
                        request.guidanceScale = options.sampleGuidance
                        request.height = r
                        request.width = r
                        request.seed = 1234
                        return Self.grayPlane(try pipeline(request).images!)
                    }
                }
            }
        }
        let columns = options.component == .vae ? max(1, tiles.count / 2) : tiles.count
        try Self.grid(tiles, side: r, columns: columns).writePNG(to: url)
    }

    /// Runs `body` as a sample is drawn mid-training: without gradients, with dropout and other training-only
    /// behaviour off, and on libtorch's plain ops (the weights change every step, so prepacked copies would be
    /// remade for each sample and held between samples).
    func withSamplingMode<R>(_ body: () throws -> R) rethrows -> R {
        let stores = [unet?.store, textEncoder?.store, vae.store].compactMap { $0 }
        let previous = stores.map(\.isTraining)
        for s in stores { s.isTraining = false }
        defer { for (s, p) in zip(stores, previous) { s.isTraining = p } }
        return try withNoGrad { try Prepacking.withoutPrepacking(body) }
    }

    /// The first channel of a [1, C, H, W] image in [-1, 1], as [0, 1] floats (the training images are gray).
    static func grayPlane(_ image: Tensor) -> [Float] { VaeImageProcessor.grayValues(image, .firstChannel) }

    /// Gray tiles of side `side` ([0, 1] floats) in a grid with a 2-pixel white gap.
    static func grid(_ tiles: [[Float]], side: Int, columns: Int) -> Image {
        let gap = 2
        let rows = (tiles.count + columns - 1) / columns
        let width = columns * side + (columns - 1) * gap, height = rows * side + (rows - 1) * gap
        var out = [Float](repeating: 1, count: width * height)
        for (k, tile) in tiles.enumerated() {
            let x0 = (k % columns) * (side + gap), y0 = (k / columns) * (side + gap)
            for y in 0..<side {
                for x in 0..<side { out[(y0 + y) * width + x0 + x] = tile[y * side + x] }
            }
        }
        return Image(floats: out, width: width, height: height, channels: 1)
    }

    /// Draws `loss.png` from the log.
    public func writeLossCurve() throws {
        let history = trainer.history()
        guard !history.isEmpty else { return }
        try LossCurve(points: history.map { (Double($0.step), $0.loss) }).image().writePNG(to: lossCurveURL)
    }
}
