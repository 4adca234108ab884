import DiffusersConfig
import Torch

/// diffusers' `DDIMScheduler`: denoising diffusion implicit models (Song et al. 2021), deterministic for η = 0
/// and DDPM-like for η = 1.
public final class DDIMScheduler: NoiseScheduleBacked {
    /// The config fields DDIM reads, with diffusers' defaults: the common ones, the x̂₀ clamp and
    /// `set_alpha_to_one`.
    public struct Configuration: CommonConfigurationFields, SampleClippingFields, Sendable {
        public var common = CommonSchedulerConfiguration()
        public var clipping = SampleClipping()
        public var setAlphaToOne = true

        public init() {}

        public init(_ c: SchedulerConfig) throws {
            try c.requireNoThresholding()
            common = try CommonSchedulerConfiguration(c)
            clipping = SampleClipping(c)
            setAlphaToOne = c.setAlphaToOne ?? setAlphaToOne
        }
    }

    public let configuration: Configuration
    public let schedule: NoiseSchedule
    /// ᾱ used after the last step, where there is no previous timestep: 1, or ᾱ_0 (`set_alpha_to_one`).
    public let finalAlphaCumprod: Double
    public private(set) var timesteps: [Int] = []
    public private(set) var numInferenceSteps: Int?
    public let initNoiseSigma = 1.0
    /// η for the protocol's `step`: the weight of the fresh noise (0: DDIM, 1: DDPM-like).
    public var eta = 0.0

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        schedule = configuration.common.noiseSchedule
        finalAlphaCumprod = configuration.setAlphaToOne ? 1 : schedule.alphasCumprod[0]
    }

    public convenience init(config: SchedulerConfig) throws {
        self.init(configuration: try Configuration(config))
    }

    public func setTimesteps(_ count: Int) throws {
        timesteps = try configuration.common.descendingTimesteps(count)
        numInferenceSteps = count
    }

    /// The timestep DDIM steps to from `timestep`: t − T/n (integer division), whatever the spacing, as diffusers.
    /// Negative after the last step, where ``finalAlphaCumprod`` stands in for ᾱ.
    public func previousTimestep(_ timestep: Int) -> Int {
        precondition(numInferenceSteps != nil, "DDIMScheduler: call setTimesteps before stepping")
        return timestep - configuration.numTrainTimesteps / numInferenceSteps!
    }

    /// ᾱ at `timestep`, or ``finalAlphaCumprod`` for a negative one.
    public func alphaCumprod(at timestep: Int) -> Double {
        timestep >= 0 ? schedule.alphasCumprod[timestep] : finalAlphaCumprod
    }

    public func scaleModelInput(_ sample: Tensor, timestep: Int) -> Tensor { sample }

    public func step(modelOutput: Tensor, timestep: Int, sample: Tensor, generator: Generator?) -> SchedulerStepOutput {
        step(modelOutput: modelOutput, timestep: timestep, sample: sample, eta: eta, generator: generator)
    }

    /// Song et al. 2021, eq. 12:
    /// x_{t−1} = √ᾱ_{t−1} x̂₀ + √(1 − ᾱ_{t−1} − σ_t²) ε̂ + σ_t z, with σ_t = η √((1−ᾱ_{t−1})/(1−ᾱ_t)) √(1 − ᾱ_t/ᾱ_{t−1})
    /// (eq. 16), x̂₀ and ε̂ from the model output per ``PredictionType``, z ~ N(0, I) from `generator` or given as
    /// `varianceNoise`.
    public func step(
        modelOutput: Tensor, timestep: Int, sample: Tensor, eta: Double, useClippedModelOutput: Bool = false,
        generator: Generator? = nil, varianceNoise: Tensor? = nil
    ) -> SchedulerStepOutput {
        let prevTimestep = previousTimestep(timestep)
        let alphaProdT = schedule.alphasCumprod[timestep]
        let alphaProdTPrev = alphaCumprod(at: prevTimestep)
        let betaProdT = 1 - alphaProdT

        var (predOriginal, predEpsilon) = ddimPredictions(
            configuration.predictionType, modelOutput: modelOutput, sample: sample,
            alphaProdT: alphaProdT, betaProdT: betaProdT)
        predOriginal = configuration.clipping.apply(to: predOriginal)

        let variance = (1 - alphaProdTPrev) / betaProdT * (1 - alphaProdT / alphaProdTPrev)
        let stdDevT = eta * variance.squareRoot()
        if useClippedModelOutput {
            predEpsilon = (sample - predOriginal * alphaProdT.squareRoot()) / betaProdT.squareRoot()
        }
        var prevSample = ddimUpdate(predOriginal: predOriginal, epsilon: predEpsilon, alphaNext: alphaProdTPrev, noiseStd: stdDevT)
        if eta > 0 {
            let noise = varianceNoise ?? Tensor.randn(
                modelOutput.shape, generator: generator, dtype: modelOutput.dtype, device: modelOutput.device)
            prevSample = prevSample + noise * stdDevT
        }
        return SchedulerStepOutput(prevSample: prevSample, predOriginalSample: predOriginal)
    }
}

/// x̂₀ and ε̂ from a model output, for ᾱ_t and 1 − ᾱ_t (DDIM and its inverse).
func ddimPredictions(
    _ type: PredictionType, modelOutput: Tensor, sample: Tensor, alphaProdT: Double, betaProdT: Double
) -> (Tensor, Tensor) {
    let a = alphaProdT.squareRoot(), b = betaProdT.squareRoot()
    return (type.originalSample(modelOutput: modelOutput, sample: sample, alpha: a, sigma: b),
            type.epsilon(modelOutput: modelOutput, sample: sample, alpha: a, sigma: b))
}
