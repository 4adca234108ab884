import Torch

/// The config fields that every scheduler here reads the same way, with the defaults diffusers gives them in
/// all four classes (but for the timestep spacing, which DPM-Solver++ defaults to `linspace`).
///
/// Each scheduler's `Configuration` holds one and shows its fields as its own (`configuration.betaStart`), see
/// ``CommonConfigurationFields``.
public struct CommonSchedulerConfiguration: Sendable {
    public var numTrainTimesteps = 1000
    public var betaStart = 0.0001
    public var betaEnd = 0.02
    public var betaSchedule = BetaSchedule.linear
    public var trainedBetas: [Double]? = nil
    public var rescaleBetasZeroSnr = false
    public var predictionType = PredictionType.epsilon
    public var timestepSpacing: TimestepSpacing
    public var stepsOffset = 0

    public init(timestepSpacing: TimestepSpacing = .leading) {
        self.timestepSpacing = timestepSpacing
    }

    /// The fields as `c` has them, the defaults where it has none; throws for a name Prism does not know.
    init(_ c: SchedulerConfig, defaultSpacing: TimestepSpacing = .leading) throws {
        self.init(timestepSpacing: defaultSpacing)
        numTrainTimesteps = c.numTrainTimesteps ?? numTrainTimesteps
        betaStart = c.betaStart ?? betaStart
        betaEnd = c.betaEnd ?? betaEnd
        betaSchedule = try c.choice(c.betaSchedule, .betaSchedule, default: betaSchedule)
        trainedBetas = c.trainedBetas
        rescaleBetasZeroSnr = c.rescaleBetasZeroSnr ?? rescaleBetasZeroSnr
        predictionType = try c.choice(c.predictionType, .predictionType, default: predictionType)
        timestepSpacing = try c.choice(c.timestepSpacing, .timestepSpacing, default: timestepSpacing)
        stepsOffset = c.stepsOffset ?? stepsOffset
    }

    /// The training betas and ᾱ these fields describe.
    var noiseSchedule: NoiseSchedule {
        NoiseSchedule(numTrainTimesteps: numTrainTimesteps, betaStart: betaStart, betaEnd: betaEnd,
                      betaSchedule: betaSchedule, trainedBetas: trainedBetas, rescaleBetasZeroSnr: rescaleBetasZeroSnr)
    }
}

/// A scheduler `Configuration` built around the common fields, which it shows as its own members, so that
/// `configuration.betaStart` reads and writes `configuration.common.betaStart`.
@dynamicMemberLookup
public protocol CommonConfigurationFields {
    var common: CommonSchedulerConfiguration { get set }
}

extension CommonConfigurationFields {
    public subscript<T>(dynamicMember keyPath: WritableKeyPath<CommonSchedulerConfiguration, T>) -> T {
        get { common[keyPath: keyPath] }
        set { common[keyPath: keyPath] = newValue }
    }
}

/// diffusers' `clip_sample` and `clip_sample_range`: the x̂₀ clamp of DDIM, its inverse and DDPM (DPM-Solver++
/// has none), with their defaults.
public struct SampleClipping: Sendable {
    public var clipSample = true
    public var clipSampleRange = 1.0

    public init() {}

    init(_ c: SchedulerConfig) {
        clipSample = c.clipSample ?? clipSample
        clipSampleRange = c.clipSampleRange ?? clipSampleRange
    }

    /// x̂₀ clamped to ±`clipSampleRange` when `clipSample` is on, as it is.
    func apply(to predOriginal: Tensor) -> Tensor {
        clipSample ? predOriginal.clamp(min: -clipSampleRange, max: clipSampleRange) : predOriginal
    }
}

/// A scheduler `Configuration` with ``SampleClipping``, whose fields it shows as its own
/// (`configuration.clipSample`).
@dynamicMemberLookup
public protocol SampleClippingFields {
    var clipping: SampleClipping { get set }
}

extension SampleClippingFields {
    public subscript<T>(dynamicMember keyPath: WritableKeyPath<SampleClipping, T>) -> T {
        get { clipping[keyPath: keyPath] }
        set { clipping[keyPath: keyPath] = newValue }
    }
}
