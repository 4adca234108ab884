import Diffusion
import Foundation
import Training
import NN
import Torch

/// One training example for a text-to-image UNet: the image as latents (already encoded and scaled) or pixels,
/// and its caption's token ids.
public struct CaptionedLatents: Sendable {
    /// [C, h, w] scaled VAE latents, row-major.
    public var latents: [Float]
    public var shape: [Int]
    /// Token ids, padded to the text encoder's length.
    public var tokenIDs: [Int]
    /// The caption tokens grounded in a region of the latent grid (empty without attention grounding).
    public var tokenMasks: [TokenMask]

    public init(latents: [Float], shape: [Int], tokenIDs: [Int], tokenMasks: [TokenMask] = []) {
        self.latents = latents
        self.shape = shape
        self.tokenIDs = tokenIDs
        self.tokenMasks = tokenMasks
    }
}

/// Noise-prediction training of a UNet as diffusers' `train_text_to_image.py`: noise and timesteps drawn per
/// sample, ε or v targets, optional Min-SNR-γ weighting and noise offset, captions dropped to the empty prompt
/// with some probability so the model also learns the unconditional prediction classifier-free guidance needs.
public final class UNetTrainingTask: TrainingTask {
    public typealias Sample = CaptionedLatents

    public enum Prediction: String, Sendable, CaseIterable { case epsilon, v }

    public struct Options: Sendable {
        public var prediction = Prediction.epsilon
        /// Min-SNR-γ loss weighting (Hang et al. 2023); nil for the plain MSE.
        public var snrGamma: Double?
        public var noiseOffset = 0.0
        /// Probability of replacing a caption by the empty prompt.
        public var captionDropout = 0.1
        public var trainTextEncoder = false
        /// Weight of the attention-grounding loss (``AttentionGrounding``) on the samples' token masks; nil for none.
        public var groundingWeight: Double?
        public init() {}
    }

    public let unet: UNet2DConditionModel
    public let textEncoder: CLIPTextModel
    public let schedule: NoiseSchedule
    public let options: Options
    /// The token ids of the empty prompt (for caption dropout).
    let emptyIDs: [Int]
    /// The UNet's config.json as given, written back unchanged with every checkpoint.
    public init(unet: UNet2DConditionModel, textEncoder: CLIPTextModel, schedule: NoiseSchedule, emptyPromptIDs: [Int], options: Options) {
        self.unet = unet
        self.textEncoder = textEncoder
        self.schedule = schedule
        self.options = options
        emptyIDs = emptyPromptIDs
        unet.store.unfreeze()
        unet.store.isTraining = true
        if options.trainTextEncoder {
            textEncoder.store.unfreeze()
            textEncoder.store.isTraining = true
        } else {
            textEncoder.store.freeze()
        }
    }

    public var parameters: [Tensor] {
        unet.store.trainableParameters + (options.trainTextEncoder ? textEncoder.store.trainableParameters : [])
    }

    public func loss(_ batch: [CaptionedLatents], generator: Generator) -> Tensor {
        let b = batch.count
        let shape = batch[0].shape
        let dtype = unet.store.dtype, device = unet.store.device
        let latents = Tensor(batch.flatMap(\.latents), shape: [b] + shape).to(dtype, device)
        var noise = Tensor.randn([b] + shape, generator: generator).to(dtype, device)
        if options.noiseOffset > 0 {
            noise = noise + Tensor.randn([b, shape[0], 1, 1], generator: generator).to(dtype, device) * options.noiseOffset
        }
        let timesteps = Tensor.randint(0, schedule.numTrainTimesteps, [b], generator: generator)
        let t = timesteps.toArray(Int64.self).map(Int.init)
        let noisy = schedule.addNoise(original: latents, noise: noise, timesteps: t)
        // Caption dropout: one uniform draw per sample, always drawn so the random stream does not depend on it.
        let keep = Tensor.rand([b], generator: generator).toArray(Float.self).map { Double($0) >= options.captionDropout }
        let ids = zip(batch, keep).flatMap { $1 ? $0.tokenIDs : emptyIDs }
        let idTensor = Tensor(ints: ids, shape: [b, emptyIDs.count]).to(device)
        let context = options.trainTextEncoder ? textEncoder(idTensor) : withNoGrad { textEncoder(idTensor) }
        let target = options.prediction == .epsilon ? noise : schedule.velocity(sample: latents, noise: noise, timesteps: t)
        let recorder = options.groundingWeight.map { _ in CrossAttentionRecorder() }
        let processor = unet.attentionProcessor
        if let recorder { unet.attentionProcessor = recorder }
        let predicted = unet(noisy, timestep: timesteps.to(device), encoderHiddenStates: context.to(dtype))
        unet.attentionProcessor = processor
        let denoising = denoisingLoss(predicted, target, t)
        guard let weight = options.groundingWeight, let recorder, !recorder.maps.isEmpty,
              batch.contains(where: { !$0.tokenMasks.isEmpty }) else { return denoising }
        let (masks, weights) = AttentionGrounding.denseMasks(batch.map(\.tokenMasks), grounded: keep,
                                                              length: emptyIDs.count, side: shape[1])
        return denoising + AttentionGrounding.loss(maps: recorder.maps, masks: masks.to(device), weights: weights.to(device)) * weight
    }

    /// The ε or v regression, plain or Min-SNR-γ weighted per sample.
    func denoisingLoss(_ predicted: Tensor, _ target: Tensor, _ t: [Int]) -> Tensor {
        let b = t.count, device = unet.store.device
        guard let gamma = options.snrGamma else { return F.mseLoss(predicted.to(.float32), target.to(.float32)) }
        let perSample = (predicted.to(.float32) - target.to(.float32)).square().mean(dims: [1, 2, 3])
        let weights = t.map { step -> Float in
            let a = schedule.alphasCumprod[step], snr = a / (1 - a)
            let clipped = Swift.min(snr, gamma)
            return Float(options.prediction == .epsilon ? clipped / snr : clipped / (snr + 1))
        }
        return (perSample * Tensor(weights, shape: [b]).to(device)).mean()
    }

    public func saveModel(to folder: URL) throws {
        try DiffusersFolderWriter.add(.unet(unet), in: folder)
        if options.trainTextEncoder { try DiffusersFolderWriter.add(.textEncoder(textEncoder), in: folder) }
    }

    public func loadModel(from folder: URL) throws {
        try DiffusersFolder.loadWeights(into: unet.store, from: folder.appendingPathComponent("unet"))
        if options.trainTextEncoder {
            try DiffusersFolder.loadWeights(into: textEncoder.store, from: folder.appendingPathComponent("text_encoder"))
        }
    }
}
