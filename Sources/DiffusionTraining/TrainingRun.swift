import Core
import Datasets
import Diffusion
import Foundation
import Imaging
import NN
import Tokenizer
import Torch
import Training

/// A training run assembled from ``TrainingRunOptions``: the models, the task, the trainer, the data, and the
/// published model folder in `output` (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/),
/// which is rewritten at every checkpoint and at the end so that `prism generate --model output` and diffusers'
/// `from_pretrained(output)` load the newest weights (the EMA weights when there is an EMA).
public final class TrainingRun {
    public let options: TrainingRunOptions
    public let dataset: CaptionedImageDataset
    public let tokenizer: CLIPTokenizer
    public let unet: UNet2DConditionModel
    public let textEncoder: CLIPTextModel
    public let vae: AutoencoderKL
    /// The scheduler config the run publishes, its `prediction_type` saying what the UNet is trained to predict.
    public let schedulerConfig: SchedulerConfig
    let trainer: any AnyTrainer
    /// The VAE task of a `--train vae` run (its calibrated config is what gets published).
    var vaeTask: VAETrainingTask?
    /// The latents and captions a UNet run draws from (nil for a VAE run).
    var latentCache: LatentCache?
    /// The step the run started from (non-zero after a resume).
    public private(set) var startStep = 0

    public var output: URL { options.output }
    public var totalSteps: Int { trainer.totalSteps }
    public var step: Int { trainer.step }
    public var samplesFolder: URL { output.appendingPathComponent("samples") }
    public var lossCurveURL: URL { output.appendingPathComponent("loss.png") }
    public var logURL: URL { runFolder.logURL }
    public var runFolder: RunFolder { RunFolder(output) }
    public var checkpoints: CheckpointFolder { runFolder.checkpoints }

    /// Checks the data (every image file exists and decodes) and the output folder, then loads or builds the
    /// models; nothing is written or trained yet. `checkingImages(checked, total)` reports the pass over the images.
    public init(_ options: TrainingRunOptions, checkingImages: (Int, Int) -> Void = { _, _ in }) throws {
        var options = options
        guard !options.records.isEmpty else { throw TrainingRunError("the label file has no rows to train on") }
        let dataset = CaptionedImageDataset(records: options.records, imageRoot: options.imageRoot,
                                            resolution: options.resolution, template: options.template, window: options.window)
        try dataset.checkFilesExist()
        try dataset.checkImagesDecode(progress: checkingImages)
        self.dataset = dataset
        try RunFolder(options.output).refuseOverwrite(resuming: options.resume)

        let seed = options.settings.seed
        let componentRoot: URL
        switch options.source {
        case .base(let base):
            _ = try StableDiffusionFolder(base)
            componentRoot = base
            guard options.component != .vae else {
                throw TrainingRunError("--train vae trains a VAE from a config (--config); a base model's VAE is fine-tuned "
                                       + "with --train vae-decoder (its encoder, and so the UNet's latents, unchanged)")
            }
        case .config(let folder, _):
            componentRoot = folder
            guard options.component != .vaeDecoder else {
                throw TrainingRunError("--train vae-decoder fine-tunes the decoder of a trained model's VAE: give the model with --base")
            }
        }
        tokenizer = try CLIPTokenizer(folder: componentRoot.appendingPathComponent("tokenizer"))
        var schedulerConfig = try SchedulerConfig.load(from: componentRoot.appendingPathComponent("scheduler"))
        if !options.component.trainsVAE {
            // What the trained UNet predicts, so that samples, `prism generate` and diffusers read its output right.
            schedulerConfig.predictionType = options.unet.prediction == .v ? "v_prediction" : "epsilon"
        }
        self.schedulerConfig = schedulerConfig
        let dtype = DType.float32, device = options.settings.device

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
        if options.resume { try RunFolder(options.output).checkDescription(Self.runDescription(options)) }
        for (share, flag) in [(options.detailDropout, "--detail-dropout"), (options.phraseDetailDropout, "--phrase-detail-dropout")]
        where share != nil && !options.template.detail {
            throw TrainingRunError("\(flag) drops the detail of detail captions, and the caption template says none "
                                   + "(use a template with \"detail\": true, as configs/captions-detail.json)")
        }
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
        case .vae, .vaeDecoder: ["unet", "text_encoder", "tokenizer", "scheduler"]
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
        case .vae, .vaeDecoder:
            let vaeTask = VAETrainingTask(vae: vae, klWeight: options.klWeight, decoderOnly: options.component == .vaeDecoder)
            let channels = vae.config.inChannels, r = options.resolution
            if options.component == .vae {
                vaeTask.calibrationImages = try (0..<min(16, dataset.count)).map { k in
                    ImageSample(pixels: try dataset.pixels((k * 7919) % dataset.count), shape: [channels, r, r])
                }
            }
            self.vaeTask = vaeTask
            let task = RunTask(vaeTask, complete: complete)
            trainer = Trainer(task: task, settings: options.settings, output: options.output, dataCount: dataset.count) {
                [dataset] i in ImageSample(pixels: try dataset.pixels(i), shape: [channels, r, r])
            }
        case .unet, .unetText:
            var unetOptions = options.unet
            unetOptions.trainTextEncoder = options.component == .unetText
            let tok = tokenizer, length = tokenizer.modelMaxLength
            let empty = tok.encode("", maxLength: length, padding: true).ids
            let inner = UNetTrainingTask(unet: unet, textEncoder: textEncoder,
                                         schedule: try DDPMScheduler(config: schedulerConfig).schedule, emptyPromptIDs: empty,
                                         options: unetOptions)
            let side = options.resolution / vae.downscaleFactor
            let dropout = DetailDropout(share: options.detailDropout ?? 0, phraseShare: options.phraseDetailDropout ?? 0, seed: seed)
            let captions = try Self.captionVariants(options, dropout: dropout, dataset: dataset, tokenizer: tok, side: side)
            let cache = LatentCache(dataset: dataset, vae: vae, seed: seed, captions: captions, detailDropout: dropout,
                                    keep: options.cacheLatents)
            latentCache = cache
            trainer = Trainer(task: RunTask(inner, complete: complete), settings: options.settings, output: options.output,
                              dataCount: dataset.count, visits: VisitLoader { try cache.sample($0) })
        }
        self.options = options
    }

    /// Each image's captions, tokenized, with their grounded tokens when the run grounds attention: every pattern of
    /// plain and detailed phrases that `dropout` can draw for it.
    static func captionVariants(_ options: TrainingRunOptions, dropout: DetailDropout, dataset: CaptionedImageDataset,
                                tokenizer: CLIPTokenizer, side: Int) throws -> [CaptionVariants] {
        let template = options.template, length = tokenizer.modelMaxLength
        let grounding = try groundingMasks(options, side: side)
        return try dataset.records.map { record in
            let phrases = template.detailedFindings(of: record)
            let structures = try grounding?.masks(forImage: record.path)
            var byPlain: [Int: TokenizedCaption] = [:]
            for pattern in dropout.patterns(phrases: phrases.count) {
                let plain = Set(phrases.indices.filter { pattern & (1 << $0) != 0 }.map { phrases[$0] })
                let text = template.caption(for: record, plain: plain)
                let masks = structures.map {
                    GroundingVocabulary.chestXRay.tokenMasks(caption: text, tokenizer: tokenizer, masks: $0, maxLength: length)
                }
                byPlain[pattern] = TokenizedCaption(ids: tokenizer.encode(text, maxLength: length, padding: true).ids, masks: masks ?? [])
            }
            return CaptionVariants(phrases: phrases.count, byPlain: byPlain)
        }
    }

    /// The structure masks of the images when the run grounds attention (nil otherwise). Every image must have its
    /// masks; an image whose caption names nothing it has a mask for is trained without grounding.
    static func groundingMasks(_ options: TrainingRunOptions, side: Int) throws -> GroundingMasks? {
        guard options.unet.groundingWeight != nil else { return nil }
        guard let folder = options.groundingMasks else {
            throw TrainingRunError("attention grounding needs the structure masks of the images (--grounding-masks DIR)")
        }
        return GroundingMasks(folder: folder, side: side)
    }

    /// What a resumed run must share with the run it continues, besides the trainer's settings.
    static func runDescription(_ o: TrainingRunOptions) -> [String: String] {
        let source: String = switch o.source {
        case .base(let url): "base \(url.standardizedFileURL.path)"
        case .config(let url, let vae): "config \(url.standardizedFileURL.path)" + (vae.map { " vae \($0.standardizedFileURL.path)" } ?? "")
        }
        var d = ["train": o.component.rawValue, "source": source, "resolution": "\(o.resolution)", "images": "\(o.records.count)"]
        switch o.component {
        case .vae:
            d["kl_weight"] = "\(o.klWeight)"
        case .vaeDecoder:
            break  // an L1 loss and nothing to set
        case .unet, .unetText:
            d["prediction"] = o.unet.prediction.rawValue
            d["snr_gamma"] = o.unet.snrGamma.map { "\($0)" } ?? "none"
            d["noise_offset"] = "\(o.unet.noiseOffset)"
            d["caption_dropout"] = "\(o.unet.captionDropout)"
            // Only when on, so that runs from before grounding existed still resume.
            if let w = o.unet.groundingWeight {
                d["grounding"] = "\(w) \(o.groundingMasks?.standardizedFileURL.path ?? "")"
            }
            if let share = o.detailDropout { d["detail_dropout"] = "\(share)" }
            if let share = o.phraseDetailDropout { d["phrase_detail_dropout"] = "\(share)" }
        }
        return d
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
        let lock = try runFolder.lock()
        defer { close(lock) }
        runFolder.cleanUpAfterKill()
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
        try runFolder.writeDescription(Self.runDescription(options))
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


}

/// A task as the run trains it: checkpoints whose `model/` folder is a complete diffusers model (the frozen
/// components linked from the published folder), so that a checkpoint loads like any model folder.
final class RunTask<Inner: TrainingTask>: TrainingTask {
    typealias Sample = Inner.Sample
    let inner: Inner
    let complete: (URL) throws -> Void

    init(_ inner: Inner, complete: @escaping (URL) throws -> Void) {
        self.inner = inner
        self.complete = complete
    }

    var parameters: [Tensor] { inner.parameters }

    func loss(_ batch: [Sample], generator: Generator) -> Tensor { inner.loss(batch, generator: generator) }

    func saveModel(to folder: URL) throws {
        try inner.saveModel(to: folder)
        try complete(folder)
    }

    func loadModel(from folder: URL) throws { try inner.loadModel(from: folder) }
}
