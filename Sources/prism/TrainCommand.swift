import ArgumentParser
import Datasets
import Foundation
import NN
import Torch
import DiffusionTraining
import Training

extension TrainingRunOptions.Component: ExpressibleByArgument {}
extension UNetTrainingTask.Prediction: ExpressibleByArgument {}
extension LearningRateSchedule.Shape: ExpressibleByArgument {}

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train or fine-tune a Stable Diffusion model (or its VAE) on captioned X-rays.",
        discussion: """
            Fine-tune a diffusers model's UNet (--train unet+text trains its text
            encoder as well):
              prism train --data train.csv --images ROOT --base sd-v1-5 \\
                  --output runs/ft --resolution 512 --batch 8 --grad-accum 4 \\
                  --lr 1e-5 --steps 10000 --ema 0.9999
            Train from scratch from a folder of component configs: first the VAE,
            then the UNet on its latents:
              prism train --data labels.csv --images images --config configs/smoke \\
                  --train vae --output runs/vae --resolution 128 --batch 8 \\
                  --lr 1e-4 --steps 300
              prism train --data labels.csv --images images --config configs/smoke \\
                  --vae runs/vae --train unet+text --output runs/ldm \\
                  --resolution 128 --lr 1e-4 --steps 500
            Sharpen a finished model's decoder (the encoder stays, and with it the
            latents its UNet learned; the run's folder is the whole model):
              prism train --data labels.csv --images images --base runs/ldm \\
                  --train vae-decoder --output runs/ldm-dec --resolution 128 \\
                  --batch 8 --grad-accum 1 --lr 2e-4 --steps 2000

            Images that are not chest X-rays train it too: a CSV described by its
            columns (see "Any label file" below), with a caption template in the
            images' own words:
              prism train --data derm/labels.csv --images derm \\
                  --path-column file --label-columns lesion,marker \\
                  --label-values positive=yes,negative=no --patient-column subject \\
                  --caption-template "A dermoscopy image of {labels}" \\
                  --base sd-v1-5 --output runs/derm --resolution 512 --steps 2000
            or a folder of class folders (ROOT/CLASS/image.png, one label a folder):
              prism train --data-folder lesions --base sd-v1-5 --output runs/ls \\
                  --caption-template "A dermoscopy image of {labels}" --steps 2000
            The captions then mention the dataset's labels (a --template file with
            "findings" and "names" says which and in what words); the run prints
            the caption of its first image.

            Before anything is written, every image is read once: a missing,
            truncated or corrupt file is refused with its name.

            OUTPUT receives: checkpoints/checkpoint-NNNNNN/ (model/, optimizer, EMA
            and RNG state, training_state.json; written to a temporary name, then
            renamed), log.csv, loss.png, samples/step-NNNNNN.png, and a complete
            diffusers model folder (model_index.json, unet/, vae/, text_encoder/,
            tokenizer/, scheduler/) refreshed at every checkpoint, with the EMA
            weights when --ema is given: `prism generate --model OUTPUT` and
            diffusers' from_pretrained(OUTPUT) load it. --resume continues from the
            newest checkpoint exactly (weights, optimizer, EMA, data order, RNG).

            --dtype is the forward pass's precision: bf16 is mixed precision (fp32
            weights, bf16 autocast).
            """
    )

    @OptionGroup var input: LabelledImagesOptions
    @OptionGroup var captions: CaptionOptions

    @Option(help: ArgumentHelp("A diffusers model folder to fine-tune.", valueName: "model-dir"))
    var base: String?

    @Option(help: ArgumentHelp("A folder of component configs to train from scratch (unet/, vae/, text_encoder/ config.json, tokenizer/, scheduler/).", valueName: "dir"))
    var config: String?

    @Option(help: ArgumentHelp("With --config and --train unet/unet+text: the trained VAE (a vae folder or a model folder).", valueName: "dir"))
    var vae: String?

    @Option(help: ArgumentHelp("The run's folder (checkpoints, log, samples, the published model).", valueName: "dir"))
    var output: String

    @Option(help: """
        What to train: unet | unet+text | vae (from --config) | vae-decoder (a --base model's VAE decoder, its encoder \
        and so its UNet's latents unchanged).
        """)
    var train: TrainingRunOptions.Component = .unet

    @Option(help: "Image side in pixels (images are made gray, centre-cropped square and resized).")
    var resolution = 512

    @OptionGroup var loop: TrainingLoopOptions<DiffusionTrainingDefaults>

    @Option(help: "Micro-batches per optimizer step (the effective batch is batch × grad-accum).")
    var gradAccum = 4

    @Option(help: "Learning-rate schedule after warm-up: constant | linear | cosine.")
    var lrSchedule: LearningRateSchedule.Shape = .constant

    @Option(help: "UNet target: epsilon | v.")
    var prediction: UNetTrainingTask.Prediction = .epsilon

    @Option(help: "Min-SNR-γ loss weighting (5 is the paper's choice); off when not given.")
    var snrGamma: Double?

    @Option(help: "Noise offset (0.05–0.1 helps very dark/bright images); 0 is off.")
    var noiseOffset = 0.0

    @Option(help: "Probability of training on the empty caption (for classifier-free guidance).")
    var captionDropout = 0.1

    @Option(help: ArgumentHelp("Weight of the attention-grounding loss (TokenCompose, Wang et al. 2024): each finding word's cross-attention is pulled into the structure it names, given --grounding-masks; off when not given.", valueName: "weight"))
    var groundAttention: Double?

    @Option(help: ArgumentHelp("The structure masks for --ground-attention: DIR/ID/STRUCTURE.png per image ID (heart, effusion, pacemaker, endotracheal_tube, central_venous_catheter, nasogastric_tube), as `prism phantom generate --masks` writes them in DATASET/masks.", valueName: "dir"))
    var groundingMasks: String?

    @Option(help: ArgumentHelp("The share of draws captioned without their detail (\"pleural effusion\" for \"a small right pleural effusion\"), so that an edit naming no detail meets a word trained on every side and size; needs a template with \"detail\": true. Off when not given.", valueName: "share"))
    var detailDropout: Double?

    @Option(help: ArgumentHelp("The share of draws in which each detail phrase, on its own, is said plainly (\"cardiomegaly and a small left pleural effusion\" for \"moderate cardiomegaly and a small left pleural effusion\"), so that captions mixing plain and detailed phrases, as partial labels give them, are trained; with --detail-dropout, a draw that keeps its caption's detail then drops phrases. Needs a template with \"detail\": true. Off when not given.", valueName: "share"))
    var phraseDetailDropout: Double?

    @Option(help: "β of the VAE's KL term (--train vae).")
    var klWeight = 1e-6

    @Option(help: "EMA decay of the weights (e.g. 0.9999); no EMA when not given. The published model gets the EMA weights.")
    var ema: Double?

    @OptionGroup var precision: DTypeOption

    @Option(help: "Precision of the published weights: fp32 | fp16.")
    var saveDtype = "fp32"

    @Option(help: "Write a checkpoint (and refresh the published model) every N steps.")
    var checkpointEvery = 500

    @Option(help: "Write a sample grid every N steps (off when not given).")
    var sampleEvery: Int?

    @Option(name: .customLong("sample-prompt"), help: "A prompt of the sample grid (repeatable; default: a few captions from the data).")
    var samplePrompts: [String] = []

    @Option(help: "Denoising steps of the samples.")
    var sampleSteps = 20

    @Option(help: "Guidance scale of the samples.")
    var sampleGuidance = 5.0

    @OptionGroup var split: SplitPartOption<TrainOnSplitPart>

    @OptionGroup var splitFile: TrainingSplitOption

    @Flag(help: "Encode the images' latents again each time they are used instead of keeping them in memory (same results; for datasets whose latents do not fit: 64 KB an image at 512 px).")
    var noLatentCache = false

    func validate() throws {
        guard (base != nil) != (config != nil) else {
            throw ValidationError(base == nil ? "give --base MODEL_DIR (fine-tune a diffusers model) or --config DIR (train from scratch)"
                                              : "give --base MODEL_DIR (fine-tune) or --config DIR (from scratch), not both")
        }
        try validateCounts()
        try validateNumbers()
        try requireChoice(saveDtype, "--save-dtype", ["fp32", "fp16"])
        if train == .vae, base != nil {
            throw ValidationError("--train vae trains a VAE from --config; --train vae-decoder fine-tunes a --base model's VAE decoder")
        }
        if train == .vaeDecoder, base == nil {
            throw ValidationError("--train vae-decoder fine-tunes the VAE decoder of a trained model: give it with --base")
        }
        if vae != nil, config == nil { throw ValidationError("--vae goes with --config (a --base model has its own VAE)") }
        if (groundAttention != nil) != (groundingMasks != nil) {
            throw ValidationError(groundAttention == nil ? "--grounding-masks goes with --ground-attention WEIGHT"
                                                         : "--ground-attention needs the structure masks: give --grounding-masks DIR")
        }
        if detailDropout != nil, train.trainsVAE { throw ValidationError("--detail-dropout drops caption detail; a VAE trains without captions") }
        if phraseDetailDropout != nil, train.trainsVAE {
            throw ValidationError("--phrase-detail-dropout drops caption detail; a VAE trains without captions")
        }
        if groundAttention != nil, train.trainsVAE { throw ValidationError("--ground-attention trains a UNet's cross-attention, not a VAE") }
    }

    func validateCounts() throws {
        try requireCount(gradAccum, "--grad-accum", atLeast: 1)
        try requireCount(resolution, "--resolution", atLeast: 8)
        try requireCount(checkpointEvery, "--checkpoint-every", atLeast: 1)
        try requireCount(sampleEvery, "--sample-every", atLeast: 1)
        try requireCount(sampleSteps, "--sample-steps", atLeast: 1)
    }

    func validateNumbers() throws {
        try requireFinite(snrGamma, "--snr-gamma", range: .above(0))
        try requireFinite(noiseOffset, "--noise-offset", range: .atLeast(0))
        try requireFinite(captionDropout, "--caption-dropout", range: .closed(0, 1))
        try requireFinite(groundAttention, "--ground-attention", range: .above(0))
        try requireFinite(detailDropout, "--detail-dropout", range: .closed(0, 1))
        try requireFinite(phraseDetailDropout, "--phrase-detail-dropout", range: .closed(0, 1))
        try requireFinite(klWeight, "--kl-weight", range: .atLeast(0))
        try requireFinite(ema, "--ema", range: .upToExcluding(0, 1))
        try requireFinite(sampleGuidance, "--sample-guidance", range: .atLeast(0))
    }

    func run() throws {
        let imageRoot = try input.imageRoot()
        try requireWritableFolder(output, "--output")
        loop.applyThreads()
        let outputURL = URL(fileURLWithPath: output)
        let loaded = try input.loadData()
        var records = loaded.records
        if !split.isAll {
            records = split.records(records, of: try splitFile.loadOrCreate(for: records, output: outputURL, seed: loop.seed))
        }
        let source: TrainingRunOptions.Source = base.map { .base(URL(fileURLWithPath: $0)) }
            ?? .config(URL(fileURLWithPath: config!), vae: vae.map { URL(fileURLWithPath: $0) })
        var options = TrainingRunOptions(source: source, records: records, imageRoot: imageRoot,
                                         template: try captions.load(findings: loaded.findings), output: outputURL)
        options.component = train
        options.resolution = resolution
        options.window = try input.window.value()
        loop.apply(to: &options.settings)
        options.settings.gradientAccumulation = gradAccum
        options.settings.schedule = lrSchedule
        options.settings.emaDecay = ema
        options.settings.checkpointEvery = checkpointEvery
        options.epochs = loop.epochs
        options.unet.prediction = prediction
        options.unet.snrGamma = snrGamma
        options.unet.noiseOffset = noiseOffset
        options.unet.captionDropout = captionDropout
        options.unet.groundingWeight = groundAttention
        options.groundingMasks = groundingMasks.map { URL(fileURLWithPath: $0) }
        options.detailDropout = detailDropout
        options.phraseDetailDropout = phraseDetailDropout
        options.klWeight = klWeight
        options.settings.autocast = try precision.value() == .bfloat16 ? .bfloat16 : nil
        options.saveDType = saveDtype == "fp16" ? .float16 : nil
        options.sampleEvery = sampleEvery
        options.samplePrompts = samplePrompts
        options.sampleSteps = sampleSteps
        options.sampleGuidance = sampleGuidance
        options.resume = loop.resume
        options.cacheLatents = !noLatentCache

        let run: TrainingRun
        do { run = try TrainingRun(options, checkingImages: imageCheckProgress(total: records.count)) } catch {
            throw CLIError("\(error)")
        }
        log("training \(train.rawValue) on \(records.count) images at \(resolution) px, \(run.totalSteps) steps of "
            + "\(loop.batch)×\(gradAccum) images, into \(output)")
        if !train.trainsVAE, run.dataset.count > 0 { log("captions such as: \"\(run.dataset.caption(0))\"") }
        var bar: ProgressBar?
        var first = 0
        do {
            try run.run(report: { r in
                if bar == nil {
                    first = r.step - 1
                    bar = ProgressBar(total: r.totalSteps - first, label: "train", unit: "step")
                }
                bar?.update(r.step - first, info: String(format: "step %d/%d loss %.4f lr %.2e %.2f samples/s",
                                                         r.step, r.totalSteps, r.loss, r.learningRate, r.samplesPerSecond))
            }, message: log.callAsFunction)
        } catch let error as TrainingRunError {
            throw CLIError(error.description)
        }
        bar?.finish()
        log("done: step \(run.step); model in \(output) (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/), "
            + "log \(run.logURL.path), loss curve \(run.lossCurveURL.path)")
    }

    /// The pass over the images before training, shown as a bar when it is long enough to wait for.
    func imageCheckProgress(total: Int) -> (Int, Int) -> Void {
        guard total >= 2000 else { return { _, _ in } }
        let bar = ProgressBar(total: total, label: "checking images", unit: "image")
        return { done, total in
            bar.update(done)
            if done == total { bar.finish() }
        }
    }

    var log: Log { Log() }
}
