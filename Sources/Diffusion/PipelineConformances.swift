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
