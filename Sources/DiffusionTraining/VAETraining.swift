import Diffusion
import Core
import Foundation
import Training
import NN
import Torch

/// One image as a VAE trains on it: CHW floats in [-1, 1].
public struct ImageSample: Sendable {
    public var pixels: [Float]
    public var shape: [Int]

    public init(pixels: [Float], shape: [Int]) {
        self.pixels = pixels
        self.shape = shape
    }
}

/// Training of an `AutoencoderKL` as in latent diffusion's first stage: L1 reconstruction of the image from a
/// posterior sample, plus β times the KL divergence of the posterior from the standard normal (β = 1e-6 in LDM's
/// KL-f8 configs). LDM sums both terms over the pixels; here both are divided by the pixel count, which gives
/// the same optimum and gradient direction but a loss on the scale of a mean absolute error. The perceptual
/// (LPIPS) and adversarial terms of LDM's `LPIPSWithDiscriminator` are left out: they need a pretrained VGG.
public final class VAETrainingTask: TrainingTask {
    public typealias Sample = ImageSample

    public let vae: AutoencoderKL
    /// β, the weight of the KL term.
    public let klWeight: Double
    /// Images whose latents set the published `scaling_factor` to 1 / their standard deviation (as Stable
    /// Diffusion's 0.18215 was chosen), so that the UNet later sees latents of unit variance; empty: keep the
    /// config's factor.
    public var calibrationImages: [ImageSample] = []

    /// Train the decoder alone (and `post_quant_conv`): the encoder, and with it the latent space a UNet was
    /// trained on and the published `scaling_factor`, stay as they are, so that a fine-tuned decoder drops into a
    /// finished model.
    public let decoderOnly: Bool

    /// The parameter prefixes a decoder-only run trains.
    public static let decoderPrefixes = ["decoder.", "post_quant_conv."]

    public init(vae: AutoencoderKL, klWeight: Double = 1e-6, decoderOnly: Bool = false) {
        self.vae = vae
        self.klWeight = klWeight
        self.decoderOnly = decoderOnly
        if decoderOnly {
            vae.store.freeze()
            for prefix in Self.decoderPrefixes { vae.store.unfreeze(prefix: prefix) }
        } else {
            vae.store.unfreeze()
        }
        vae.store.isTraining = true
    }

    public var parameters: [Tensor] { vae.store.trainableParameters }

    public func loss(_ batch: [ImageSample], generator: Generator) -> Tensor {
        let shape = [batch.count] + batch[0].shape
        let x = Tensor(batch.flatMap(\.pixels), shape: shape).to(vae.store.dtype, vae.store.device)
        if decoderOnly {
            // The frozen encoder's posterior is a constant; the KL term does not depend on the decoder.
            let latents = withNoGrad { vae.encode(x).sample(generator: generator) }
            return (vae.decode(latents).to(.float32) - x.to(.float32)).abs().mean()
        }
        let posterior = vae.encode(x)
        let reconstruction = vae.decode(posterior.sample(generator: generator))
        let l1 = (reconstruction.to(.float32) - x.to(.float32)).abs().mean()
        let kl = Self.klDivergence(posterior).mean()
        return l1 + kl * (klWeight / Double(batch[0].shape.reduce(1, *)))
    }

    /// KL(q(z|x) ‖ N(0, I)) per sample, summed over the latent (LDM's `DiagonalGaussianDistribution.kl()`).
    public static func klDivergence(_ p: DiagonalGaussianDistribution) -> Tensor {
        let mean = p.mean.to(.float32), logvar = p.logvar.to(.float32)
        return ((mean.square() + logvar.exp() - 1 - logvar) * 0.5).sum(dims: [1, 2, 3])
    }

    public func saveModel(to folder: URL) throws {
        try DiffusersFolderWriter.add(.vae(vae, config: calibratedConfig()), in: folder)
    }

    /// The latents' scaling factor for the current weights: 1 / std of posterior samples of the calibration images.
    public func calibratedScalingFactor() -> Double? {
        guard !calibrationImages.isEmpty else { return nil }
        let values: [Float] = withNoGrad {
            let x = Tensor(calibrationImages.flatMap(\.pixels), shape: [calibrationImages.count] + calibrationImages[0].shape)
                .to(vae.store.dtype, vae.store.device)
            return vae.encode(x).sample(generator: Generator(seed: 0)).floats()
        }
        let n = Double(values.count)
        let mean = values.reduce(0.0) { $0 + Double($1) } / n
        let variance = values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / max(n - 1, 1)
        return variance > 0 ? 1 / variance.squareRoot() : nil
    }

    /// The VAE's config with the calibrated scaling factor.
    public func calibratedConfig() -> AutoencoderKLConfig {
        var config = vae.config
        if let factor = calibratedScalingFactor() { config.scalingFactor = factor }
        return config
    }

    public func loadModel(from folder: URL) throws {
        try DiffusersFolder.loadWeights(into: vae.store, from: folder.appendingPathComponent("vae"), aliases: .legacyVAEAttention)
    }
}
