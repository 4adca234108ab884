import Core
import Datasets
import Diffusion
import DiffusersConfig
import Foundation
import Imaging
import Phantom
import Tokenizer
import Torch

/// How well a model denoises phantom X-rays it never saw, with their own captions: the ε-MSE at a fixed grid of
/// timesteps with fixed noise, so that two models (or two checkpoints of one run) are compared on the very same
/// noisy latents. A v-prediction model's output is turned into its ε first (ε̂ = √ᾱ v̂ + √(1−ᾱ) x_t), so that
/// models trained on either target, with or without loss weighting, are scored in the same units.
public enum DenoisingLossEvaluation {
    public struct Band: Sendable, Codable {
        public var from: Int
        public var to: Int
        public var epsilonMSE: Double
    }

    public struct Result: Sendable, Codable {
        public var count: Int
        public var timesteps: [Int]
        public var epsilonMSE: Double
        /// The same mean over the low, middle and high thirds of the timestep grid.
        public var bands: [Band]
        /// Mean ε-MSE at each timestep of the grid.
        public var perTimestep: [Double]
        /// The same with the empty caption: how much worse the model denoises without being told what the image
        /// shows (`captionGain`) says how much it uses its captions, what editing by caption relies on.
        public var unconditionalMSE: Double
        public var unconditionalPerTimestep: [Double]
        public var captionGain: Double { unconditionalMSE - epsilonMSE }
    }

    /// `steps` timesteps spread evenly over the schedule's 1000 (their midpoints), every one applied to every case.
    public static func timestepGrid(steps: Int, trainTimesteps: Int) -> [Int] {
        (0..<steps).map { (2 * $0 + 1) * trainTimesteps / (2 * steps) }
    }

    /// Cases 0..<count of phantom set `seed` at `resolution`, captioned with `template` as in training; noise
    /// from `noiseSeed` and the case index.
    public static func run(model root: URL, template: CaptionTemplate, seed: UInt64, count: Int, resolution: Int? = nil,
                           steps: Int = 10, noiseSeed: UInt64 = 0, progress: (Int, Int) -> Void = { _, _ in }) throws -> Result {
        let folder = try StableDiffusionFolder(root)
        let tokenizer = try CLIPTokenizer(folder: folder.tokenizer)
        let schedulerConfig = try SchedulerConfig.load(from: folder.scheduler)
        let schedule = try DDPMScheduler(config: schedulerConfig).schedule
        let vPrediction = schedulerConfig.predictionType == "v_prediction"
        let textEncoder = try CLIPTextModel.load(from: folder.textEncoder)
        let unet = try UNet2DConditionModel.load(from: folder.unet)
        let vae = try AutoencoderKL.load(from: folder.vae)
        let size = resolution ?? vae.config.sampleSize.first ?? 128
        let grid = timestepGrid(steps: steps, trainTimesteps: schedule.numTrainTimesteps)
        var perTimestep = [Double](repeating: 0, count: grid.count)
        var unconditional = perTimestep
        let emptyIDs = tokenizer.encode("", maxLength: tokenizer.modelMaxLength, padding: true).ids
        for index in 0..<count {
            let c = PhantomCase(seed: seed, index: index, size: size)
            let caption = template.caption(for: try PhantomEvaluation.record(c, c.attributes))
            let ids = tokenizer.encode(caption, maxLength: tokenizer.modelMaxLength, padding: true).ids
            let (errors, emptyErrors): ([Double], [Double]) = withNoGrad {
                let x = VaeImageProcessor.preprocess(grayPlanes: [Plane(gray: c.render().image).values], width: size, height: size)
                let latents = vae.scaleLatents(vae.encode(x).mean)
                let batch = Array(repeating: latents, count: grid.count)
                let x0 = Tensor.cat(batch, dim: 0)
                let noise = Tensor.randn(x0.shape, generator: Generator(seed: noiseSeed &+ 0x5EED_0000 &+ UInt64(index)))
                let noisy = schedule.addNoise(original: x0, noise: noise, timesteps: grid)
                func squaredErrors(_ tokens: [Int]) -> [Double] {
                    let context = textEncoder(Tensor(ints: Array(repeating: tokens, count: grid.count).flatMap { $0 },
                                                     shape: [grid.count, tokens.count]))
                    var predicted = unet(noisy, timestep: Tensor(ints: grid, shape: [grid.count]), encoderHiddenStates: context)
                    if vPrediction { predicted = epsilon(fromVelocity: predicted, noisy: noisy, timesteps: grid, schedule: schedule) }
                    return (predicted.to(.float32) - noise).square().mean(dims: [1, 2, 3]).toArray(Float.self).map(Double.init)
                }
                return (squaredErrors(ids), squaredErrors(emptyIDs))
            }
            for k in grid.indices {
                perTimestep[k] += errors[k] / Double(count)
                unconditional[k] += emptyErrors[k] / Double(count)
            }
            progress(index + 1, count)
        }
        let third = max(grid.count / 3, 1)
        let ranges = [0..<third, third..<max(grid.count - third, third), max(grid.count - third, third)..<grid.count]
            .filter { !$0.isEmpty }
        let bands = ranges.map { r in
            Band(from: grid[r.lowerBound], to: grid[r.upperBound - 1],
                 epsilonMSE: perTimestep[r].reduce(0, +) / Double(r.count))
        }
        return Result(count: count, timesteps: grid, epsilonMSE: perTimestep.reduce(0, +) / Double(grid.count),
                      bands: bands, perTimestep: perTimestep,
                      unconditionalMSE: unconditional.reduce(0, +) / Double(grid.count), unconditionalPerTimestep: unconditional)
    }

    /// ε from a v-prediction: x_t = √ᾱ x₀ + √(1−ᾱ) ε and v = √ᾱ ε − √(1−ᾱ) x₀ give ε = √ᾱ v + √(1−ᾱ) x_t.
    static func epsilon(fromVelocity v: Tensor, noisy: Tensor, timesteps: [Int], schedule: NoiseSchedule) -> Tensor {
        let shape = [timesteps.count, 1, 1, 1]
        let a = Tensor(timesteps.map { Float(schedule.alphasCumprod[$0].squareRoot()) }, shape: shape)
        let s = Tensor(timesteps.map { Float((1 - schedule.alphasCumprod[$0]).squareRoot()) }, shape: shape)
        return a * v.to(.float32) + s * noisy.to(.float32)
    }
}
