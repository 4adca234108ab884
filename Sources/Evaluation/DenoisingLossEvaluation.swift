import Core
import Datasets
import Diffusion
import DiffusersConfig
import DiffusionTraining
import Foundation
import Imaging
import Phantom
import Tokenizer
import Torch

/// How well a model denoises phantom X-rays it never saw, with their own captions: the ε-MSE at a fixed grid of
/// timesteps with fixed noise, so that two models (or two checkpoints of one run) are compared on the very same
/// noisy latents. A v- or x₀-prediction model's output is turned into its ε first (the schedulers' own conversion),
/// so that models trained on any target, with or without loss weighting, are scored in the same units.
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
        /// Where the finding words attend (nil when no case's caption names a finding): the share of their
        /// cross-attention inside the structure each names, against the structures' area (what attention spread
        /// evenly would get), and how well the word's attention outlines it. See ``AttentionGrounding``.
        public var grounding: Grounding?
    }

    public struct Grounding: Sendable, Codable {
        /// Cases whose caption names a finding the image has.
        public var cases: Int
        /// Mean share of a finding word's attention inside its structure (cross-attention layers ≥ 8×8, all grid
        /// timesteps, heads averaged).
        public var insideShare: Double
        /// Mean intersection over union of a structure with the cells where its word's attention reaches 0.3 of
        /// its largest value (``AttentionGrounding/maskOverlap(maps:masks:weights:threshold:)``).
        public var maskOverlap: Double
        /// Mean area of those structures, as a share of the latent grid.
        public var area: Double
    }

    /// `steps` timesteps spread evenly over the schedule's 1000 (their midpoints), every one applied to every case.
    public static func timestepGrid(steps: Int, trainTimesteps: Int) -> [Int] {
        (0..<steps).map { (2 * $0 + 1) * trainTimesteps / (2 * steps) }
    }

    /// Cases 0..<count of phantom set `seed` at `resolution`, captioned with `template` as in training; noise
    /// from `noiseSeed` and the case index. `steps` is at least 3 (one timestep a third at least).
    public static func run(model root: URL, template: CaptionTemplate, seed: UInt64, count: Int, resolution: Int? = nil,
                           steps: Int = 10, noiseSeed: UInt64 = 0, progress: (Int, Int) -> Void = { _, _ in }) throws -> Result {
        precondition(steps >= 3, "a timestep for each third of the schedule")
        let folder = try StableDiffusionFolder(root)
        let tokenizer = try CLIPTokenizer(folder: folder.tokenizer)
        let scheduler = try DDPMScheduler(config: try SchedulerConfig.load(from: folder.scheduler))
        let schedule = scheduler.schedule, prediction = scheduler.configuration.common.predictionType
        let textEncoder = try CLIPTextModel.load(from: folder.textEncoder)
        let unet = try UNet2DConditionModel.load(from: folder.unet)
        let vae = try AutoencoderKL.load(from: folder.vae)
        let size = resolution ?? vae.config.sampleSize.first ?? 128
        let grid = timestepGrid(steps: steps, trainTimesteps: schedule.numTrainTimesteps)
        var perTimestep = [Double](repeating: 0, count: grid.count)
        var unconditional = perTimestep
        let emptyIDs = tokenizer.encode("", maxLength: tokenizer.modelMaxLength, padding: true).ids
        let side = size / vae.downscaleFactor
        var grounding = GroundingTally()
        for index in 0..<count {
            let c = PhantomCase(seed: seed, index: index, size: size)
            let caption = template.caption(for: try PhantomEvaluation.record(c, c.attributes))
            let ids = tokenizer.encode(caption, maxLength: tokenizer.modelMaxLength, padding: true).ids
            let rendering = c.render(masks: true)
            let tokenMasks = try groundedTokens(caption: caption, rendering: rendering, tokenizer: tokenizer, side: side)
            let recorder = CrossAttentionRecorder(), processor = unet.attentionProcessor
            let (errors, emptyErrors): ([Double], [Double]) = withNoGrad {
                let x = VaeImageProcessor.preprocess(grayPlanes: [Plane(gray: rendering.image).values], width: size, height: size)
                let latents = vae.scaleLatents(vae.encode(x).mean)
                let batch = Array(repeating: latents, count: grid.count)
                let x0 = Tensor.cat(batch, dim: 0)
                let noise = Tensor.randn(x0.shape, generator: Generator(seed: noiseSeed &+ 0x5EED_0000 &+ UInt64(index)))
                let noisy = schedule.addNoise(original: x0, noise: noise, timesteps: grid)
                func squaredErrors(_ tokens: [Int]) -> [Double] {
                    let context = textEncoder(Tensor(ints: Array(repeating: tokens, count: grid.count).flatMap { $0 },
                                                     shape: [grid.count, tokens.count]))
                    let output = unet(noisy, timestep: Tensor(ints: grid, shape: [grid.count]), encoderHiddenStates: context)
                    let predicted = epsilon(from: output, as: prediction, noisy: noisy, timesteps: grid, schedule: schedule)
                    return (predicted - noise).square().mean(dims: [1, 2, 3]).toArray(Float.self).map(Double.init)
                }
                unet.attentionProcessor = recorder
                let conditional = squaredErrors(ids)
                unet.attentionProcessor = processor
                return (conditional, squaredErrors(emptyIDs))
            }
            if !tokenMasks.isEmpty { grounding.add(recorder.maps, tokenMasks, rows: grid.count, length: ids.count, side: side) }
            for k in grid.indices {
                perTimestep[k] += errors[k] / Double(count)
                unconditional[k] += emptyErrors[k] / Double(count)
            }
            progress(index + 1, count)
        }
        let third = grid.count / 3
        let bands = [0..<third, third..<(grid.count - third), (grid.count - third)..<grid.count].map { r in
            Band(from: grid[r.lowerBound], to: grid[r.upperBound - 1],
                 epsilonMSE: perTimestep[r].reduce(0, +) / Double(r.count))
        }
        return Result(count: count, timesteps: grid, epsilonMSE: perTimestep.reduce(0, +) / Double(grid.count),
                      bands: bands, perTimestep: perTimestep,
                      unconditionalMSE: unconditional.reduce(0, +) / Double(grid.count), unconditionalPerTimestep: unconditional,
                      grounding: grounding.mean)
    }

    /// The finding words of a phantom case's caption with the structures they name, on the latent grid of `side`.
    static func groundedTokens(caption: String, rendering: Rendering, tokenizer: CLIPTokenizer, side: Int) throws -> [TokenMask] {
        let masks = try Dictionary(uniqueKeysWithValues: rendering.masks.keys.map { s in
            (s.rawValue, try GroundingMasks.cells(rendering.maskImage(s), side: side, name: "phantom \(s.rawValue) mask"))
        })
        return GroundingVocabulary.chestXRay.tokenMasks(caption: caption, tokenizer: tokenizer, masks: masks,
                                                        maxLength: tokenizer.modelMaxLength)
    }

    /// The grounding measures summed over the cases whose caption names a finding, and their means.
    struct GroundingTally {
        var cases = 0, share = 0.0, overlap = 0.0, area = 0.0

        /// One case: its attention over `rows` noisy copies, each captioned with the same `tokens`.
        mutating func add(_ maps: [AttentionMap], _ tokens: [TokenMask], rows: Int, length: Int, side: Int) {
            let (masks, weights) = AttentionGrounding.denseMasks(Array(repeating: tokens, count: rows),
                                                                  grounded: Array(repeating: true, count: rows),
                                                                  length: length, side: side)
            cases += 1
            share += AttentionGrounding.insideShare(maps: maps, masks: masks, weights: weights)
            overlap += AttentionGrounding.maskOverlap(maps: maps, masks: masks, weights: weights)
            area += tokens.map { Double($0.mask.reduce(0, +)) / Double(side * side) }.reduce(0, +) / Double(tokens.count)
        }

        var mean: Grounding? {
            guard cases > 0 else { return nil }
            let n = Double(cases)
            return Grounding(cases: cases, insideShare: share / n, maskOverlap: overlap / n, area: area / n)
        }
    }

    /// ε̂ from a model's output of type `prediction`, row k noised at `timesteps[k]`, in float32.
    static func epsilon(from output: Tensor, as prediction: PredictionType, noisy: Tensor, timesteps: [Int],
                        schedule: NoiseSchedule) -> Tensor {
        Tensor.cat(timesteps.enumerated().map { k, t in
            let a = schedule.alphasCumprod[t]
            return prediction.epsilon(modelOutput: output.slice(dim: 0, start: k, end: k + 1).to(.float32),
                                      sample: noisy.slice(dim: 0, start: k, end: k + 1).to(.float32),
                                      alpha: a.squareRoot(), sigma: (1 - a).squareRoot())
        })
    }
}
