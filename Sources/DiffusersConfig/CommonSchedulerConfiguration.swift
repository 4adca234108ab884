
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
    public init(_ c: SchedulerConfig, defaultSpacing: TimestepSpacing = .leading) throws {
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
        try validate(c)
    }

    /// Values that would make the schedule non-finite or meaningless are refused with the file and the key:
    /// a config with `"beta_end": -Infinity` otherwise draws an all-black image and exits 0.
    private func validate(_ c: SchedulerConfig) throws {
        func require(_ ok: Bool, _ key: SchedulerConfig.CodingKeys, _ value: Any, _ expected: String) throws {
            guard ok else { throw SchedulerError("\(c.origin): \(key.rawValue) \(value) is out of range (expected \(expected))") }
        }
        try require((1...100_000).contains(numTrainTimesteps), .numTrainTimesteps, numTrainTimesteps, "1 to 100000")
        if let trainedBetas {
            try require(trainedBetas.count == numTrainTimesteps, .trainedBetas, "with \(trainedBetas.count) values",
                        "num_train_timesteps = \(numTrainTimesteps) values")
            let bad = trainedBetas.firstIndex { !($0 >= 0 && $0 < 1) }
            try require(bad == nil, .trainedBetas, bad.map { "[\($0)] = \(trainedBetas[$0])" } ?? "", "every β in [0, 1)")
        } else if betaSchedule != .squaredcosCapV2 {
            try require(betaStart > 0 && betaStart < 1, .betaStart, betaStart, "a number in (0, 1)")
            try require(betaEnd > 0 && betaEnd < 1, .betaEnd, betaEnd, "a number in (0, 1)")
        }
        try require(stepsOffset >= 0 && stepsOffset < numTrainTimesteps, .stepsOffset, stepsOffset,
                    "0 to num_train_timesteps − 1")
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

    public init(_ c: SchedulerConfig) {
        clipSample = c.clipSample ?? clipSample
        clipSampleRange = c.clipSampleRange ?? clipSampleRange
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

/// How the training betas β_1…β_T are laid out (diffusers' `beta_schedule`).
public enum BetaSchedule: String, Sendable, CaseIterable {
    /// β_t evenly spaced from `beta_start` to `beta_end` (DDPM, Ho et al. 2020, §4).
    case linear
    /// √β_t evenly spaced from √`beta_start` to √`beta_end`, then squared: Stable Diffusion's schedule.
    case scaledLinear = "scaled_linear"
    /// Betas from the cosine ᾱ(t) = cos²(((t + 0.008) / 1.008) · π/2) of Nichol & Dhariwal 2021 (eq. 17),
    /// β_t = min(1 − ᾱ(t/T) / ᾱ((t−1)/T), 0.999).
    case squaredcosCapV2 = "squaredcos_cap_v2"
}

/// What the model predicts (diffusers' `prediction_type`).
public enum PredictionType: String, Sendable, CaseIterable {
    /// The noise ε: x₀ = (x_t − √(1−ᾱ_t) ε) / √ᾱ_t.
    case epsilon
    /// The clean sample x₀ itself.
    case sample
    /// The velocity v = √ᾱ_t ε − √(1−ᾱ_t) x₀ (Salimans & Ho 2022, §4): x₀ = √ᾱ_t x_t − √(1−ᾱ_t) v.
    case vPrediction = "v_prediction"
}

/// How the inference timesteps are taken from the training ones (Lin et al. 2023, "Common Diffusion Noise
/// Schedules and Sample Steps are Flawed", table 2).
public enum TimestepSpacing: String, Sendable, CaseIterable {
    case linspace, leading, trailing
}
