import Core
import Datasets
import Diffusion
import Foundation
import Imaging
import NN
import Tokenizer
import Torch
import Training

/// Everything a training run is made of, as `prism train` gathers it from its options.
public struct TrainingRunOptions: Sendable {
    /// What the run trains.
    public enum Component: String, Sendable, CaseIterable {
        case unet
        case unetText = "unet+text"
        case vae
        /// A base model's VAE decoder, its encoder frozen (``VAETrainingTask/decoderOnly``).
        case vaeDecoder = "vae-decoder"

        /// Whether the run trains (part of) the VAE rather than the UNet.
        public var trainsVAE: Bool { self == .vae || self == .vaeDecoder }
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
    /// How DICOM images become gray levels (their own window by default).
    public var window: DICOMWindow = .auto
    public var template: CaptionTemplate
    public var output: URL
    public var component = Component.unet
    public var resolution = 512
    public var settings = TrainingSettings()
    /// Epochs to train when `settings.totalSteps` should follow from the data (nil: use totalSteps).
    public var epochs: Int?
    public var unet = UNetTrainingTask.Options()
    /// The structure masks that ground the caption's words (`unet.groundingWeight`), as ``GroundingMasks`` reads them.
    public var groundingMasks: URL?
    /// The share of draws captioned without the detail a `detail` template says (``DetailDropout``; nil: none).
    public var detailDropout: Double?
    /// The share of draws in which each detail phrase, on its own, is said plainly (``DetailDropout``; nil: none).
    public var phraseDetailDropout: Double?
    /// β of the VAE's KL term.
    public var klWeight = 1e-6
    /// The dtype of the published weights (nil: fp32).
    public var saveDType: DType?
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
