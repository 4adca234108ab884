import Torch

extension UNet2DConditionModel: PipelineDenoiser {
    public func predictNoise(_ sample: Tensor, timestep: Tensor, encoderHiddenStates: Tensor) -> Tensor {
        self(sample, timestep: timestep, encoderHiddenStates: encoderHiddenStates)
    }

    public var latentChannels: Int { config.inChannels }

    /// `sample_size` (64 for SD 1.5); configs without one get diffusers' pipelines' fallback of 64.
    public var sampleSize: Int { config.sampleSize?.first ?? 64 }

    public var crossAttentionDim: Int { config.crossAttentionDim.first ?? 768 }
}

extension StableDiffusionPipeline {
    /// The UNet as its concrete type, for editing code that sets its attention processor.
    public var unetModel: UNet2DConditionModel? { unet as? UNet2DConditionModel }
}

extension AutoencoderKL: PipelineAutoencoder {
    /// `2^(len(block_out_channels) − 1)`, diffusers' `vae_scale_factor` (8 for Stable Diffusion).
    public var downscaleFactor: Int { 1 << max(config.blockOutChannels.count - 1, 0) }

    public var latentChannels: Int { config.latentChannels }

    /// A posterior sample, as diffusers' `retrieve_latents(vae.encode(image), generator)`. Stable Diffusion's
    /// pipelines scale by `scaling_factor` only (no shift), so this returns unscaled latents.
    public func encodeSample(_ images: Tensor, generator: Generator?) -> Tensor {
        encode(images).sample(generator: generator)
    }

    public func decodeLatents(_ latents: Tensor) -> Tensor { decode(latents) }
}

extension StableDiffusionPipeline {
    /// The VAE as its concrete type.
    public var vaeModel: AutoencoderKL? { vae as? AutoencoderKL }
}
