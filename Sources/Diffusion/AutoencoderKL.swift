import DiffusersConfig
import Foundation
import NN
import Torch

/// A diagonal Gaussian over latents, as diffusers' `DiagonalGaussianDistribution`: the encoder output split
/// into mean and log-variance on the channel axis, the log-variance clamped to [-30, 20].
public struct DiagonalGaussianDistribution {
    public let parameters: Tensor
    public let mean: Tensor
    public let logvar: Tensor
    public let std: Tensor
    public let variance: Tensor

    public init(_ parameters: Tensor) {
        self.parameters = parameters
        let parts = parameters.chunk(2, dim: 1)
        mean = parts[0]
        logvar = parts[1].clamp(min: -30, max: 20)
        std = (0.5 * logvar).exp()
        variance = logvar.exp()
    }

    /// mean + std · ε with ε drawn from `generator` on the CPU in the parameters' dtype, then moved to their
    /// device, as diffusers' `sample(generator=torch.Generator().manual_seed(s))` (`randn_tensor`).
    public func sample(generator: Generator? = nil) -> Tensor {
        let noise = Tensor.randn(mean.shape, generator: generator, dtype: parameters.dtype, device: parameters.device)
        return mean + std * noise
    }

    /// The most likely latents: the mean.
    public func mode() -> Tensor { mean }
}

/// The Stable Diffusion VAE, as diffusers' `AutoencoderKL`: `encoder`, `quant_conv`, `post_quant_conv`,
/// `decoder`, under diffusers' names in ``store``. Old checkpoints' attention names
/// (`query/key/value/proj_attn`, also as 1×1-conv weights) load through ``KeyAliases/legacyVAEAttention``.
public final class AutoencoderKL: Module {
    public let config: AutoencoderKLConfig
    public let store: ParameterStore
    public let encoder: Encoder
    public let decoder: Decoder
    public let quantConv: Conv2d?
    public let postQuantConv: Conv2d?
    let slot: AttentionProcessorSlot

    /// The processor of the VAE's mid-block attentions.
    public var attentionProcessor: AttentionProcessor {
        get { slot.processor }
        set { slot.processor = newValue }
    }

    public var dtype: DType { store.dtype }
    public var device: Device { store.device }
    public var scalingFactor: Double { config.scalingFactor }
    public var shiftFactor: Double? { config.shiftFactor }

    public init(config: AutoencoderKLConfig, path: ParameterPath) {
        self.config = config
        store = path.store
        slot = AttentionProcessorSlot(root: path)
        encoder = Encoder(path / "encoder", slot: slot, config: config)
        decoder = Decoder(path / "decoder", slot: slot, config: config)
        let latent = config.latentChannels
        quantConv = config.useQuantConv ? Conv2d(path / "quant_conv", 2 * latent, 2 * latent, kernelSize: 1) : nil
        postQuantConv = config.usePostQuantConv ? Conv2d(path / "post_quant_conv", latent, latent, kernelSize: 1) : nil
    }

    public convenience init(config: AutoencoderKLConfig, dtype: DType = .float32, device: Device = .cpu) {
        self.init(config: config, path: ParameterStore(dtype: dtype, device: device).root)
    }

    /// Loads a diffusers `vae/` folder strictly, converting weights to `dtype` on `device`; legacy attention
    /// names are accepted. Parameters come back frozen (`store.unfreeze()` to train).
    public static func load(
        from folder: URL, dtype: DType = .float32, device: Device = .cpu, variant: String? = nil
    ) throws -> AutoencoderKL {
        let config = try DiffusersFolder.config(AutoencoderKLConfig.self, in: folder)
        let store = ParameterStore(dtype: dtype, device: device)
        store.skipsInitialization = true
        let vae = AutoencoderKL(config: config, path: store.root)
        try DiffusersFolder.loadWeights(into: vae.store, from: folder, variant: variant, aliases: .legacyVAEAttention)
        vae.store.freeze()
        return vae
    }

    /// Images [B, 3, H, W] in [-1, 1] → the latent distribution ([B, latent, H/f, W/f]). Converted to the
    /// model's dtype.
    public func encode(_ images: Tensor) -> DiagonalGaussianDistribution {
        var h = encoder(images.to(store.dtype))
        if let quantConv { h = quantConv(h) }
        return DiagonalGaussianDistribution(h)
    }

    /// Latents (unscaled: divide diffusion latents by ``scalingFactor`` first) → images in about [-1, 1].
    public func decode(_ latents: Tensor) -> Tensor {
        var z = latents.to(store.dtype)
        if let postQuantConv { z = postQuantConv(z) }
        return decoder(z)
    }

    /// Diffusion-space latents from VAE latents: `scalingFactor · (z − shiftFactor)`.
    public func scaleLatents(_ z: Tensor) -> Tensor {
        (shiftFactor.map { z - $0 } ?? z) * scalingFactor
    }

    /// VAE latents from diffusion-space latents: `latents / scalingFactor + shiftFactor`.
    public func unscaleLatents(_ latents: Tensor) -> Tensor {
        let z = latents / scalingFactor
        return shiftFactor.map { z + $0 } ?? z
    }
}
