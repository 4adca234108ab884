import Core
import Foundation

/// `unet/config.json` of diffusers' `UNet2DConditionModel`, with diffusers' defaults for absent fields.
/// Covers the SD 1.x and 2.x layouts; features Prism does not implement (class or addition embeddings as in
/// SDXL, dual or only-cross attention, GLIGEN, ...) are rejected when decoding, naming the field.
public struct UNet2DConditionConfig: Codable, Sendable, Equatable {
    public var sampleSize: [Int]?
    public var inChannels = 4
    public var outChannels = 4
    public var centerInputSample = false
    public var flipSinToCos = true
    public var freqShift = 0.0
    public var downBlockTypes = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"]
    /// nil: no mid block (`"mid_block_type": null`).
    public var midBlockType: String? = "UNetMidBlock2DCrossAttn"
    public var upBlockTypes = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]
    public var blockOutChannels = [320, 640, 1280, 1280]
    /// Per down block (an int in the file applies to every block).
    public var layersPerBlock = [2, 2, 2, 2]
    public var downsamplePadding = 1
    public var midBlockScaleFactor = 1.0
    public var dropout = 0.0
    public var actFn = Activation.silu
    public var normNumGroups = 32
    public var normEps = 1e-5
    /// Per down block.
    public var crossAttentionDim = [1280, 1280, 1280, 1280]
    /// Per down block.
    public var transformerLayersPerBlock = [1, 1, 1, 1]
    /// Per down block, as written in the file. Despite its name diffusers uses it as the number of heads
    /// (the head dimension is channels / heads): see ``headsPerBlock``.
    public var attentionHeadDim = [8, 8, 8, 8]
    public var useLinearProjection = false
    public var upcastAttention = false
    public var timeEmbeddingDim: Int?
    public var timeEmbeddingActFn: Activation?
    public var timestepPostAct: Activation?
    public var convInKernel = 3
    public var convOutKernel = 3
    /// Fields of the file that Prism does not model (`_class_name`, `_diffusers_version`, ...), written back as read.
    public var otherFields: OtherFields = [:]

    /// Heads of each down block's transformers. diffusers' quirk: `num_attention_heads` is unsupported and
    /// `attention_head_dim` is read as the number of heads (a naming slip kept for the many configs using it).
    public var headsPerBlock: [Int] { attentionHeadDim }
    /// Width of the timestep embedding.
    public var timeEmbedDim: Int { timeEmbeddingDim ?? blockOutChannels[0] * 4 }

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

    /// The SD 1.5 layout (diffusers' defaults).
    public init() {}

    public init(from decoder: any Swift.Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        otherFields = try decoder.otherFields(besides: CodingKeys.self)
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

        // Features outside SD 1.x / 2.x: refuse rather than silently compute something else.
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
        for (key, values) in [(CodingKeys.inChannels, [inChannels]), (.outChannels, [outChannels]),
                              (.blockOutChannels, blockOutChannels), (.layersPerBlock, layersPerBlock),
                              (.normNumGroups, [normNumGroups]), (.crossAttentionDim, crossAttentionDim),
                              (.transformerLayersPerBlock, transformerLayersPerBlock),
                              (.convInKernel, [convInKernel]), (.convOutKernel, [convOutKernel])] {
            try c.requirePositive(key, values)
        }
        if let sampleSize { try c.requirePositive(.sampleSize, sampleSize) }
        try c.requirePositiveFinite(.normEps, normEps)
        // Head width is channels / heads rounded down, as in diffusers.
        for (i, heads) in attentionHeadDim.enumerated() where heads <= 0 || heads > blockOutChannels[i] {
            throw c.unsupportedField(.attentionHeadDim, "\(heads) heads for \(blockOutChannels[i]) channels")
        }
        for channels in blockOutChannels where channels % normNumGroups != 0 {
            throw c.unsupportedField(.normNumGroups, "\(normNumGroups) groups do not divide \(channels) channels")
        }
    }

    /// The keys diffusers' `save_config` writes: every field, the features Prism refuses at the defaults it
    /// requires, block values as one int where all blocks agree.
    public func encode(to encoder: any Encoder) throws {
        try encoder.encodeOtherFields(otherFields, besides: CodingKeys.self)
        var o = encoder.container(keyedBy: AnyCodingKey.self)
        try o.encode(otherFields["_class_name"] ?? .string("UNet2DConditionModel"), forKey: AnyCodingKey("_class_name"))
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeSampleSize(sampleSize, forKey: .sampleSize)
        try c.encode(inChannels, forKey: .inChannels)
        try c.encode(outChannels, forKey: .outChannels)
        try c.encode(centerInputSample, forKey: .centerInputSample)
        try c.encode(flipSinToCos, forKey: .flipSinToCos)
        try c.encode(JSONFloat(freqShift), forKey: .freqShift)
        try c.encode(downBlockTypes, forKey: .downBlockTypes)
        try c.encode(midBlockType, forKey: .midBlockType)
        try c.encode(upBlockTypes, forKey: .upBlockTypes)
        try c.encode(blockOutChannels, forKey: .blockOutChannels)
        try c.encodeBlockValues(layersPerBlock, forKey: .layersPerBlock)
        try c.encode(downsamplePadding, forKey: .downsamplePadding)
        try c.encode(JSONFloat(midBlockScaleFactor), forKey: .midBlockScaleFactor)
        try c.encode(JSONFloat(dropout), forKey: .dropout)
        try c.encode(actFn, forKey: .actFn)
        try c.encode(normNumGroups, forKey: .normNumGroups)
        try c.encode(JSONFloat(normEps), forKey: .normEps)
        try c.encodeBlockValues(crossAttentionDim, forKey: .crossAttentionDim)
        try c.encodeBlockValues(transformerLayersPerBlock, forKey: .transformerLayersPerBlock)
        try c.encodeBlockValues(attentionHeadDim, forKey: .attentionHeadDim)
        try c.encode(useLinearProjection, forKey: .useLinearProjection)
        try c.encode(upcastAttention, forKey: .upcastAttention)
        try c.encode(timeEmbeddingDim, forKey: .timeEmbeddingDim)
        try c.encode(timeEmbeddingActFn, forKey: .timeEmbeddingActFn)
        try c.encode(timestepPostAct, forKey: .timestepPostAct)
        try c.encode(convInKernel, forKey: .convInKernel)
        try c.encode(convOutKernel, forKey: .convOutKernel)
        // The features decoding refuses, at the only values it accepts.
        for key in [CodingKeys.onlyCrossAttention, .dualCrossAttention] { try c.encode(false, forKey: key) }
        for key in [CodingKeys.midBlockOnlyCrossAttention, .numAttentionHeads, .classEmbedType, .additionEmbedType,
                    .encoderHidDimType, .numClassEmbeds, .encoderHidDim, .timeCondProjDim,
                    .reverseTransformerLayersPerBlock] {
            try c.encodeNil(forKey: key)
        }
        try c.encode("default", forKey: .resnetTimeScaleShift)
        try c.encode("positional", forKey: .timeEmbeddingType)
        try c.encode("default", forKey: .attentionType)
    }

    /// diffusers strips a `UNetRes` prefix from block type names.
    public static func blockName(_ type: String) -> String { type.hasPrefix("UNetRes") ? String(type.dropFirst(7)) : type }
}
