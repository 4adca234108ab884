import Torch

/// diffusers' `DDIMInverseScheduler`: the deterministic DDIM update run backwards, from x₀ towards x_T, to find
/// the noise that DDIM sampling maps back to a given image (DDIM inversion; Song et al. 2021, eq. 13; used by
/// null-text inversion, Mokady et al. 2023). Timesteps ascend.
public final class DDIMInverseScheduler: Scheduler {
    /// The config fields the inverse scheduler reads, with diffusers' defaults. `set_alpha_to_one` here chooses
    /// ᾱ *before* the first step: 1, or ᾱ_0.
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
            if timestepSpacing == .linspace {
                throw SchedulerError("\(c.origin): timestep_spacing \"linspace\" is not supported by "
                    + "DDIMInverseScheduler (supported: leading, trailing)")
            }
            rescaleBetasZeroSnr = c.rescaleBetasZeroSnr ?? rescaleBetasZeroSnr
        }
    }

    public let configuration: Configuration
    public let schedule: NoiseSchedule
    /// ᾱ before the first inverse step, where the source timestep is negative.
    public let initialAlphaCumprod: Double
    public private(set) var timesteps: [Int] = []
    public private(set) var numInferenceSteps: Int?
    public let initNoiseSigma = 1.0

    public var alphasCumprod: [Double] { schedule.alphasCumprod }

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        schedule = NoiseSchedule(
            numTrainTimesteps: configuration.numTrainTimesteps, betaStart: configuration.betaStart,
            betaEnd: configuration.betaEnd, betaSchedule: configuration.betaSchedule,
            trainedBetas: configuration.trainedBetas, rescaleBetasZeroSnr: configuration.rescaleBetasZeroSnr)
        initialAlphaCumprod = configuration.setAlphaToOne ? 1 : schedule.alphasCumprod[0]
    }

    public convenience init(config: SchedulerConfig) throws {
        self.init(configuration: try Configuration(config))
    }

    /// The DDIM timesteps in ascending order (`leading`: 0, T/n, … plus `steps_offset`; `trailing`: the
    /// trailing ones reversed).
    public func setTimesteps(_ count: Int) throws {
        try checkStepCount(count, numTrainTimesteps: configuration.numTrainTimesteps)
        numInferenceSteps = count
        let train = configuration.numTrainTimesteps
        switch configuration.timestepSpacing {
        case .leading:
            timesteps = (0..<count).map { $0 * (train / count) + configuration.stepsOffset }
        case .trailing:
            let ratio = Double(train) / Double(count)
            timesteps = NumPy.arange(Double(train), 0, -ratio).reversed().map { Int(NumPy.round($0)) - 1 }
        case .linspace:
            throw SchedulerError("DDIMInverseScheduler: timestep_spacing linspace is not supported (leading, trailing)")
        }
    }

    /// The timestep an inverse step to `timestep` starts from: min(t − T/n, T − 1); negative for the first step,
    /// where ``initialAlphaCumprod`` stands in for ᾱ.
    public func sourceTimestep(_ timestep: Int) -> Int {
        precondition(numInferenceSteps != nil, "DDIMInverseScheduler: call setTimesteps before stepping")
        let train = configuration.numTrainTimesteps
        return min(timestep - train / numInferenceSteps!, train - 1)
    }

    public func scaleModelInput(_ sample: Tensor, timestep: Int) -> Tensor { sample }

    /// The inverse DDIM step to `timestep` from its ``sourceTimestep(_:)`` s:
    /// x_t = √ᾱ_t x̂₀ + √(1 − ᾱ_t) ε̂, with x̂₀ and ε̂ computed from the sample with ᾱ_s. No noise is drawn.
    public func step(modelOutput: Tensor, timestep: Int, sample: Tensor, generator: Generator? = nil) -> SchedulerStepOutput {
        let source = sourceTimestep(timestep)
        let alphaProdT = source >= 0 ? schedule.alphasCumprod[source] : initialAlphaCumprod
        let alphaProdTPrev = schedule.alphasCumprod[timestep]
        var (predOriginal, predEpsilon) = ddimPredictions(
            configuration.predictionType, modelOutput: modelOutput, sample: sample,
            alphaProdT: alphaProdT, betaProdT: 1 - alphaProdT)
        if configuration.clipSample {
            predOriginal = predOriginal.clamp(min: -configuration.clipSampleRange, max: configuration.clipSampleRange)
        }
        predEpsilon = predEpsilon * (1 - alphaProdTPrev).squareRoot()
        let prevSample = predOriginal * alphaProdTPrev.squareRoot() + predEpsilon
        return SchedulerStepOutput(prevSample: prevSample, predOriginalSample: predOriginal)
    }

    /// The forward process (diffusers' inverse scheduler has none; this is DDIM's).
    public func addNoise(original: Tensor, noise: Tensor, timesteps: [Int]) -> Tensor {
        schedule.addNoise(original: original, noise: noise, timesteps: timesteps)
    }
}
