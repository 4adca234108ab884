import Foundation
import NN
import Torch

/// `unet/config.json` of diffusers' `UNet2DConditionModel`, with diffusers' defaults for absent fields.
/// Covers the SD 1.x and 2.x layouts; features Prism does not implement (class or addition embeddings as in
/// SDXL, dual or only-cross attention, GLIGEN, ...) are rejected when decoding, naming the field.
public struct UNet2DConditionConfig: Decodable, Sendable {
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

    /// diffusers strips a `UNetRes` prefix from block type names.
    static func blockName(_ type: String) -> String { type.hasPrefix("UNetRes") ? String(type.dropFirst(7)) : type }
}

extension KeyedDecodingContainer {
    /// An int applying to every block, or one value per block.
    func blockValues(_ key: Key, blocks: Int, default value: Int) throws -> [Int] {
        if let one = try? decodeIfPresent(Int.self, forKey: key) { return Array(repeating: one, count: blocks) }
        guard let list = try decodeIfPresent([Int].self, forKey: key) else { return Array(repeating: value, count: blocks) }
        guard list.count == blocks else { throw unsupportedField(key, "\(list.count) values for \(blocks) blocks") }
        return list
    }

    func activationField(_ key: Key) throws -> Activation? {
        guard let name = try decodeIfPresent(String.self, forKey: key) else { return nil }
        guard let activation = Activation(configName: name) else {
            throw unsupportedField(key, "unknown activation \"\(name)\" (silu, swish, mish, gelu, relu)")
        }
        return activation
    }

    func unsupportedField(_ key: Key, _ message: String) -> DecodingError {
        DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: message)
    }

    /// Sizes and counts must be positive: a 0 would divide by zero or build an empty layer deep inside the model.
    func requirePositive(_ key: Key, _ values: [Int]) throws {
        guard !values.isEmpty else { throw unsupportedField(key, "empty (expected one or more positive numbers)") }
        if let bad = values.first(where: { $0 <= 0 }) {
            throw unsupportedField(key, "\(bad) is not a positive number")
        }
    }

    /// A small positive number such as a norm's ε.
    func requirePositiveFinite(_ key: Key, _ value: Double) throws {
        guard value.isFinite, value > 0 else { throw unsupportedField(key, "\(value) is not a positive finite number") }
    }

    /// The field must be absent, null or `expected`.
    func requireFieldDefault<T: Decodable & Equatable>(_ key: Key, _ expected: T) throws {
        guard contains(key), try !decodeNil(forKey: key) else { return }
        let value = try? decode(T.self, forKey: key)
        if value != expected { throw unsupportedField(key, "only \(expected) is supported") }
    }

    /// The field must be absent, null, `expected`, or a list of `expected` (one per block).
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

/// The conditional denoising UNet of Stable Diffusion, as diffusers' `UNet2DConditionModel`: parameters
/// under diffusers' names in ``store``, every attention through ``attentionProcessor``.
public final class UNet2DConditionModel: Module {
    public let config: UNet2DConditionConfig
    public let store: ParameterStore
    public let convIn: Conv2d
    public let timeProj: Timesteps
    public let timeEmbedding: TimestepEmbedding
    public let downBlocks: [any UNetDownBlock]
    public let midBlock: UNetMidBlock2DCrossAttn?
    public let upBlocks: [any UNetUpBlock]
    public let convNormOut: GroupNorm
    public let convOut: Conv2d
    let slot: AttentionProcessorSlot

    public var dtype: DType { store.dtype }
    public var device: Device { store.device }

    /// The processor every attention layer of this UNet calls; set it to observe or edit attention.
    public var attentionProcessor: AttentionProcessor {
        get { slot.processor }
        set { slot.processor = newValue }
    }

    /// Builds the UNet under `path` (new parameters are initialised as PyTorch does; load weights after).
    public init(config: UNet2DConditionConfig, path: ParameterPath) {
        self.config = config
        store = path.store
        slot = AttentionProcessorSlot(root: path)
        let boc = config.blockOutChannels
        let blocks = boc.count
        convIn = Conv2d(path / "conv_in", config.inChannels, boc[0], kernelSize: config.convInKernel,
                        padding: (config.convInKernel - 1) / 2)
        timeProj = Timesteps(channels: boc[0], flipSinToCos: config.flipSinToCos, downscaleFreqShift: config.freqShift)
        timeEmbedding = TimestepEmbedding(path / "time_embedding", inChannels: boc[0], timeEmbedDim: config.timeEmbedDim,
                                          activation: config.actFn, postActivation: config.timestepPostAct)

        func settings(_ i: Int) -> UNetBlockSettings {
            UNetBlockSettings(
                tembChannels: config.timeEmbedDim, resnetEps: config.normEps, resnetGroups: config.normNumGroups,
                activation: config.actFn, dropout: config.dropout, crossAttentionDim: config.crossAttentionDim[i],
                heads: config.headsPerBlock[i], transformerLayers: config.transformerLayersPerBlock[i],
                useLinearProjection: config.useLinearProjection, upcastAttention: config.upcastAttention)
        }

        var down: [any UNetDownBlock] = []
        var outputChannels = boc[0]
        for (i, type) in config.downBlockTypes.enumerated() {
            let inputChannels = outputChannels
            outputChannels = boc[i]
            let p = path / "down_blocks" / i
            let last = i == blocks - 1
            if UNet2DConditionConfig.blockName(type) == "CrossAttnDownBlock2D" {
                down.append(CrossAttnDownBlock2D(
                    p, slot: slot, inChannels: inputChannels, outChannels: outputChannels, layers: config.layersPerBlock[i],
                    addDownsample: !last, downsamplePadding: config.downsamplePadding, settings: settings(i)))
            } else {
                down.append(DownBlock2D(
                    p, inChannels: inputChannels, outChannels: outputChannels, layers: config.layersPerBlock[i],
                    addDownsample: !last, downsamplePadding: config.downsamplePadding, settings: settings(i)))
            }
        }
        downBlocks = down

        if config.midBlockType != nil {
            var s = settings(blocks - 1)
            s.outputScaleFactor = config.midBlockScaleFactor
            midBlock = UNetMidBlock2DCrossAttn(path / "mid_block", slot: slot, channels: boc[blocks - 1], settings: s)
        } else {
            midBlock = nil
        }

        var up: [any UNetUpBlock] = []
        let reversed = Array(boc.reversed())
        outputChannels = reversed[0]
        for (i, type) in config.upBlockTypes.enumerated() {
            let prevOutputChannels = outputChannels
            outputChannels = reversed[i]
            let inputChannels = reversed[min(i + 1, blocks - 1)]
            let j = blocks - 1 - i  // the matching down block's settings
            let p = path / "up_blocks" / i
            let layers = config.layersPerBlock[j] + 1
            let last = i == blocks - 1
            if UNet2DConditionConfig.blockName(type) == "CrossAttnUpBlock2D" {
                up.append(CrossAttnUpBlock2D(
                    p, slot: slot, inChannels: inputChannels, prevOutputChannels: prevOutputChannels,
                    outChannels: outputChannels, layers: layers, addUpsample: !last, settings: settings(j)))
            } else {
                up.append(UpBlock2D(
                    p, inChannels: inputChannels, prevOutputChannels: prevOutputChannels, outChannels: outputChannels,
                    layers: layers, addUpsample: !last, settings: settings(j)))
            }
        }
        upBlocks = up

        convNormOut = GroupNorm(path / "conv_norm_out", groups: config.normNumGroups, channels: boc[0], eps: config.normEps)
        convOut = Conv2d(path / "conv_out", boc[0], config.outChannels, kernelSize: config.convOutKernel,
                         padding: (config.convOutKernel - 1) / 2)
    }

    /// A UNet with its own parameter store.
    public convenience init(config: UNet2DConditionConfig, dtype: DType = .float32, device: Device = .cpu) {
        self.init(config: config, path: ParameterStore(dtype: dtype, device: device).root)
    }

    /// Loads a diffusers `unet/` folder (config.json and `diffusion_pytorch_model[.variant].safetensors`)
    /// strictly, converting the weights to `dtype` on `device`. The parameters come back frozen (inference);
    /// `store.unfreeze()` makes them trainable.
    public static func load(
        from folder: URL, dtype: DType = .float32, device: Device = .cpu, variant: String? = nil
    ) throws -> UNet2DConditionModel {
        let config = try DiffusersFolder.config(UNet2DConditionConfig.self, in: folder)
        let store = ParameterStore(dtype: dtype, device: device)
        store.skipsInitialization = true
        let unet = UNet2DConditionModel(config: config, path: store.root)
        try DiffusersFolder.loadWeights(into: unet.store, from: folder, variant: variant)
        unet.store.freeze()
        return unet
    }

    /// The diffusers names of every attention layer, in call order.
    public var attentionLayerNames: [String] {
        var names: [String] = []
        func add(_ transformers: [Transformer2DModel]) {
            for t in transformers {
                for b in t.transformerBlocks { names += [b.attn1.layerName] + (b.attn2.map { [$0.layerName] } ?? []) }
            }
        }
        for block in downBlocks { if let b = block as? CrossAttnDownBlock2D { add(b.attentions) } }
        if let midBlock { add(midBlock.attentions) }
        for block in upBlocks { if let b = block as? CrossAttnUpBlock2D { add(b.attentions) } }
        return names
    }

    /// Sinusoidal features then the MLP: [B, time_embed_dim] in the model's dtype.
    func embedTimestep(_ timestep: Tensor, batch: Int, device: Device) -> Tensor {
        var t = timestep.to(device)
        if t.rank == 0 { t = t.unsqueeze(0) }
        precondition(t.rank == 1 && (t.size(0) == 1 || t.size(0) == batch),
                     "UNet2DConditionModel: timestep must be a scalar or hold one value per batch element, got \(t.shape)")
        t = t.expand([batch])
        let emb = timeEmbedding(timeProj(t).to(store.dtype))
        return config.timeEmbeddingActFn.map { $0(emb) } ?? emb
    }

    /// Predicts the noise (or v) for `sample` [B, in_channels, H, W] at `timestep` (a scalar, or one per batch
    /// element) given `encoderHiddenStates` [B, tokens, cross_attention_dim]. Inputs are converted to the
    /// model's dtype; the result is [B, out_channels, H, W] in that dtype.
    public func callAsFunction(_ sample: Tensor, timestep: Tensor, encoderHiddenStates: Tensor) -> Tensor {
        var x = sample.to(store.dtype)
        let context = encoderHiddenStates.to(store.dtype)
        let upFactor = 1 << (upBlocks.count - 1)
        let forwardUpsampleSize = x.shape.suffix(2).contains { $0 % upFactor != 0 }

        if config.centerInputSample { x = 2 * x - 1 }
        let emb = embedTimestep(timestep, batch: x.size(0), device: x.device)

        x = convIn(x)
        var skips = [x]
        for block in downBlocks {
            let (h, residuals) = block(x, temb: emb, encoderHiddenStates: context)
            x = h
            skips += residuals
        }
        if let midBlock { x = midBlock(x, temb: emb, encoderHiddenStates: context) }

        for (i, block) in upBlocks.enumerated() {
            let residuals = Array(skips.suffix(block.resnetCount))
            skips.removeLast(block.resnetCount)
            var upsampleSize: (Int, Int)?
            if i < upBlocks.count - 1 && forwardUpsampleSize, let next = skips.last {
                upsampleSize = (next.size(2), next.size(3))
            }
            x = block(x, skips: residuals, temb: emb, encoderHiddenStates: context, upsampleSize: upsampleSize)
        }
        return convOut(config.actFn(convNormOut(x)))
    }

    /// Same, with one timestep for the whole batch.
    public func callAsFunction(_ sample: Tensor, timestep: Double, encoderHiddenStates: Tensor) -> Tensor {
        self(sample, timestep: Tensor(scalar: timestep, dtype: .float64), encoderHiddenStates: encoderHiddenStates)
    }
}
