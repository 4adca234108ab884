import Core
import Foundation

/// A diffusers `scheduler/scheduler_config.json`, any scheduler class, as written: a field the file lacks is
/// `nil` and takes the default of the scheduler that is built from it, exactly as diffusers' `from_config`
/// does. So `DPMSolverMultistepScheduler` built from SD 1.5's PNDM config gets its own `linspace` spacing,
/// while `DDIMScheduler` gets `leading`.
public struct SchedulerConfig: Decodable, Equatable, Sendable {
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
    /// Where the config was read from, for error messages (not part of the file).
    public var source: String?

    enum CodingKeys: String, CodingKey {
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

    /// The file name diffusers gives scheduler configs (other components use `config.json`).
    public static let fileName = "scheduler_config.json"

    /// Reads `folder/scheduler_config.json` (the `scheduler/` folder of a diffusers model).
    public static func load(from folder: URL) throws -> SchedulerConfig {
        var config = try DiffusersFolder.config(SchedulerConfig.self, in: folder, fileName: fileName)
        config.source = folder.appendingPathComponent(fileName).path
        return config
    }

    /// Decodes a config from JSON text (diffusers' `-Infinity`/`NaN` tokens accepted).
    public static func decode(_ data: Data, source: String? = nil) throws -> SchedulerConfig {
        var config = try DiffusersFolder.decodeConfig(SchedulerConfig.self, from: data, source: source ?? "scheduler config")
        config.source = source
        return config
    }

    // MARK: Resolving fields, for the schedulers' initialisers

    var origin: String { source ?? "scheduler config" }

    func choice<T: RawRepresentable & CaseIterable>(
        _ raw: String?, _ key: CodingKeys, default value: T
    ) throws -> T where T.RawValue == String {
        guard let raw else { return value }
        guard let parsed = T(rawValue: raw) else {
            let known = T.allCases.map(\.rawValue).joined(separator: ", ")
            throw SchedulerError("\(origin): \(key.rawValue) \"\(raw)\" is not supported (supported: \(known))")
        }
        return parsed
    }

    func unsupported(_ key: CodingKeys, _ what: String) -> SchedulerError {
        SchedulerError("\(origin): \(key.rawValue) \(what) is not supported by Prism's schedulers")
    }

    func requireNoThresholding() throws {
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

/// Builds a scheduler of the given kind from any Stable Diffusion scheduler config, as diffusers'
/// `SchedulerClass.from_config(config)`: fields the config has are used, the others take that class's defaults.
public func makeScheduler(config: SchedulerConfig, kind: SchedulerKind) throws -> any Scheduler {
    switch kind {
    case .ddim: return try DDIMScheduler(config: config)
    case .ddimInverse: return try DDIMInverseScheduler(config: config)
    case .ddpm: return try DDPMScheduler(config: config)
    case .dpmpp: return try DPMSolverMultistepScheduler(config: config)
    }
}

extension DiffusersFolder {
    /// Decodes `folder/fileName`, for components whose config is not `config.json` (schedulers write
    /// `scheduler_config.json`, tokenizers `tokenizer_config.json`).
    public static func config<T: Decodable>(_ type: T.Type, in folder: URL, fileName: String) throws -> T {
        let url = folder.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ModelFolderError(url.path, "missing")
        }
        return try decodeConfig(T.self, at: url)
    }

    /// Decodes config text through the project's one JSON reader; `source` names it in errors.
    static func decodeConfig<T: Decodable>(_ type: T.Type, from data: Data, source: String = "config") throws -> T {
        do {
            return try JSONFile.decode(T.self, from: data, source: source)
        } catch let error as JSONFileError {
            throw ModelFolderError(error)
        }
    }
}
