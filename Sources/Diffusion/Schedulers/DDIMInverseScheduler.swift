import DiffusersConfig
import Torch

/// diffusers' `DDIMInverseScheduler`: the deterministic DDIM update run backwards, from x₀ towards x_T, to find
/// the noise that DDIM sampling maps back to a given image (DDIM inversion; Song et al. 2021, eq. 13; used by
/// null-text inversion, Mokady et al. 2023). Timesteps ascend. diffusers' inverse scheduler has no forward
/// process; `addNoise` here is DDIM's.
public final class DDIMInverseScheduler: NoiseScheduleBacked {
    /// The config fields the inverse scheduler reads, with diffusers' defaults: DDIM's. `set_alpha_to_one` here
    /// chooses ᾱ *before* the first step: 1, or ᾱ_0.
    public struct Configuration: CommonConfigurationFields, SampleClippingFields, Sendable {
        public var common = CommonSchedulerConfiguration()
        public var clipping = SampleClipping()
        public var setAlphaToOne = true

        public init() {}

        public init(_ c: SchedulerConfig) throws {
            common = try CommonSchedulerConfiguration(c)
            if common.timestepSpacing == .linspace {
                throw SchedulerError("\(c.origin): timestep_spacing \"linspace\" is not supported by "
                    + "DDIMInverseScheduler (supported: leading, trailing)")
            }
            clipping = SampleClipping(c)
            setAlphaToOne = c.setAlphaToOne ?? setAlphaToOne
        }
    }

    public let configuration: Configuration
    public let schedule: NoiseSchedule
    /// ᾱ before the first inverse step, where the source timestep is negative.
    public let initialAlphaCumprod: Double
    public private(set) var timesteps: [Int] = []
    public private(set) var numInferenceSteps: Int?
    public let initNoiseSigma = 1.0

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        schedule = configuration.common.noiseSchedule
        initialAlphaCumprod = configuration.setAlphaToOne ? 1 : schedule.alphasCumprod[0]
    }

    public convenience init(config: SchedulerConfig) throws {
        self.init(configuration: try Configuration(config))
    }

    /// The DDIM timesteps in ascending order: DDIM's reversed (`leading`: 0, T/n, … plus `steps_offset`).
    public func setTimesteps(_ count: Int) throws {
        let descending = try configuration.common.descendingTimesteps(count)
        numInferenceSteps = count
        guard configuration.timestepSpacing != .linspace else {
            throw SchedulerError("DDIMInverseScheduler: timestep_spacing linspace is not supported (leading, trailing)")
        }
        timesteps = descending.reversed()
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
        let (unclipped, predEpsilon) = ddimPredictions(
            configuration.predictionType, modelOutput: modelOutput, sample: sample,
            alphaProdT: alphaProdT, betaProdT: 1 - alphaProdT)
        let predOriginal = configuration.clipping.apply(to: unclipped)
        let prevSample = ddimUpdate(predOriginal: predOriginal, epsilon: predEpsilon, alphaNext: alphaProdTPrev)
        return SchedulerStepOutput(prevSample: prevSample, predOriginalSample: predOriginal)
    }
}
