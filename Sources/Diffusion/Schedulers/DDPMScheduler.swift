import DiffusersConfig
import Foundation
import Torch

/// diffusers' `DDPMScheduler`: ancestral sampling of denoising diffusion probabilistic models (Ho et al. 2020),
/// over any subset of the training timesteps.
public final class DDPMScheduler: NoiseScheduleBacked {
    /// The variance of the noise added at each step (diffusers' `variance_type`).
    public enum VarianceType: String, Sendable, CaseIterable {
        /// β̃_t = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t, the posterior variance (Ho et al. 2020, eq. 7).
        case fixedSmall = "fixed_small"
        /// β̃_t again, through its logarithm: the noise is scaled by exp(½ log β̃_t).
        case fixedSmallLog = "fixed_small_log"
        /// β_t (Ho et al. 2020, §3.2).
        case fixedLarge = "fixed_large"
        /// The model predicts the variance itself in its extra output channels.
        case learned
        /// The model predicts v ∈ [−1, 1] interpolating log β̃_t and log β_t (Nichol & Dhariwal 2021, eq. 15).
        case learnedRange = "learned_range"
    }

    /// The config fields DDPM reads, with diffusers' defaults: the common ones, the x̂₀ clamp and the variance.
    public struct Configuration: CommonConfigurationFields, SampleClippingFields, Sendable {
        public var common = CommonSchedulerConfiguration()
        public var clipping = SampleClipping()
        public var varianceType = VarianceType.fixedSmall

        public init() {}

        public init(_ c: SchedulerConfig) throws {
            try c.requireNoThresholding()
            common = try CommonSchedulerConfiguration(c)
            clipping = SampleClipping(c)
            varianceType = try c.choice(c.varianceType, .varianceType, default: varianceType)
        }
    }

    public let configuration: Configuration
    public let schedule: NoiseSchedule
    /// Descending; before `setTimesteps`, every training timestep.
    public private(set) var timesteps: [Int]
    public private(set) var numInferenceSteps: Int?
    public let initNoiseSigma = 1.0

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        schedule = configuration.common.noiseSchedule
        timesteps = Array((0..<configuration.numTrainTimesteps).reversed())
    }

    public convenience init(config: SchedulerConfig) throws {
        self.init(configuration: try Configuration(config))
    }

    public func setTimesteps(_ count: Int) throws {
        timesteps = try configuration.common.descendingTimesteps(count)
        numInferenceSteps = count
    }

    /// The timestep after `timestep` in ``timesteps`` (−1 after the last); t − 1 before `setTimesteps`.
    public func previousTimestep(_ timestep: Int) -> Int {
        guard numInferenceSteps != nil else { return timestep - 1 }
        guard let index = timesteps.firstIndex(of: timestep) else {
            preconditionFailure("DDPMScheduler: timestep \(timestep) is not one of the inference timesteps")
        }
        return index == timesteps.count - 1 ? -1 : timesteps[index + 1]
    }

    public func scaleModelInput(_ sample: Tensor, timestep: Int) -> Tensor { sample }

    /// The posterior mean μ̃_t(x_t, x̂₀) = √ᾱ_{t−1} β_t / (1 − ᾱ_t) · x̂₀ + √α_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · x_t
    /// (Ho et al. 2020, eq. 7, with α_t = ᾱ_t / ᾱ_{t−1} between inference timesteps), plus σ_t z for t > 0 with
    /// z ~ N(0, I) drawn from `generator`.
    public func step(modelOutput: Tensor, timestep t: Int, sample: Tensor, generator: Generator?) -> SchedulerStepOutput {
        let prevT = previousTimestep(t)
        var modelOutput = modelOutput
        var predictedVariance: Tensor?
        let channels = sample.size(1)
        if modelOutput.size(1) == channels * 2,
           configuration.varianceType == .learned || configuration.varianceType == .learnedRange {
            let parts = modelOutput.split([channels, channels], dim: 1)
            (modelOutput, predictedVariance) = (parts[0], parts[1])
        }

        let alphaProdT = schedule.alphasCumprod[t]
        let alphaProdTPrev = prevT >= 0 ? schedule.alphasCumprod[prevT] : 1
        let betaProdT = 1 - alphaProdT, betaProdTPrev = 1 - alphaProdTPrev
        let currentAlphaT = alphaProdT / alphaProdTPrev
        let currentBetaT = 1 - currentAlphaT

        let unclipped = configuration.predictionType.originalSample(
            modelOutput: modelOutput, sample: sample, alpha: alphaProdT.squareRoot(), sigma: betaProdT.squareRoot())
        let predOriginal = configuration.clipping.apply(to: unclipped)

        let originalCoeff = alphaProdTPrev.squareRoot() * currentBetaT / betaProdT
        let sampleCoeff = currentAlphaT.squareRoot() * betaProdTPrev / betaProdT
        var prevSample = predOriginal * originalCoeff + sample * sampleCoeff

        if t > 0 {
            let noise = Tensor.randn(modelOutput.shape, generator: generator, dtype: modelOutput.dtype,
                                     device: modelOutput.device)
            // β̃_t, clamped as diffusers does so that its logarithm stays finite.
            let posterior = max((1 - alphaProdTPrev) / betaProdT * currentBetaT, 1e-20)
            switch configuration.varianceType {
            case .fixedSmall: prevSample = prevSample + noise * posterior.squareRoot()
            case .fixedSmallLog: prevSample = prevSample + noise * exp(0.5 * log(posterior))
            case .fixedLarge: prevSample = prevSample + noise * currentBetaT.squareRoot()
            case .learned:
                let variance = requirePredictedVariance(predictedVariance, sample: sample)
                prevSample = prevSample + variance.sqrt() * noise
            case .learnedRange:
                let frac = (requirePredictedVariance(predictedVariance, sample: sample) + 1) / 2
                let logVariance = frac * log(currentBetaT) + (1 - frac) * log(posterior)
                prevSample = prevSample + (logVariance * 0.5).exp() * noise
            }
        }
        return SchedulerStepOutput(prevSample: prevSample, predOriginalSample: predOriginal)
    }

    private func requirePredictedVariance(_ v: Tensor?, sample: Tensor) -> Tensor {
        guard let v else {
            preconditionFailure("DDPMScheduler: variance_type \(configuration.varianceType.rawValue) needs a model "
                + "output with \(2 * sample.size(1)) channels (the prediction and the variance)")
        }
        return v
    }
}
