import Diffusion
import Foundation
import Torch

/// A Stable Diffusion model folder as the editing engine uses it: the pipeline's components, the UNet's
/// attention processor swapped for prompt-to-prompt control while editing.
public final class StableDiffusionEditingModel: EditingModel {
    public let pipeline: StableDiffusionPipeline
    let unet: UNet2DConditionModel
    let vae: AutoencoderKL
    public let identity: String

    public init(pipeline: StableDiffusionPipeline, identity: String) throws {
        guard let unet = pipeline.unet as? UNet2DConditionModel, let vae = pipeline.vae as? AutoencoderKL else {
            throw PipelineError("editing needs a UNet2DConditionModel and an AutoencoderKL")
        }
        self.pipeline = pipeline
        self.unet = unet
        self.vae = vae
        self.identity = identity
    }

    public static func load(from folder: URL, dtype: DType = .float32, device: Device = .cpu) throws -> StableDiffusionEditingModel {
        let pipeline = try StableDiffusionPipeline.load(from: folder, dtype: dtype, device: device)
        return try StableDiffusionEditingModel(pipeline: pipeline,
                                               identity: InversionCache.modelIdentity(folder) + "/\(dtype)/\(device)")
    }

    public var tokenizer: PromptTokenizing { pipeline.tokenizer }

    /// The pixel size edits run at: the model's own unless set (a multiple of the VAE's downscale factor).
    public var resolutionOverride: Int?

    public var resolution: Int { resolutionOverride ?? pipeline.defaultImageSize }

    public func textEmbeddings(_ prompts: [String]) -> Tensor { pipeline.encodePrompts(prompts) }

    public func predict(_ latents: Tensor, timestep: Int, context: Tensor) -> Tensor {
        unet(latents.to(pipeline.dtype), timestep: Tensor(ints: [timestep]).to(pipeline.device),
             encoderHiddenStates: context.to(pipeline.dtype))
    }

    public func install(_ control: PromptToPromptControl?) {
        unet.attentionProcessor = control.map { PromptToPromptProcessor(control: $0) } ?? ScaledDotProductAttention()
    }

    /// The posterior mean, scaled: inversion starts from the image's most likely latent, as prompt-to-prompt does.
    public func encode(_ images: Tensor) -> Tensor {
        vae.scaleLatents(vae.encode(images.to(pipeline.dtype, pipeline.device)).mean)
    }

    public func decode(_ latents: Tensor) -> Tensor { vae.decode(vae.unscaleLatents(latents)).to(.float32).to(.cpu) }

    public func stepper(steps: Int) throws -> DDIMStepper {
        try DDIMStepper(scheduler: DDIMScheduler(config: pipeline.schedulerConfig), steps: steps)
    }

    public func crossAttentionResolutions(latentSize: Int) -> [Int] {
        var sizes: Set<Int> = []
        var s = latentSize
        for (i, type) in unet.config.downBlockTypes.enumerated() {
            if type.hasPrefix("CrossAttn") { sizes.insert(s) }
            if i < unet.config.downBlockTypes.count - 1 { s = (s + 1) / 2 }
        }
        if unet.midBlock != nil { sizes.insert(s) }
        return sizes.sorted(by: >)
    }
}

/// Prompt-to-prompt control as the UNet's attention processor.
final class PromptToPromptProcessor: AttentionProcessor {
    let control: PromptToPromptControl
    init(control: PromptToPromptControl) { self.control = control }

    func attend(query: Tensor, key: Tensor, value: Tensor, call: AttentionCall) -> Tensor {
        control.attend(query: query, key: key, value: value, isCross: call.isCrossAttention,
                       queryHeight: call.queryHeight, queryWidth: call.queryWidth, upcast: call.upcast)
    }
}
