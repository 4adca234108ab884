import DiffusersConfig
import Foundation
import NN
import Torch

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
