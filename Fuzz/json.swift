// libFuzzer target: JSON configs through Core's JSONFile, the one reader of model_index.json, config.json,
// scheduler_config.json, tokenizer configs and run descriptions (Python's NaN/Infinity tokens accepted).
//
// The model config types live in Sources/Diffusion, which needs libtorch, so this target decodes into
// - CaptionTemplate (Sources/Datasets), a real config users write for `prism caption --template`;
// - UNetConfig and SchedulerConfig below: local mirrors of UNet2DConditionConfig's decoder and of SchedulerConfig
//   with CommonSchedulerConfiguration's checks, as they are in Sources/Diffusion (keep them in step);
// - model_index.json's reading, on JSONFile.object, as ModelIndex.decode does it;
// and checks that JSONFile.encode writes back what JSONFile.object read.
// Checked on every input: nothing traps, and every failure of JSONFile is a one-line JSONFileError naming the source.
import Core
import Datasets
import Foundation

private let source = "fuzz.json"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)

    decode(UNetConfig.self, bytes)
    decode(SchedulerConfig.self, bytes)
    if let template = decode(CaptionTemplate.self, bytes) {
        do {
            try template.validate(file: source)
            let record = Record(path: "a.png", patientID: "p", sex: .female, age: 81,
                                labels: ["Cardiomegaly": .positive, "Edema": .negative, "Support Devices": .uncertain])
            _ = template.caption(for: record)
            _ = try LabelEdit.set("Cardiomegaly", "0").apply(to: record, template: template)
        } catch let error as DataFileError {
            check(error.file == source || error.file == "labels", "a template error names \(error.file)")
        } catch {
            fail("CaptionTemplate threw \(type(of: error)): \(error)")
        }
    }

    // Free-form reading (model_index.json) and writing back.
    let object: [String: Any]
    do {
        object = try JSONFile.object(from: bytes, source: source)
    } catch {
        checkError(error)
        return 0
    }
    _ = modelIndexComponents(object)
    let written: Data
    do { written = try JSONFile.encode(object) } catch {
        // Foundation's writer refuses some values it read (see docs/reliability.md); that is an error, not a trap.
        return 0
    }
    do {
        let again = try JSONFile.object(from: written, source: "written")
        check(same(object, again), "JSONFile.encode + object changes the object")
    } catch {
        fail("JSONFile.encode wrote JSON that JSONFile.object refuses: \(error)\n\(String(decoding: written, as: UTF8.self))")
    }
    return 0
}

@discardableResult
private func decode<T: Decodable>(_ type: T.Type, _ bytes: Data) -> T? {
    do {
        return try JSONFile.decode(T.self, from: bytes, source: source)
    } catch {
        checkError(error)
        return nil
    }
}

private func checkError(_ error: any Error) {
    guard let error = error as? JSONFileError else { fail("threw \(type(of: error)), not a JSONFileError: \(error)") }
    check(error.file == source, "the error names \(error.file), not the source")
    check(!error.problem.isEmpty, "an error without a problem")
}

/// Whether two Foundation values read from JSON are the same. Numbers are compared by value, within a rounding
/// error: Foundation reads some literals as NSDecimalNumber and their written form back as a double.
private func same(_ a: Any, _ b: Any) -> Bool {
    switch (a, b) {
    case let (x as [String: Any], y as [String: Any]):
        return x.count == y.count && x.allSatisfy { key, value in y[key].map { same(value, $0) } ?? false }
    case let (x as [Any], y as [Any]):
        return x.count == y.count && zip(x, y).allSatisfy(same)
    case let (x as String, y as String):
        return x == y
    case (is NSNull, is NSNull):
        return true
    case let (x as Bool, y as Bool):
        return x == y
    case let (x as NSNumber, y as NSNumber):
        let (u, v) = (x.doubleValue, y.doubleValue)
        return u == v || (u.isNaN && v.isNaN) || abs(u - v) <= 1e-15 * max(abs(u), abs(v))
    default:
        return false
    }
}

/// ModelIndex.decode's reading of the fields (Sources/Diffusion/ModelIndex.swift).
private func modelIndexComponents(_ fields: [String: Any]) -> [String: (String?, String?)]? {
    guard fields["_class_name"] is String else { return nil }
    var components: [String: (String?, String?)] = [:]
    for (key, value) in fields where !key.hasPrefix("_") {
        guard let pair = value as? [Any], pair.count == 2 else { continue }
        components[key] = (pair[0] as? String, pair[1] as? String)
    }
    return components
}

private func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fail(message()) }
}

private func fail(_ message: String) -> Never {
    fatalError("json fuzz: \(message)")
}

// MARK: - Mirrors of the libtorch-bound config types

/// UNet2DConditionConfig.init(from:) (Sources/Diffusion/UNet2DConditionModel.swift), activations as strings.
struct UNetConfig: Decodable {
    var sampleSize: [Int]?
    var inChannels = 4
    var outChannels = 4
    var centerInputSample = false
    var flipSinToCos = true
    var freqShift = 0.0
    var downBlockTypes = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"]
    var midBlockType: String? = "UNetMidBlock2DCrossAttn"
    var upBlockTypes = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]
    var blockOutChannels = [320, 640, 1280, 1280]
    var layersPerBlock = [2, 2, 2, 2]
    var downsamplePadding = 1
    var midBlockScaleFactor = 1.0
    var dropout = 0.0
    var actFn = "silu"
    var normNumGroups = 32
    var normEps = 1e-5
    var crossAttentionDim = [1280, 1280, 1280, 1280]
    var transformerLayersPerBlock = [1, 1, 1, 1]
    var attentionHeadDim = [8, 8, 8, 8]
    var useLinearProjection = false
    var upcastAttention = false
    var timeEmbeddingDim: Int?
    var timeEmbeddingActFn: String?
    var timestepPostAct: String?
    var convInKernel = 3
    var convOutKernel = 3

    enum CodingKeys: String, CodingKey, CaseIterable {
        case sampleSize = "sample_size", inChannels = "in_channels", outChannels = "out_channels"
        case centerInputSample = "center_input_sample", flipSinToCos = "flip_sin_to_cos", freqShift = "freq_shift"
        case downBlockTypes = "down_block_types", midBlockType = "mid_block_type", upBlockTypes = "up_block_types"
        case onlyCrossAttention = "only_cross_attention", blockOutChannels = "block_out_channels"
        case layersPerBlock = "layers_per_block", downsamplePadding = "downsample_padding"
        case midBlockScaleFactor = "mid_block_scale_factor", dropout, actFn = "act_fn"
        case normNumGroups = "norm_num_groups", normEps = "norm_eps", crossAttentionDim = "cross_attention_dim"
        case transformerLayersPerBlock = "transformer_layers_per_block"
        case reverseTransformerLayersPerBlock = "reverse_transformer_layers_per_block"
        case encoderHidDim = "encoder_hid_dim", encoderHidDimType = "encoder_hid_dim_type"
        case attentionHeadDim = "attention_head_dim", numAttentionHeads = "num_attention_heads"
        case dualCrossAttention = "dual_cross_attention", useLinearProjection = "use_linear_projection"
        case classEmbedType = "class_embed_type", additionEmbedType = "addition_embed_type"
        case numClassEmbeds = "num_class_embeds", upcastAttention = "upcast_attention"
        case resnetTimeScaleShift = "resnet_time_scale_shift", timeEmbeddingType = "time_embedding_type"
        case timeEmbeddingDim = "time_embedding_dim", timeEmbeddingActFn = "time_embedding_act_fn"
        case timestepPostAct = "timestep_post_act", timeCondProjDim = "time_cond_proj_dim"
        case convInKernel = "conv_in_kernel", convOutKernel = "conv_out_kernel", attentionType = "attention_type"
        case midBlockOnlyCrossAttention = "mid_block_only_cross_attention"
    }

    init(from decoder: any Swift.Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let size = try? c.decodeIfPresent(Int.self, forKey: .sampleSize) {
            sampleSize = [size, size]
        } else {
            sampleSize = try c.decodeIfPresent([Int].self, forKey: .sampleSize)
        }
        inChannels = try c.value(.inChannels, default: inChannels)
        outChannels = try c.value(.outChannels, default: outChannels)
        centerInputSample = try c.value(.centerInputSample, default: centerInputSample)
        flipSinToCos = try c.value(.flipSinToCos, default: flipSinToCos)
        freqShift = try c.value(.freqShift, default: freqShift)
        downBlockTypes = try c.value(.downBlockTypes, default: downBlockTypes)
        if c.contains(.midBlockType) {
            midBlockType = try c.decodeNil(forKey: .midBlockType) ? nil : c.decode(String.self, forKey: .midBlockType)
        }
        upBlockTypes = try c.value(.upBlockTypes, default: upBlockTypes)
        blockOutChannels = try c.value(.blockOutChannels, default: blockOutChannels)
        let blocks = downBlockTypes.count
        layersPerBlock = try c.blockValues(.layersPerBlock, blocks: blocks, default: 2)
        downsamplePadding = try c.value(.downsamplePadding, default: downsamplePadding)
        midBlockScaleFactor = try c.value(.midBlockScaleFactor, default: midBlockScaleFactor)
        dropout = try c.value(.dropout, default: dropout)
        actFn = try c.activationField(.actFn) ?? actFn
        if c.contains(.normNumGroups), try c.decodeNil(forKey: .normNumGroups) {
            throw c.unsupportedField(.normNumGroups, "null (no group norms) is not supported")
        }
        normNumGroups = try c.value(.normNumGroups, default: normNumGroups)
        normEps = try c.value(.normEps, default: normEps)
        crossAttentionDim = try c.blockValues(.crossAttentionDim, blocks: blocks, default: 1280)
        if (try? c.decodeIfPresent([[Int]].self, forKey: .transformerLayersPerBlock)) != nil {
            throw c.unsupportedField(.transformerLayersPerBlock, "nested per-layer lists (asymmetric UNets) are not supported")
        }
        transformerLayersPerBlock = try c.blockValues(.transformerLayersPerBlock, blocks: blocks, default: 1)
        attentionHeadDim = try c.blockValues(.attentionHeadDim, blocks: blocks, default: 8)
        useLinearProjection = try c.value(.useLinearProjection, default: useLinearProjection)
        upcastAttention = try c.value(.upcastAttention, default: upcastAttention)
        timeEmbeddingDim = try c.decodeIfPresent(Int.self, forKey: .timeEmbeddingDim)
        timeEmbeddingActFn = try c.activationField(.timeEmbeddingActFn)
        timestepPostAct = try c.activationField(.timestepPostAct)
        convInKernel = try c.value(.convInKernel, default: convInKernel)
        convOutKernel = try c.value(.convOutKernel, default: convOutKernel)

        try c.requireFieldDefaultEverywhere(.onlyCrossAttention, false)
        try c.requireFieldDefault(.midBlockOnlyCrossAttention, false)
        try c.requireFieldDefault(.dualCrossAttention, false)
        try c.requireFieldNull(.numAttentionHeads, "diffusers 0.42 rejects it too; give the number of heads as attention_head_dim")
        for key in [CodingKeys.classEmbedType, .additionEmbedType, .encoderHidDimType] {
            try c.requireFieldNull(key, "class/addition embeddings (SDXL, upscalers, unCLIP) are not supported")
        }
        for key in [CodingKeys.numClassEmbeds, .encoderHidDim, .timeCondProjDim, .reverseTransformerLayersPerBlock] {
            try c.requireFieldNull(key, "not supported")
        }
        try c.requireFieldDefault(.resnetTimeScaleShift, "default")
        try c.requireFieldDefault(.timeEmbeddingType, "positional")
        try c.requireFieldDefault(.attentionType, "default")

        for type in downBlockTypes where !["CrossAttnDownBlock2D", "DownBlock2D"].contains(Self.blockName(type)) {
            throw c.unsupportedField(.downBlockTypes, "\(type) is not supported (CrossAttnDownBlock2D, DownBlock2D)")
        }
        for type in upBlockTypes where !["CrossAttnUpBlock2D", "UpBlock2D"].contains(Self.blockName(type)) {
            throw c.unsupportedField(.upBlockTypes, "\(type) is not supported (CrossAttnUpBlock2D, UpBlock2D)")
        }
        if let mid = midBlockType, mid != "UNetMidBlock2DCrossAttn" {
            throw c.unsupportedField(.midBlockType, "\(mid) is not supported (UNetMidBlock2DCrossAttn or null)")
        }
        if upBlockTypes.count != blocks {
            throw c.unsupportedField(.upBlockTypes, "\(upBlockTypes.count) up blocks for \(blocks) down blocks")
        }
        if blockOutChannels.count != blocks {
            throw c.unsupportedField(.blockOutChannels, "\(blockOutChannels.count) values for \(blocks) down blocks")
        }
        for (i, heads) in attentionHeadDim.enumerated() where heads <= 0 || heads > blockOutChannels[i] {
            throw c.unsupportedField(.attentionHeadDim, "\(heads) heads for \(blockOutChannels[i]) channels")
        }
        // FINDING (docs/reliability.md): the real decoder (and AutoencoderKLConfig's) has no such check and traps
        // dividing by `"norm_num_groups": 0`; it is added here so that fuzzing goes on past it.
        guard normNumGroups > 0 else {
            throw c.unsupportedField(.normNumGroups, "\(normNumGroups) groups (expected a positive number)")
        }
        for channels in blockOutChannels where channels % normNumGroups != 0 {
            throw c.unsupportedField(.normNumGroups, "\(normNumGroups) groups do not divide \(channels) channels")
        }
    }

    static func blockName(_ type: String) -> String { type.hasPrefix("UNetRes") ? String(type.dropFirst(7)) : type }
}

extension KeyedDecodingContainer {
    func value<T: Decodable>(_ key: Key, default value: T) throws -> T {
        try decodeIfPresent(T.self, forKey: key) ?? value
    }

    func blockValues(_ key: Key, blocks: Int, default value: Int) throws -> [Int] {
        if let one = try? decodeIfPresent(Int.self, forKey: key) { return Array(repeating: one, count: blocks) }
        guard let list = try decodeIfPresent([Int].self, forKey: key) else { return Array(repeating: value, count: blocks) }
        guard list.count == blocks else { throw unsupportedField(key, "\(list.count) values for \(blocks) blocks") }
        return list
    }

    func activationField(_ key: Key) throws -> String? {
        guard let name = try decodeIfPresent(String.self, forKey: key) else { return nil }
        guard ["silu", "swish", "mish", "gelu", "relu"].contains(name.lowercased()) else {
            throw unsupportedField(key, "unknown activation \"\(name)\" (silu, swish, mish, gelu, relu)")
        }
        return name.lowercased()
    }

    func unsupportedField(_ key: Key, _ message: String) -> DecodingError {
        DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: message)
    }

    func requireFieldDefault<T: Decodable & Equatable>(_ key: Key, _ expected: T) throws {
        guard contains(key), try !decodeNil(forKey: key) else { return }
        let value = try? decode(T.self, forKey: key)
        if value != expected { throw unsupportedField(key, "only \(expected) is supported") }
    }

    func requireFieldDefaultEverywhere<T: Decodable & Equatable>(_ key: Key, _ expected: T) throws {
        guard contains(key), try !decodeNil(forKey: key) else { return }
        if let one = try? decode(T.self, forKey: key), one == expected { return }
        if let all = try? decode([T].self, forKey: key), all.allSatisfy({ $0 == expected }) { return }
        throw unsupportedField(key, "only \(expected) is supported")
    }

    func requireFieldNull(_ key: Key, _ message: String) throws {
        guard contains(key), try !decodeNil(forKey: key) else { return }
        throw unsupportedField(key, "must be null: \(message)")
    }
}

/// SchedulerConfig (Sources/Diffusion/Schedulers/SchedulerConfig.swift) with the range checks of
/// CommonSchedulerConfiguration.validate, run as part of decoding here (Prism runs them when it builds a scheduler).
struct SchedulerConfig: Decodable {
    var className: String?
    var numTrainTimesteps: Int?
    var betaStart: Double?
    var betaEnd: Double?
    var betaSchedule: String?
    var trainedBetas: [Double]?
    var clipSample: Bool?
    var clipSampleRange: Double?
    var setAlphaToOne: Bool?
    var stepsOffset: Int?
    var predictionType: String?
    var thresholding: Bool?
    var timestepSpacing: String?
    var rescaleBetasZeroSnr: Bool?
    var varianceType: String?
    var solverOrder: Int?
    var algorithmType: String?
    var solverType: String?
    var lowerOrderFinal: Bool?
    var eulerAtFinal: Bool?
    var useKarrasSigmas: Bool?
    var useExponentialSigmas: Bool?
    var useBetaSigmas: Bool?
    var useLuLambdas: Bool?
    var useFlowSigmas: Bool?
    var finalSigmasType: String?
    var lambdaMinClipped: Double?

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

    init(from decoder: any Swift.Decoder) throws {
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

        // CommonSchedulerConfiguration.validate.
        func require(_ ok: Bool, _ key: CodingKeys, _ value: Any, _ expected: String) throws {
            guard ok else { throw c.unsupportedField(key, "\(value) is out of range (expected \(expected))") }
        }
        let train = numTrainTimesteps ?? 1000
        try require((1...100_000).contains(train), .numTrainTimesteps, train, "1 to 100000")
        if let trainedBetas {
            try require(trainedBetas.count == train, .trainedBetas, "with \(trainedBetas.count) values",
                        "num_train_timesteps = \(train) values")
            let bad = trainedBetas.firstIndex { !($0 >= 0 && $0 < 1) }
            try require(bad == nil, .trainedBetas, bad.map { "[\($0)] = \(trainedBetas[$0])" } ?? "", "every β in [0, 1)")
        } else if betaSchedule != "squaredcos_cap_v2" {
            let start = betaStart ?? 0.0001, end = betaEnd ?? 0.02
            try require(start > 0 && start < 1, .betaStart, start, "a number in (0, 1)")
            try require(end > 0 && end < 1, .betaEnd, end, "a number in (0, 1)")
        }
        let offset = stepsOffset ?? 0
        try require(offset >= 0 && offset < train, .stepsOffset, offset, "0 to num_train_timesteps − 1")
    }
}
