import Core
import Foundation

/// A diffusers `scheduler/scheduler_config.json`, any scheduler class, as written: a field the file lacks is
/// `nil` and takes the default of the scheduler that is built from it, exactly as diffusers' `from_config`
/// does. So `DPMSolverMultistepScheduler` built from SD 1.5's PNDM config gets its own `linspace` spacing,
/// while `DDIMScheduler` gets `leading`.
public struct SchedulerConfig: Codable, Equatable, Sendable {
    /// The scheduler class the model was saved with (`_class_name`).
    public var className: String?
    public var numTrainTimesteps: Int?
    public var betaStart: Double?
    public var betaEnd: Double?
    public var betaSchedule: String?
    public var trainedBetas: [Double]?
    public var clipSample: Bool?
    public var clipSampleRange: Double?
    public var setAlphaToOne: Bool?
    public var stepsOffset: Int?
    public var predictionType: String?
    public var thresholding: Bool?
    public var timestepSpacing: String?
    public var rescaleBetasZeroSnr: Bool?
    public var varianceType: String?
    public var solverOrder: Int?
    public var algorithmType: String?
    public var solverType: String?
    public var lowerOrderFinal: Bool?
    public var eulerAtFinal: Bool?
    public var useKarrasSigmas: Bool?
    public var useExponentialSigmas: Bool?
    public var useBetaSigmas: Bool?
    public var useLuLambdas: Bool?
    public var useFlowSigmas: Bool?
    public var finalSigmasType: String?
    public var lambdaMinClipped: Double?
    /// Fields of the file that no Prism scheduler reads (`_diffusers_version`, PNDM's `skip_prk_steps`, ...),
    /// written back as read.
    public var otherFields: OtherFields = [:]
    /// Fields the file gave as `null` (diffusers writes `"trained_betas": null`): written back as null, since
    /// diffusers' `from_config` passes a null on to a class whose own default may differ.
    public var nullFields: Set<String> = []
    /// Where the config was read from, for error messages (not part of the file).
    public var source: String?

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case className = "_class_name"
        case numTrainTimesteps = "num_train_timesteps"
        case betaStart = "beta_start"
        case betaEnd = "beta_end"
        case betaSchedule = "beta_schedule"
        case trainedBetas = "trained_betas"
        case clipSample = "clip_sample"
        case clipSampleRange = "clip_sample_range"
        case setAlphaToOne = "set_alpha_to_one"
        case stepsOffset = "steps_offset"
        case predictionType = "prediction_type"
        case thresholding
        case timestepSpacing = "timestep_spacing"
        case rescaleBetasZeroSnr = "rescale_betas_zero_snr"
        case varianceType = "variance_type"
        case solverOrder = "solver_order"
        case algorithmType = "algorithm_type"
        case solverType = "solver_type"
        case lowerOrderFinal = "lower_order_final"
        case eulerAtFinal = "euler_at_final"
        case useKarrasSigmas = "use_karras_sigmas"
        case useExponentialSigmas = "use_exponential_sigmas"
        case useBetaSigmas = "use_beta_sigmas"
        case useLuLambdas = "use_lu_lambdas"
        case useFlowSigmas = "use_flow_sigmas"
        case finalSigmasType = "final_sigmas_type"
        case lambdaMinClipped = "lambda_min_clipped"
    }

    public init(className: String? = nil) { self.className = className }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        className = try c.decodeIfPresent(String.self, forKey: .className)
        numTrainTimesteps = try c.decodeIfPresent(Int.self, forKey: .numTrainTimesteps)
        betaStart = try c.decodeIfPresent(Double.self, forKey: .betaStart)
        betaEnd = try c.decodeIfPresent(Double.self, forKey: .betaEnd)
        betaSchedule = try c.decodeIfPresent(String.self, forKey: .betaSchedule)
        trainedBetas = try c.decodeIfPresent([Double].self, forKey: .trainedBetas)
        clipSample = try c.decodeIfPresent(Bool.self, forKey: .clipSample)
        clipSampleRange = try c.decodeIfPresent(Double.self, forKey: .clipSampleRange)
        setAlphaToOne = try c.decodeIfPresent(Bool.self, forKey: .setAlphaToOne)
        stepsOffset = try c.decodeIfPresent(Int.self, forKey: .stepsOffset)
        predictionType = try c.decodeIfPresent(String.self, forKey: .predictionType)
        thresholding = try c.decodeIfPresent(Bool.self, forKey: .thresholding)
        timestepSpacing = try c.decodeIfPresent(String.self, forKey: .timestepSpacing)
        rescaleBetasZeroSnr = try c.decodeIfPresent(Bool.self, forKey: .rescaleBetasZeroSnr)
        varianceType = try c.decodeIfPresent(String.self, forKey: .varianceType)
        solverOrder = try c.decodeIfPresent(Int.self, forKey: .solverOrder)
        algorithmType = try c.decodeIfPresent(String.self, forKey: .algorithmType)
        solverType = try c.decodeIfPresent(String.self, forKey: .solverType)
        lowerOrderFinal = try c.decodeIfPresent(Bool.self, forKey: .lowerOrderFinal)
        eulerAtFinal = try c.decodeIfPresent(Bool.self, forKey: .eulerAtFinal)
        useKarrasSigmas = try c.decodeIfPresent(Bool.self, forKey: .useKarrasSigmas)
        useExponentialSigmas = try c.decodeIfPresent(Bool.self, forKey: .useExponentialSigmas)
        useBetaSigmas = try c.decodeIfPresent(Bool.self, forKey: .useBetaSigmas)
        useLuLambdas = try c.decodeIfPresent(Bool.self, forKey: .useLuLambdas)
        useFlowSigmas = try c.decodeIfPresent(Bool.self, forKey: .useFlowSigmas)
        finalSigmasType = try c.decodeIfPresent(String.self, forKey: .finalSigmasType)
        lambdaMinClipped = try c.decodeIfPresent(Double.self, forKey: .lambdaMinClipped)
        otherFields = try decoder.otherFields(besides: CodingKeys.self)
        nullFields = Set(CodingKeys.allCases.filter { c.contains($0) && ((try? c.decodeNil(forKey: $0)) ?? false) }
            .map(\.rawValue))
    }

    /// The fields the file had, as it had them: a field left out keeps taking the default of whichever scheduler
    /// class is built from the config, as it did before.
    public func encode(to encoder: any Encoder) throws {
        try encoder.encodeOtherFields(otherFields, besides: CodingKeys.self)
        var c = encoder.container(keyedBy: CodingKeys.self)
        func put<T: Encodable>(_ value: T?, forKey key: CodingKeys) throws {
            if let value { try c.encode(value, forKey: key) } else if nullFields.contains(key.rawValue) { try c.encodeNil(forKey: key) }
        }
        try put(className, forKey: .className)
        try put(numTrainTimesteps, forKey: .numTrainTimesteps)
        try put(betaStart.map(JSONFloat.init), forKey: .betaStart)
        try put(betaEnd.map(JSONFloat.init), forKey: .betaEnd)
        try put(betaSchedule, forKey: .betaSchedule)
        try put(trainedBetas?.map(JSONFloat.init), forKey: .trainedBetas)
        try put(clipSample, forKey: .clipSample)
        try put(clipSampleRange.map(JSONFloat.init), forKey: .clipSampleRange)
        try put(setAlphaToOne, forKey: .setAlphaToOne)
        try put(stepsOffset, forKey: .stepsOffset)
        try put(predictionType, forKey: .predictionType)
        try put(thresholding, forKey: .thresholding)
        try put(timestepSpacing, forKey: .timestepSpacing)
        try put(rescaleBetasZeroSnr, forKey: .rescaleBetasZeroSnr)
        try put(varianceType, forKey: .varianceType)
        try put(solverOrder, forKey: .solverOrder)
        try put(algorithmType, forKey: .algorithmType)
        try put(solverType, forKey: .solverType)
        try put(lowerOrderFinal, forKey: .lowerOrderFinal)
        try put(eulerAtFinal, forKey: .eulerAtFinal)
        try put(useKarrasSigmas, forKey: .useKarrasSigmas)
        try put(useExponentialSigmas, forKey: .useExponentialSigmas)
        try put(useBetaSigmas, forKey: .useBetaSigmas)
        try put(useLuLambdas, forKey: .useLuLambdas)
        try put(useFlowSigmas, forKey: .useFlowSigmas)
        try put(finalSigmasType, forKey: .finalSigmasType)
        try put(lambdaMinClipped.map(JSONFloat.init), forKey: .lambdaMinClipped)
    }

    /// The file name diffusers gives scheduler configs (other components use `config.json`).
    public static let fileName = "scheduler_config.json"

    /// Reads `folder/scheduler_config.json` (the `scheduler/` folder of a diffusers model).
    public static func load(from folder: URL) throws -> SchedulerConfig {
        var config = try ConfigFile.load(SchedulerConfig.self, in: folder, fileName: fileName)
        config.source = folder.appendingPathComponent(fileName).path
        return config
    }

    /// Decodes a config from JSON text (diffusers' `-Infinity`/`NaN` tokens accepted).
    public static func decode(_ data: Data, source: String? = nil) throws -> SchedulerConfig {
        var config = try ConfigFile.decode(SchedulerConfig.self, from: data, source: source ?? "scheduler config")
        config.source = source
        return config
    }

    // MARK: Resolving fields, for the schedulers' initialisers

    public var origin: String { source ?? "scheduler config" }

    public func choice<T: RawRepresentable & CaseIterable>(
        _ raw: String?, _ key: CodingKeys, default value: T
    ) throws -> T where T.RawValue == String {
        guard let raw else { return value }
        guard let parsed = T(rawValue: raw) else {
            let known = T.allCases.map(\.rawValue).joined(separator: ", ")
            throw SchedulerError("\(origin): \(key.rawValue) \"\(raw)\" is not supported (supported: \(known))")
        }
        return parsed
    }

    public func unsupported(_ key: CodingKeys, _ what: String) -> SchedulerError {
        SchedulerError("\(origin): \(key.rawValue) \(what) is not supported by Prism's schedulers")
    }

    public func requireNoThresholding() throws {
        if thresholding == true { throw unsupported(.thresholding, "true (dynamic thresholding, unsuitable for latents)") }
    }
}

/// The schedulers Prism runs, as a user picks them (`--scheduler ddim|ddpm|dpmpp`).
public enum SchedulerKind: String, Sendable, CaseIterable {
    case ddim
    /// diffusers' `DDIMInverseScheduler`: DDIM run from x₀ towards noise, for inversion.
    case ddimInverse = "ddim-inverse"
    case ddpm
    /// `DPMSolverMultistepScheduler` (DPM-Solver++).
    case dpmpp

    /// diffusers' class name of each kind.
    public var className: String {
        switch self {
        case .ddim: "DDIMScheduler"
        case .ddimInverse: "DDIMInverseScheduler"
        case .ddpm: "DDPMScheduler"
        case .dpmpp: "DPMSolverMultistepScheduler"
        }
    }

    /// The kind a diffusers `_class_name` names, or nil for a class Prism does not implement (say SD 1.5's
    /// `PNDMScheduler`: pick a kind, as diffusers' `from_config` allows).
    public init?(className: String) {
        switch className {
        case "DDIMScheduler": self = .ddim
        case "DDIMInverseScheduler": self = .ddimInverse
        case "DDPMScheduler": self = .ddpm
        case "DPMSolverMultistepScheduler": self = .dpmpp
        default: return nil
        }
    }
}

/// A scheduler config that Prism cannot run, or an inference step count out of range.
public struct SchedulerError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
