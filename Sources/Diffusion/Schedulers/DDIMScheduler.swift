import Torch

/// diffusers' `DDIMScheduler`: denoising diffusion implicit models (Song et al. 2021), deterministic for η = 0
/// and DDPM-like for η = 1.
public final class DDIMScheduler: Scheduler {
    /// The config fields DDIM reads, with diffusers' defaults.
    public struct Configuration: Sendable {
        public var numTrainTimesteps = 1000
        public var betaStart = 0.0001
        public var betaEnd = 0.02
        public var betaSchedule = BetaSchedule.linear
        public var trainedBetas: [Double]? = nil
        public var clipSample = true
        public var setAlphaToOne = true
        public var stepsOffset = 0
        public var predictionType = PredictionType.epsilon
        public var clipSampleRange = 1.0
        public var timestepSpacing = TimestepSpacing.leading
        public var rescaleBetasZeroSnr = false

        public init() {}

        public init(_ c: SchedulerConfig) throws {
            try c.requireNoThresholding()
            numTrainTimesteps = c.numTrainTimesteps ?? numTrainTimesteps
            betaStart = c.betaStart ?? betaStart
            betaEnd = c.betaEnd ?? betaEnd
            betaSchedule = try c.choice(c.betaSchedule, .betaSchedule, default: betaSchedule)
            trainedBetas = c.trainedBetas
            clipSample = c.clipSample ?? clipSample
            setAlphaToOne = c.setAlphaToOne ?? setAlphaToOne
            stepsOffset = c.stepsOffset ?? stepsOffset
            predictionType = try c.choice(c.predictionType, .predictionType, default: predictionType)
            clipSampleRange = c.clipSampleRange ?? clipSampleRange
            timestepSpacing = try c.choice(c.timestepSpacing, .timestepSpacing, default: timestepSpacing)
            rescaleBetasZeroSnr = c.rescaleBetasZeroSnr ?? rescaleBetasZeroSnr
        }

        var noiseSchedule: NoiseSchedule {
            NoiseSchedule(numTrainTimesteps: numTrainTimesteps, betaStart: betaStart, betaEnd: betaEnd,
                          betaSchedule: betaSchedule, trainedBetas: trainedBetas,
                          rescaleBetasZeroSnr: rescaleBetasZeroSnr)
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

    public var alphasCumprod: [Double] { schedule.alphasCumprod }

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        schedule = configuration.noiseSchedule
        finalAlphaCumprod = configuration.setAlphaToOne ? 1 : schedule.alphasCumprod[0]
    }

    public convenience init(config: SchedulerConfig) throws {
        self.init(configuration: try Configuration(config))
    }

    public func setTimesteps(_ count: Int) throws {
        try checkStepCount(count, numTrainTimesteps: configuration.numTrainTimesteps)
        numInferenceSteps = count
        timesteps = descendingTimesteps(count: count, numTrainTimesteps: configuration.numTrainTimesteps,
                                        spacing: configuration.timestepSpacing, stepsOffset: configuration.stepsOffset)
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
        if configuration.clipSample {
            predOriginal = predOriginal.clamp(min: -configuration.clipSampleRange, max: configuration.clipSampleRange)
        }

        let variance = (1 - alphaProdTPrev) / betaProdT * (1 - alphaProdT / alphaProdTPrev)
        let stdDevT = eta * variance.squareRoot()
        if useClippedModelOutput {
            predEpsilon = (sample - predOriginal * alphaProdT.squareRoot()) / betaProdT.squareRoot()
        }
        let direction = predEpsilon * (1 - alphaProdTPrev - stdDevT * stdDevT).squareRoot()
        var prevSample = predOriginal * alphaProdTPrev.squareRoot() + direction
        if eta > 0 {
            let noise = varianceNoise ?? Tensor.randn(
                modelOutput.shape, generator: generator, dtype: modelOutput.dtype, device: modelOutput.device)
            prevSample = prevSample + noise * stdDevT
        }
        return SchedulerStepOutput(prevSample: prevSample, predOriginalSample: predOriginal)
    }

    public func addNoise(original: Tensor, noise: Tensor, timesteps: [Int]) -> Tensor {
        schedule.addNoise(original: original, noise: noise, timesteps: timesteps)
    }

    /// The v-prediction training target at `timesteps` (diffusers' `get_velocity`).
    public func velocity(sample: Tensor, noise: Tensor, timesteps: [Int]) -> Tensor {
        schedule.velocity(sample: sample, noise: noise, timesteps: timesteps)
    }
}

/// x̂₀ and ε̂ from a model output, for ᾱ_t and 1 − ᾱ_t (DDIM and its inverse).
func ddimPredictions(
    _ type: PredictionType, modelOutput: Tensor, sample: Tensor, alphaProdT: Double, betaProdT: Double
) -> (Tensor, Tensor) {
    let a = alphaProdT.squareRoot(), b = betaProdT.squareRoot()
    switch type {
    case .epsilon:
        return ((sample - modelOutput * b) / a, modelOutput)
    case .sample:
        return (modelOutput, (sample - modelOutput * a) / b)
    case .vPrediction:
        return (sample * a - modelOutput * b, modelOutput * a + sample * b)
    }
}
