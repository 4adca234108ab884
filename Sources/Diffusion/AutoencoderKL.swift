import Foundation
import NN
import Torch

/// `vae/config.json` of diffusers' `AutoencoderKL`, with diffusers' defaults for absent fields.
public struct AutoencoderKLConfig: Decodable, Sendable {
    public var inChannels = 3
    public var outChannels = 3
    public var downBlockTypes = ["DownEncoderBlock2D"]
    public var upBlockTypes = ["UpDecoderBlock2D"]
    public var blockOutChannels = [64]
    public var layersPerBlock = 1
    public var actFn = Activation.silu
    public var latentChannels = 4
    public var normNumGroups = 32
    public var sampleSize: [Int] = [32, 32]
    /// Latents are `scalingFactor · (z − shiftFactor)` in the diffusion space.
    public var scalingFactor = 0.18215
    public var shiftFactor: Double?
    public var latentsMean: [Double]?
    public var latentsStd: [Double]?
    public var forceUpcast = true
    public var useQuantConv = true
    public var usePostQuantConv = true
    public var midBlockAddAttention = true

    enum CodingKeys: String, CodingKey {
        case inChannels = "in_channels", outChannels = "out_channels", downBlockTypes = "down_block_types"
        case upBlockTypes = "up_block_types", blockOutChannels = "block_out_channels"
        case layersPerBlock = "layers_per_block", actFn = "act_fn", latentChannels = "latent_channels"
        case normNumGroups = "norm_num_groups", sampleSize = "sample_size", scalingFactor = "scaling_factor"
        case shiftFactor = "shift_factor", latentsMean = "latents_mean", latentsStd = "latents_std"
        case forceUpcast = "force_upcast", useQuantConv = "use_quant_conv", usePostQuantConv = "use_post_quant_conv"
        case midBlockAddAttention = "mid_block_add_attention"
    }

    /// The SD 1.x/2.x VAE layout.
    public static var stableDiffusion: AutoencoderKLConfig {
        var c = AutoencoderKLConfig()
        c.downBlockTypes = Array(repeating: "DownEncoderBlock2D", count: 4)
        c.upBlockTypes = Array(repeating: "UpDecoderBlock2D", count: 4)
        c.blockOutChannels = [128, 256, 512, 512]
        c.layersPerBlock = 2
        c.sampleSize = [512, 512]
        return c
    }

    public init() {}

    public init(from decoder: any Swift.Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        inChannels = try c.value(.inChannels, default: inChannels)
        outChannels = try c.value(.outChannels, default: outChannels)
        downBlockTypes = try c.value(.downBlockTypes, default: downBlockTypes)
        upBlockTypes = try c.value(.upBlockTypes, default: upBlockTypes)
        blockOutChannels = try c.value(.blockOutChannels, default: blockOutChannels)
        layersPerBlock = try c.value(.layersPerBlock, default: layersPerBlock)
        actFn = try c.activationField(.actFn) ?? actFn
        latentChannels = try c.value(.latentChannels, default: latentChannels)
        normNumGroups = try c.value(.normNumGroups, default: normNumGroups)
        if let size = try? c.decodeIfPresent(Int.self, forKey: .sampleSize) {
            sampleSize = [size, size]
        } else {
            sampleSize = try c.value(.sampleSize, default: sampleSize)
        }
        scalingFactor = try c.value(.scalingFactor, default: scalingFactor)
        shiftFactor = try c.decodeIfPresent(Double.self, forKey: .shiftFactor)
        latentsMean = try c.decodeIfPresent([Double].self, forKey: .latentsMean)
        latentsStd = try c.decodeIfPresent([Double].self, forKey: .latentsStd)
        forceUpcast = try c.value(.forceUpcast, default: forceUpcast)
        useQuantConv = try c.value(.useQuantConv, default: useQuantConv)
        usePostQuantConv = try c.value(.usePostQuantConv, default: usePostQuantConv)
        midBlockAddAttention = try c.value(.midBlockAddAttention, default: midBlockAddAttention)

        for type in downBlockTypes where type != "DownEncoderBlock2D" {
            throw c.unsupportedField(.downBlockTypes, "\(type) is not supported (DownEncoderBlock2D)")
        }
        for type in upBlockTypes where type != "UpDecoderBlock2D" {
            throw c.unsupportedField(.upBlockTypes, "\(type) is not supported (UpDecoderBlock2D)")
        }
        if downBlockTypes.count != blockOutChannels.count || upBlockTypes.count != blockOutChannels.count {
            throw c.unsupportedField(.blockOutChannels, "\(blockOutChannels.count) values for \(downBlockTypes.count) down "
                                + "and \(upBlockTypes.count) up blocks")
        }
        for (key, values) in [(CodingKeys.inChannels, [inChannels]), (.outChannels, [outChannels]),
                              (.blockOutChannels, blockOutChannels), (.layersPerBlock, [layersPerBlock]),
                              (.latentChannels, [latentChannels]), (.normNumGroups, [normNumGroups]), (.sampleSize, sampleSize)] {
            try c.requirePositive(key, values)
        }
        guard scalingFactor.isFinite, scalingFactor != 0 else {
            throw c.unsupportedField(.scalingFactor, "\(scalingFactor) is not a finite, non-zero number")
        }
        for channels in blockOutChannels where channels % normNumGroups != 0 {
            throw c.unsupportedField(.normNumGroups, "\(normNumGroups) groups do not divide \(channels) channels")
        }
    }
}

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
