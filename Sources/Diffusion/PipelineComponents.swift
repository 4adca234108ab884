import Torch

/// What the pipeline needs of a UNet: the noise prediction of diffusers' `UNet2DConditionModel` forward.
/// A protocol so that the denoising loop can be exercised with a stand-in model, and so that editing code can wrap
/// the UNet (attention control) without the pipeline knowing.
public protocol PipelineDenoiser: AnyObject {
    /// The model output (ε for Stable Diffusion 1.x) for `sample` (batch × C × h × w) at `timestep` (int64, one
    /// value for the whole batch or one per element), conditioned on `encoderHiddenStates` (batch × tokens × dim).
    func predictNoise(_ sample: Tensor, timestep: Tensor, encoderHiddenStates: Tensor) -> Tensor
    /// Latent channels (the UNet's `in_channels`).
    var latentChannels: Int { get }
    /// The latent side the model was trained at (`sample_size`), which sets the default image size.
    var sampleSize: Int { get }
    /// The width of the text embeddings it attends to (`cross_attention_dim`).
    var crossAttentionDim: Int { get }
}

/// What the pipeline needs of a VAE: diffusers' `AutoencoderKL` encode (posterior sample) and decode.
public protocol PipelineAutoencoder: AnyObject {
    /// `scaling_factor`: latents the UNet sees are the VAE's latents times this.
    var scalingFactor: Double { get }
    /// Pixels per latent along a side, `2^(len(block_out_channels) - 1)` as diffusers' `vae_scale_factor`.
    var downscaleFactor: Int { get }
    /// Channels of its latents (`latent_channels`).
    var latentChannels: Int { get }
    /// One sample of the posterior for images in [-1, 1] (batch × 3 × H × W), unscaled. The standard normal draw
    /// comes from `generator` on the CPU, as diffusers' `DiagonalGaussianDistribution.sample(generator)`.
    func encodeSample(_ images: Tensor, generator: Generator?) -> Tensor
    /// Images (about [-1, 1]) for unscaled latents.
    func decodeLatents(_ latents: Tensor) -> Tensor
}
