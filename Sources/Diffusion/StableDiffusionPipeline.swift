import DiffusersConfig
import Foundation
import NN
import Tokenizer
import Torch

/// What to generate: diffusers' `StableDiffusionPipeline.__call__` arguments, and with `initImage` those of
/// `StableDiffusionImg2ImgPipeline`.
public struct GenerationRequest: Sendable {
    public var prompt: String
    /// The unconditional prompt of classifier-free guidance; nil means "" as in diffusers.
    public var negativePrompt: String?
    public var steps = 50
    /// Classifier-free guidance weight; guidance is on when it is above 1 (diffusers' `do_classifier_free_guidance`).
    public var guidanceScale = 7.5
    /// Image size in pixels; nil takes the given latents' size, else the UNet's `sample_size` × the VAE's downscale
    /// factor (512 for SD 1.5).
    public var height: Int?
    public var width: Int?
    public var numImagesPerPrompt = 1
    /// The seed of the CPU generator that draws the initial noise (and any scheduler or VAE noise), as
    /// `torch.Generator().manual_seed(seed)`; nil draws from the global generator.
    public var seed: UInt64?
    /// Starting latents (batch × C × h × w) instead of drawn noise; they are multiplied by `initNoiseSigma`.
    public var latents: Tensor?
    /// img2img: an image in [-1, 1] (1 or batch × 3 × H × W) to start from, and how much of the schedule to run on it.
    public var initImage: Tensor?
    public var strength = 0.8

    public init(prompt: String, negativePrompt: String? = nil) {
        self.prompt = prompt
        self.negativePrompt = negativePrompt
    }
}

/// The result of a generation: the final latents (scaled, as the UNet sees them) and, when decoded, the images.
public struct GenerationResult {
    /// batch × C × h × w, in the pipeline's dtype.
    public let latents: Tensor
    /// batch × 3 × H × W in [0, 1], float32 on the CPU (diffusers' `output_type="pt"`); nil when not decoded.
    public let images: Tensor?
}

/// Reported once before the first denoising step (`step` 0) and after each step.
public struct StepProgress: Sendable {
    /// Steps done out of `total` (0: about to start).
    public let step: Int
    public let total: Int
    public let timestep: Int
    /// Seconds the step took (0 before the first).
    public let seconds: Double
}

/// A pipeline request that cannot run: bad sizes, strengths or latents. Says what and what to do.
public struct PipelineError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// diffusers' `StableDiffusionPipeline` and `StableDiffusionImg2ImgPipeline` in one type, built from small public
/// pieces that editing code reuses: prompt encoding, noise, latents ↔ images, one guided step.
public final class StableDiffusionPipeline {
    public let tokenizer: CLIPTokenizer
    public let textEncoder: CLIPTextModel
    public let unet: any PipelineDenoiser
    public let vae: any PipelineAutoencoder
    /// The model's `scheduler/scheduler_config.json`; `makeScheduler` builds any kind from it.
    public let schedulerConfig: SchedulerConfig
    /// The dtype and device the components compute in.
    public let dtype: DType
    public let device: Device

    public init(tokenizer: CLIPTokenizer, textEncoder: CLIPTextModel, unet: any PipelineDenoiser,
                vae: any PipelineAutoencoder, schedulerConfig: SchedulerConfig, dtype: DType = .float32,
                device: Device = .cpu) {
        self.tokenizer = tokenizer
        self.textEncoder = textEncoder
        self.unet = unet
        self.vae = vae
        self.schedulerConfig = schedulerConfig
        self.dtype = dtype
        self.device = device
    }

    /// The scheduler kind the model's config names, when Prism implements it (SD 1.5 ships PNDM: then nil).
    public var configuredSchedulerKind: SchedulerKind? { schedulerConfig.className.flatMap(SchedulerKind.init(className:)) }

    /// A fresh scheduler of `kind` (default: the model's own, else DDIM) from the model's scheduler config.
    public func makeScheduler(_ kind: SchedulerKind? = nil) throws -> any Scheduler {
        try Diffusion.makeScheduler(config: schedulerConfig, kind: kind ?? configuredSchedulerKind ?? .ddim)
    }

    // MARK: Prompts

    /// The text encoder's `last_hidden_state` for each prompt (batch × 77 × dim), tokens padded and cut to the
    /// tokenizer's length as diffusers' `encode_prompt` does. In the pipeline's dtype.
    public func encodePrompts(_ prompts: [String]) -> Tensor {
        let length = tokenizer.modelMaxLength
        let ids = prompts.flatMap { tokenizer.encode($0, maxLength: length, padding: true).ids }
        let input = Tensor(ints: ids, shape: [prompts.count, length]).to(device)
        return withNoGrad { textEncoder(input) }.to(dtype)
    }

    /// The embeddings one guided UNet call takes: `[uncond × n; cond × n]` with guidance (diffusers'
    /// `torch.cat([negative_prompt_embeds, prompt_embeds])`), else `cond × n`.
    public func promptEmbeddings(prompt: String, negativePrompt: String? = nil, numImagesPerPrompt n: Int = 1,
                                 guidance: Bool = true) -> Tensor {
        let texts = guidance ? [negativePrompt ?? "", prompt] : [prompt]
        let embeddings = encodePrompts(texts)
        let repeated = texts.indices.map { i in
            let row = embeddings.slice(dim: 0, start: i, end: i + 1)
            return n == 1 ? row : Tensor.cat(Array(repeating: row, count: n), dim: 0)
        }
        return repeated.count == 1 ? repeated[0] : Tensor.cat(repeated, dim: 0)
    }

    // MARK: Latents

    /// The latent shape for `batch` images of `height` × `width` pixels.
    public func latentShape(batch: Int, height: Int, width: Int) -> [Int] {
        let f = vae.downscaleFactor
        return [batch, unet.latentChannels, height / f, width / f]
    }

    /// The default image side in pixels: the UNet's `sample_size` × the VAE's downscale factor.
    public var defaultImageSize: Int { unet.sampleSize * vae.downscaleFactor }

    /// Standard normal noise drawn on the CPU from `generator` in the pipeline's dtype, then moved to the device:
    /// diffusers' `randn_tensor(shape, generator, dtype)`, equal to `torch.manual_seed(s); torch.randn(shape)` in fp32.
    public func initialNoise(_ shape: [Int], generator: Generator?) -> Tensor {
        Tensor.randn(shape, generator: generator, dtype: dtype, device: device)
    }

    /// Images in [-1, 1] → scaled latents: a posterior sample times `scaling_factor` (diffusers' img2img
    /// `prepare_latents`, which draws the sample from the pipeline's generator).
    public func encodeImages(_ images: Tensor, generator: Generator?) -> Tensor {
        withNoGrad { vae.encodeSample(images.to(dtype, device), generator: generator) * vae.scalingFactor }
    }

    /// Scaled latents → images in [0, 1] (float32, CPU): VAE decode of latents / `scaling_factor`, then diffusers'
    /// postprocessing `(x / 2 + 0.5).clamp(0, 1)`.
    public func decodeLatents(_ latents: Tensor) -> Tensor {
        let decoded = withNoGrad { vae.decodeLatents(latents.to(dtype, device) / vae.scalingFactor) }
        return (decoded.to(.float32, .cpu) / 2 + 0.5).clamp(min: 0, max: 1)
    }

    // MARK: Denoising

    /// The guided noise prediction at `timestep`: with guidance (`embeddings` holding uncond then cond), one UNet
    /// call on `[latents; latents]` and `uncond + scale · (cond − uncond)`; without, a plain UNet call.
    public func guidedNoisePrediction(_ latents: Tensor, timestep: Int, embeddings: Tensor, guidanceScale: Double,
                                      scheduler: any Scheduler) -> Tensor {
        let guided = embeddings.size(0) == 2 * latents.size(0)
        let input = scheduler.scaleModelInput(guided ? Tensor.cat([latents, latents], dim: 0) : latents, timestep: timestep)
        let t = Tensor(ints: [timestep]).to(device)
        let prediction = withNoGrad { unet.predictNoise(input, timestep: t, encoderHiddenStates: embeddings) }
        guard guided else { return prediction }
        let parts = prediction.chunk(2, dim: 0)
        return parts[0] + (parts[1] - parts[0]) * guidanceScale
    }

    /// One guided denoising step: the noise prediction at `timestep` and the scheduler's update to the next latents.
    public func denoisingStep(_ latents: Tensor, timestep: Int, embeddings: Tensor, guidanceScale: Double,
                              scheduler: any Scheduler, generator: Generator? = nil) -> Tensor {
        let noise = guidedNoisePrediction(latents, timestep: timestep, embeddings: embeddings,
                                          guidanceScale: guidanceScale, scheduler: scheduler)
        return withNoGrad { scheduler.step(modelOutput: noise, timestep: timestep, sample: latents, generator: generator) }
            .prevSample
    }

    /// The timesteps img2img runs for `strength` (diffusers' `get_timesteps`): the last
    /// `min(Int(steps · strength), steps)` of the schedule.
    public static func img2imgTimesteps(_ timesteps: [Int], steps: Int, strength: Double) -> [Int] {
        let initTimestep = min(Int(Double(steps) * strength), steps)
        let start = max(steps - initTimestep, 0)
        return Array(timesteps.dropFirst(start))
    }

    // MARK: Generation

    /// Runs the whole pipeline: prompt embeddings, initial latents (seeded noise, given latents, or a noised
    /// init image), the guided denoising loop, and optionally the VAE decode. `scheduler` defaults to
    /// `makeScheduler()`.
    public func callAsFunction(_ request: GenerationRequest, scheduler: (any Scheduler)? = nil, decode: Bool = true,
                               progress: ((StepProgress) -> Void)? = nil) throws -> GenerationResult {
        let scheduler = try scheduler ?? makeScheduler()
        let generator = request.seed.map { Generator(seed: $0) }
        let batch = request.numImagesPerPrompt
        guard batch >= 1 else { throw PipelineError("the number of images must be at least 1, not \(batch)") }
        let guidance = request.guidanceScale > 1
        let embeddings = promptEmbeddings(prompt: request.prompt, negativePrompt: request.negativePrompt,
                                          numImagesPerPrompt: batch, guidance: guidance)
        try scheduler.setTimesteps(request.steps)

        var timesteps = scheduler.timesteps
        var latents: Tensor
        if let image = request.initImage {
            guard request.strength > 0, request.strength <= 1 else {
                throw PipelineError("strength \(request.strength): choose a value in (0, 1] (1 ignores the init image)")
            }
            timesteps = Self.img2imgTimesteps(timesteps, steps: request.steps, strength: request.strength)
            guard let first = timesteps.first else {
                throw PipelineError("strength \(request.strength) × \(request.steps) steps leaves no step to run: "
                    + "raise --strength or --steps")
            }
            latents = try noisedImageLatents(image, batch: batch, timestep: first, scheduler: scheduler, generator: generator)
        } else {
            let (height, width) = try imageSize(request)
            let shape = latentShape(batch: batch, height: height, width: width)
            if let given = request.latents {
                guard given.shape == shape else {
                    throw PipelineError("the given latents are \(given.shape); \(batch) image(s) of \(height)×\(width) "
                        + "pixels need \(shape)")
                }
                latents = given.to(dtype, device)
            } else {
                latents = initialNoise(shape, generator: generator)
            }
            latents = latents * scheduler.initNoiseSigma
        }

        progress?(StepProgress(step: 0, total: timesteps.count, timestep: timesteps.first ?? 0, seconds: 0))
        for (i, t) in timesteps.enumerated() {
            let start = Date()
            latents = denoisingStep(latents, timestep: t, embeddings: embeddings, guidanceScale: request.guidanceScale,
                                    scheduler: scheduler, generator: generator)
            if device.isCUDA { device.synchronize() }
            progress?(StepProgress(step: i + 1, total: timesteps.count, timestep: t,
                                   seconds: Date().timeIntervalSince(start)))
        }
        return GenerationResult(latents: latents, images: decode ? decodeLatents(latents) : nil)
    }

    /// img2img's starting latents (diffusers' `prepare_latents`): the init image encoded with one draw from
    /// `generator`, scaled, repeated to the batch, then noised to `timestep` with a second draw.
    public func noisedImageLatents(_ image: Tensor, batch: Int, timestep: Int, scheduler: any Scheduler,
                                   generator: Generator?) throws -> Tensor {
        guard image.rank == 4, image.size(1) == 3 else {
            throw PipelineError("the init image tensor is \(image.shape); expected batch × 3 × height × width in [-1, 1]")
        }
        let f = vae.downscaleFactor
        guard image.size(2) % f == 0, image.size(3) % f == 0 else {
            throw PipelineError("the init image is \(image.size(3))×\(image.size(2)); both sides must be multiples of \(f)")
        }
        var initLatents = encodeImages(image, generator: generator)
        let encoded = initLatents.size(0)
        guard batch % encoded == 0 else {
            throw PipelineError("cannot repeat \(encoded) init images to a batch of \(batch)")
        }
        if batch > encoded { initLatents = Tensor.cat(Array(repeating: initLatents, count: batch / encoded), dim: 0) }
        let noise = initialNoise(initLatents.shape, generator: generator)
        return scheduler.addNoise(original: initLatents, noise: noise, timesteps: Array(repeating: timestep, count: batch))
    }

    /// The requested image size, else the given latents' size, else the model's default; checked against the
    /// VAE's downscale factor.
    func imageSize(_ request: GenerationRequest) throws -> (height: Int, width: Int) {
        let f = vae.downscaleFactor
        let fromLatents = request.latents.flatMap { $0.rank == 4 ? ($0.size(2) * f, $0.size(3) * f) : nil }
        let height = request.height ?? fromLatents?.0 ?? defaultImageSize
        let width = request.width ?? fromLatents?.1 ?? defaultImageSize
        guard height > 0, width > 0, height % f == 0, width % f == 0 else {
            throw PipelineError("image size \(width)×\(height): both sides must be positive multiples of \(f) "
                + "(the VAE's downscale factor)")
        }
        return (height, width)
    }
}

// MARK: - Latents files

/// `--save-latents` / `--latents` files: safetensors with one tensor, `latents`.
public enum LatentsFile {
    public static let key = "latents"

    /// Writes latents (as float32) atomically.
    public static func write(_ latents: Tensor, to url: URL) throws {
        try Safetensors.save([(key, latents.detach().to(.float32, .cpu).contiguous())], to: url)
    }

    /// Reads the `latents` tensor of a safetensors file.
    public static func read(_ url: URL) throws -> Tensor {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ModelFolderError(url.path, "no such latents file")
        }
        let tensors = try Safetensors.load(url)
        guard let latents = tensors[key] else {
            let found = tensors.keys.sorted().joined(separator: ", ")
            throw ModelFolderError(url.path, "no tensor named \"\(key)\" (found: \(found.isEmpty ? "none" : found)); "
                + "write one with prism generate --save-latents")
        }
        guard latents.rank == 4 else {
            throw ModelFolderError(url.path, "\"\(key)\" is \(latents.shape); expected batch × channels × height × width")
        }
        return latents
    }
}
