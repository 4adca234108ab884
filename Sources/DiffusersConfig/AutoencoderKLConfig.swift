import Core
import Foundation

/// `vae/config.json` of diffusers' `AutoencoderKL`, with diffusers' defaults for absent fields.
public struct AutoencoderKLConfig: Codable, Sendable, Equatable {
    public var inChannels = 3
    public var outChannels = 3
    public var downBlockTypes = ["DownEncoderBlock2D"]
    public var upBlockTypes = ["UpDecoderBlock2D"]
    public var blockOutChannels = [64]
    public var layersPerBlock = 1
    public var actFn = Activation.silu
    public var latentChannels = 4
    public var normNumGroups = 32
    public var sampleSize: [Int] = [32, 32]
    /// Latents are `scalingFactor · (z − shiftFactor)` in the diffusion space.
    public var scalingFactor = 0.18215
    public var shiftFactor: Double?
    public var latentsMean: [Double]?
    public var latentsStd: [Double]?
    public var forceUpcast = true
    public var useQuantConv = true
    public var usePostQuantConv = true
    public var midBlockAddAttention = true
    /// Fields of the file that Prism does not model (`_class_name`, `_diffusers_version`, ...), written back as read.
    public var otherFields: OtherFields = [:]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case inChannels = "in_channels", outChannels = "out_channels", downBlockTypes = "down_block_types"
        case upBlockTypes = "up_block_types", blockOutChannels = "block_out_channels"
        case layersPerBlock = "layers_per_block", actFn = "act_fn", latentChannels = "latent_channels"
        case normNumGroups = "norm_num_groups", sampleSize = "sample_size", scalingFactor = "scaling_factor"
        case shiftFactor = "shift_factor", latentsMean = "latents_mean", latentsStd = "latents_std"
        case forceUpcast = "force_upcast", useQuantConv = "use_quant_conv", usePostQuantConv = "use_post_quant_conv"
        case midBlockAddAttention = "mid_block_add_attention"
    }

    /// The SD 1.x/2.x VAE layout.
    public static var stableDiffusion: AutoencoderKLConfig {
        var c = AutoencoderKLConfig()
        c.downBlockTypes = Array(repeating: "DownEncoderBlock2D", count: 4)
        c.upBlockTypes = Array(repeating: "UpDecoderBlock2D", count: 4)
        c.blockOutChannels = [128, 256, 512, 512]
        c.layersPerBlock = 2
        c.sampleSize = [512, 512]
        return c
    }

    public init() {}

    public init(from decoder: any Swift.Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        otherFields = try decoder.otherFields(besides: CodingKeys.self)
        inChannels = try c.value(.inChannels, default: inChannels)
        outChannels = try c.value(.outChannels, default: outChannels)
        downBlockTypes = try c.value(.downBlockTypes, default: downBlockTypes)
        upBlockTypes = try c.value(.upBlockTypes, default: upBlockTypes)
        blockOutChannels = try c.value(.blockOutChannels, default: blockOutChannels)
        layersPerBlock = try c.value(.layersPerBlock, default: layersPerBlock)
        actFn = try c.activationField(.actFn) ?? actFn
        latentChannels = try c.value(.latentChannels, default: latentChannels)
        normNumGroups = try c.value(.normNumGroups, default: normNumGroups)
        if let size = try? c.decodeIfPresent(Int.self, forKey: .sampleSize) {
            sampleSize = [size, size]
        } else {
            sampleSize = try c.value(.sampleSize, default: sampleSize)
        }
        scalingFactor = try c.value(.scalingFactor, default: scalingFactor)
        shiftFactor = try c.decodeIfPresent(Double.self, forKey: .shiftFactor)
        latentsMean = try c.decodeIfPresent([Double].self, forKey: .latentsMean)
        latentsStd = try c.decodeIfPresent([Double].self, forKey: .latentsStd)
        forceUpcast = try c.value(.forceUpcast, default: forceUpcast)
        useQuantConv = try c.value(.useQuantConv, default: useQuantConv)
        usePostQuantConv = try c.value(.usePostQuantConv, default: usePostQuantConv)
        midBlockAddAttention = try c.value(.midBlockAddAttention, default: midBlockAddAttention)

        for type in downBlockTypes where type != "DownEncoderBlock2D" {
            throw c.unsupportedField(.downBlockTypes, "\(type) is not supported (DownEncoderBlock2D)")
        }
        for type in upBlockTypes where type != "UpDecoderBlock2D" {
            throw c.unsupportedField(.upBlockTypes, "\(type) is not supported (UpDecoderBlock2D)")
        }
        if downBlockTypes.count != blockOutChannels.count || upBlockTypes.count != blockOutChannels.count {
            throw c.unsupportedField(.blockOutChannels, "\(blockOutChannels.count) values for \(downBlockTypes.count) down "
                                + "and \(upBlockTypes.count) up blocks")
        }
        for (key, values) in [(CodingKeys.inChannels, [inChannels]), (.outChannels, [outChannels]),
                              (.blockOutChannels, blockOutChannels), (.layersPerBlock, [layersPerBlock]),
                              (.latentChannels, [latentChannels]), (.normNumGroups, [normNumGroups]), (.sampleSize, sampleSize)] {
            try c.requirePositive(key, values)
        }
        guard scalingFactor.isFinite, scalingFactor != 0 else {
            throw c.unsupportedField(.scalingFactor, "\(scalingFactor) is not a finite, non-zero number")
        }
        for channels in blockOutChannels where channels % normNumGroups != 0 {
            throw c.unsupportedField(.normNumGroups, "\(normNumGroups) groups do not divide \(channels) channels")
        }
    }

    /// The keys diffusers' `save_config` writes.
    public func encode(to encoder: any Encoder) throws {
        try encoder.encodeOtherFields(otherFields, besides: CodingKeys.self)
        var o = encoder.container(keyedBy: AnyCodingKey.self)
        try o.encode(otherFields["_class_name"] ?? .string("AutoencoderKL"), forKey: AnyCodingKey("_class_name"))
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(inChannels, forKey: .inChannels)
        try c.encode(outChannels, forKey: .outChannels)
        try c.encode(downBlockTypes, forKey: .downBlockTypes)
        try c.encode(upBlockTypes, forKey: .upBlockTypes)
        try c.encode(blockOutChannels, forKey: .blockOutChannels)
        try c.encode(layersPerBlock, forKey: .layersPerBlock)
        try c.encode(actFn, forKey: .actFn)
        try c.encode(latentChannels, forKey: .latentChannels)
        try c.encode(normNumGroups, forKey: .normNumGroups)
        try c.encodeSampleSize(sampleSize, forKey: .sampleSize)
        try c.encode(JSONFloat(scalingFactor), forKey: .scalingFactor)
        try c.encode(shiftFactor.map(JSONFloat.init), forKey: .shiftFactor)
        try c.encode(latentsMean?.map(JSONFloat.init), forKey: .latentsMean)
        try c.encode(latentsStd?.map(JSONFloat.init), forKey: .latentsStd)
        try c.encode(forceUpcast, forKey: .forceUpcast)
        try c.encode(useQuantConv, forKey: .useQuantConv)
        try c.encode(usePostQuantConv, forKey: .usePostQuantConv)
        try c.encode(midBlockAddAttention, forKey: .midBlockAddAttention)
    }
}
