import DiffusersConfig
import NN
import Torch

/// Resnets then a downsampler (right/bottom padded, stride 2), as diffusers' `DownEncoderBlock2D`.
public final class DownEncoderBlock2D: Module {
    public let resnets: [ResnetBlock2D]
    public let downsamplers: [Downsample2D]

    public init(_ path: ParameterPath, inChannels: Int, outChannels: Int, layers: Int, addDownsample: Bool,
                downsamplePadding: Int = 1, groups: Int, eps: Double = 1e-6, activation: Activation = .silu) {
        resnets = (0..<layers).map { i in
            ResnetBlock2D(path / "resnets" / i, inChannels: i == 0 ? inChannels : outChannels, outChannels: outChannels,
                          tembChannels: nil, groups: groups, eps: eps, activation: activation)
        }
        downsamplers = addDownsample
            ? [Downsample2D(path / "downsamplers" / 0, channels: outChannels, padding: downsamplePadding)] : []
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = x
        for resnet in resnets { h = resnet(h, temb: nil) }
        for downsampler in downsamplers { h = downsampler(h) }
        return h
    }
}

/// Resnets then an upsampler, as diffusers' `UpDecoderBlock2D`.
public final class UpDecoderBlock2D: Module {
    public let resnets: [ResnetBlock2D]
    public let upsamplers: [Upsample2D]

    public init(_ path: ParameterPath, inChannels: Int, outChannels: Int, layers: Int, addUpsample: Bool, groups: Int,
                eps: Double = 1e-6, activation: Activation = .silu) {
        resnets = (0..<layers).map { i in
            ResnetBlock2D(path / "resnets" / i, inChannels: i == 0 ? inChannels : outChannels, outChannels: outChannels,
                          tembChannels: nil, groups: groups, eps: eps, activation: activation)
        }
        upsamplers = addUpsample ? [Upsample2D(path / "upsamplers" / 0, channels: outChannels)] : []
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = x
        for resnet in resnets { h = resnet(h, temb: nil) }
        for upsampler in upsamplers { h = upsampler(h) }
        return h
    }
}

/// A resnet, then (spatial attention, resnet) pairs, as diffusers' `UNetMidBlock2D` in the VAE: one head
/// as wide as the channels, group-normed input, residual connection.
public final class UNetMidBlock2D: Module {
    public let resnets: [ResnetBlock2D]
    /// Empty when the config's `mid_block_add_attention` is false.
    public let attentions: [Attention]

    public init(_ path: ParameterPath, slot: AttentionProcessorSlot, channels: Int, layers: Int = 1, groups: Int,
                eps: Double = 1e-6, activation: Activation = .silu, addAttention: Bool = true,
                attentionHeadDim: Int? = nil) {
        resnets = (0...layers).map { i in
            ResnetBlock2D(path / "resnets" / i, inChannels: channels, outChannels: channels, tembChannels: nil,
                          groups: groups, eps: eps, activation: activation)
        }
        let dimHead = attentionHeadDim ?? channels
        attentions = addAttention ? (0..<layers).map { i in
            Attention(path / "attentions" / i, slot: slot, queryDim: channels, heads: channels / dimHead, dimHead: dimHead,
                      bias: true, upcastAttention: true, normNumGroups: groups, eps: eps, residualConnection: true)
        } : []
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = resnets[0](x, temb: nil)
        for (i, resnet) in resnets.dropFirst().enumerated() {
            if i < attentions.count { h = attentions[i].spatial(h) }
            h = resnet(h, temb: nil)
        }
        return h
    }
}

extension AutoencoderKL {
    /// Image → latent distribution parameters (mean and log-variance stacked on channels), as diffusers'
    /// `Encoder` in `vae.py` with `double_z=True`.
    public final class Encoder: Module {
        public let convIn: Conv2d
        public let downBlocks: [DownEncoderBlock2D]
        public let midBlock: UNetMidBlock2D
        public let convNormOut: GroupNorm
        public let convOut: Conv2d

        init(_ path: ParameterPath, slot: AttentionProcessorSlot, config: AutoencoderKLConfig) {
            let boc = config.blockOutChannels
            let groups = config.normNumGroups
            convIn = Conv2d(path / "conv_in", config.inChannels, boc[0], kernelSize: 3, padding: 1)
            var output = boc[0]
            downBlocks = boc.indices.map { i in
                let input = output
                output = boc[i]
                return DownEncoderBlock2D(path / "down_blocks" / i, inChannels: input, outChannels: output,
                                          layers: config.layersPerBlock, addDownsample: i < boc.count - 1,
                                          downsamplePadding: 0, groups: groups, activation: config.actFn)
            }
            midBlock = UNetMidBlock2D(path / "mid_block", slot: slot, channels: boc[boc.count - 1], groups: groups,
                                      activation: config.actFn, addAttention: config.midBlockAddAttention)
            convNormOut = GroupNorm(path / "conv_norm_out", groups: groups, channels: boc[boc.count - 1], eps: 1e-6)
            convOut = Conv2d(path / "conv_out", boc[boc.count - 1], 2 * config.latentChannels, kernelSize: 3, padding: 1)
        }

        public func callAsFunction(_ x: Tensor) -> Tensor {
            var h = convIn(x)
            for block in downBlocks { h = block(h) }
            h = midBlock(h)
            return convOut(convNormOut(h).silu())
        }
    }

    /// Latents → image, as diffusers' `Decoder` in `vae.py` (`norm_type="group"`).
    public final class Decoder: Module {
        public let convIn: Conv2d
        public let midBlock: UNetMidBlock2D
        public let upBlocks: [UpDecoderBlock2D]
        public let convNormOut: GroupNorm
        public let convOut: Conv2d

        init(_ path: ParameterPath, slot: AttentionProcessorSlot, config: AutoencoderKLConfig) {
            let boc = config.blockOutChannels
            let groups = config.normNumGroups
            let reversed = Array(boc.reversed())
            convIn = Conv2d(path / "conv_in", config.latentChannels, reversed[0], kernelSize: 3, padding: 1)
            midBlock = UNetMidBlock2D(path / "mid_block", slot: slot, channels: reversed[0], groups: groups,
                                      activation: config.actFn, addAttention: config.midBlockAddAttention)
            var output = reversed[0]
            upBlocks = reversed.indices.map { i in
                let previous = output
                output = reversed[i]
                return UpDecoderBlock2D(path / "up_blocks" / i, inChannels: previous, outChannels: output,
                                        layers: config.layersPerBlock + 1, addUpsample: i < boc.count - 1,
                                        groups: groups, activation: config.actFn)
            }
            convNormOut = GroupNorm(path / "conv_norm_out", groups: groups, channels: boc[0], eps: 1e-6)
            convOut = Conv2d(path / "conv_out", boc[0], config.outChannels, kernelSize: 3, padding: 1)
        }

        public func callAsFunction(_ z: Tensor) -> Tensor {
            var h = midBlock(convIn(z))
            for block in upBlocks { h = block(h) }
            return convOut(convNormOut(h).silu())
        }
    }
}
