import DiffusersConfig
import NN
import Torch

/// Halves the spatial size with a stride-2 3×3 convolution, as diffusers' `Downsample2D` (`use_conv=True`,
/// the conv stored as `conv`). Padding 0 pads right and bottom by one first, as the VAE encoder does.
public final class Downsample2D: Module {
    public let conv: Conv2d
    public let padding: Int

    public init(_ path: ParameterPath, channels: Int, outChannels: Int? = nil, padding: Int = 1) {
        conv = Conv2d(path / "conv", channels, outChannels ?? channels, kernelSize: 3, stride: 2, padding: padding)
        self.padding = padding
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        conv(padding == 0 ? x.pad([0, 1, 0, 1]) : x)
    }
}

/// Doubles the spatial size (nearest neighbour) then applies a 3×3 convolution, as diffusers' `Upsample2D`
/// (`use_conv=True`). With `outputSize`, resizes to exactly that size (odd inputs in the UNet).
public final class Upsample2D: Module {
    public let conv: Conv2d

    public init(_ path: ParameterPath, channels: Int, outChannels: Int? = nil) {
        conv = Conv2d(path / "conv", channels, outChannels ?? channels, kernelSize: 3, padding: 1)
    }

    public func callAsFunction(_ x: Tensor, outputSize: (Int, Int)? = nil) -> Tensor {
        let up = outputSize.map { F.interpolate(x, size: $0, mode: .nearest) }
            ?? F.interpolate(x, scaleFactor: 2, mode: .nearest)
        return conv(up)
    }
}

// MARK: - UNet down, mid and up blocks

/// Hyper-parameters every UNet block shares, from the UNet config.
public struct UNetBlockSettings {
    public var tembChannels: Int
    public var resnetEps: Double
    public var resnetGroups: Int
    public var activation: Activation
    public var dropout: Double
    public var crossAttentionDim: Int
    public var heads: Int
    public var transformerLayers: Int
    public var useLinearProjection: Bool
    public var upcastAttention: Bool
    public var outputScaleFactor: Double = 1
}

/// A down block of the UNet: returns the downsampled features and the skip connections it produced.
public protocol UNetDownBlock: AnyObject {
    func callAsFunction(_ x: Tensor, temb: Tensor, encoderHiddenStates: Tensor) -> (Tensor, [Tensor])
}

/// An up block of the UNet: consumes `resnetCount` skip connections (last first).
public protocol UNetUpBlock: AnyObject {
    var resnetCount: Int { get }
    func callAsFunction(_ x: Tensor, skips: [Tensor], temb: Tensor, encoderHiddenStates: Tensor,
                        upsampleSize: (Int, Int)?) -> Tensor
}

extension ResnetBlock2D {
    convenience init(_ path: ParameterPath, inChannels: Int, outChannels: Int, settings s: UNetBlockSettings) {
        self.init(path, inChannels: inChannels, outChannels: outChannels, tembChannels: s.tembChannels,
                  groups: s.resnetGroups, eps: s.resnetEps, activation: s.activation,
                  outputScaleFactor: s.outputScaleFactor, dropout: s.dropout)
    }
}

extension Transformer2DModel {
    convenience init(_ path: ParameterPath, slot: AttentionProcessorSlot, channels: Int, settings s: UNetBlockSettings) {
        self.init(path, slot: slot, heads: s.heads, dimHead: channels / s.heads, inChannels: channels,
                  layers: s.transformerLayers, normNumGroups: s.resnetGroups, crossAttentionDim: s.crossAttentionDim,
                  useLinearProjection: s.useLinearProjection, upcastAttention: s.upcastAttention, dropout: s.dropout)
    }
}

/// Resnets each followed by a transformer, then a downsampler, as diffusers' `CrossAttnDownBlock2D`.
public final class CrossAttnDownBlock2D: Module, UNetDownBlock {
    public let resnets: [ResnetBlock2D]
    public let attentions: [Transformer2DModel]
    public let downsamplers: [Downsample2D]

    public init(_ path: ParameterPath, slot: AttentionProcessorSlot, inChannels: Int, outChannels: Int, layers: Int,
                addDownsample: Bool, downsamplePadding: Int = 1, settings: UNetBlockSettings) {
        resnets = (0..<layers).map { i in
            ResnetBlock2D(path / "resnets" / i, inChannels: i == 0 ? inChannels : outChannels, outChannels: outChannels,
                          settings: settings)
        }
        attentions = (0..<layers).map { i in
            Transformer2DModel(path / "attentions" / i, slot: slot, channels: outChannels, settings: settings)
        }
        downsamplers = addDownsample
            ? [Downsample2D(path / "downsamplers" / 0, channels: outChannels, padding: downsamplePadding)] : []
    }

    public func callAsFunction(_ x: Tensor, temb: Tensor, encoderHiddenStates: Tensor) -> (Tensor, [Tensor]) {
        var h = x
        var skips: [Tensor] = []
        for (resnet, attention) in zip(resnets, attentions) {
            h = attention(resnet(h, temb: temb), encoderHiddenStates: encoderHiddenStates)
            skips.append(h)
        }
        for downsampler in downsamplers {
            h = downsampler(h)
            skips.append(h)
        }
        return (h, skips)
    }
}

/// Resnets then a downsampler, as diffusers' `DownBlock2D`.
public final class DownBlock2D: Module, UNetDownBlock {
    public let resnets: [ResnetBlock2D]
    public let downsamplers: [Downsample2D]

    public init(_ path: ParameterPath, inChannels: Int, outChannels: Int, layers: Int, addDownsample: Bool,
                downsamplePadding: Int = 1, settings: UNetBlockSettings) {
        resnets = (0..<layers).map { i in
            ResnetBlock2D(path / "resnets" / i, inChannels: i == 0 ? inChannels : outChannels, outChannels: outChannels,
                          settings: settings)
        }
        downsamplers = addDownsample
            ? [Downsample2D(path / "downsamplers" / 0, channels: outChannels, padding: downsamplePadding)] : []
    }

    public func callAsFunction(_ x: Tensor, temb: Tensor, encoderHiddenStates: Tensor) -> (Tensor, [Tensor]) {
        var h = x
        var skips: [Tensor] = []
        for resnet in resnets {
            h = resnet(h, temb: temb)
            skips.append(h)
        }
        for downsampler in downsamplers {
            h = downsampler(h)
            skips.append(h)
        }
        return (h, skips)
    }
}

/// A resnet, then (transformer, resnet) pairs, as diffusers' `UNetMidBlock2DCrossAttn`.
public final class UNetMidBlock2DCrossAttn: Module {
    public let resnets: [ResnetBlock2D]
    public let attentions: [Transformer2DModel]

    public init(_ path: ParameterPath, slot: AttentionProcessorSlot, channels: Int, layers: Int = 1,
                settings: UNetBlockSettings) {
        resnets = (0...layers).map { i in
            ResnetBlock2D(path / "resnets" / i, inChannels: channels, outChannels: channels, settings: settings)
        }
        attentions = (0..<layers).map { i in
            Transformer2DModel(path / "attentions" / i, slot: slot, channels: channels, settings: settings)
        }
    }

    public func callAsFunction(_ x: Tensor, temb: Tensor, encoderHiddenStates: Tensor) -> Tensor {
        var h = resnets[0](x, temb: temb)
        for (attention, resnet) in zip(attentions, resnets.dropFirst()) {
            h = resnet(attention(h, encoderHiddenStates: encoderHiddenStates), temb: temb)
        }
        return h
    }
}

/// Channel counts of one up block's resnets: the first takes the previous block's output, the last the
/// skip of the matching down block's input.
private func upResnetChannels(layers: Int, inChannels: Int, prevOutputChannels: Int, outChannels: Int) -> [Int] {
    (0..<layers).map { i in
        let skip = i == layers - 1 ? inChannels : outChannels
        let input = i == 0 ? prevOutputChannels : outChannels
        return input + skip
    }
}

/// Resnets over the features concatenated with skip connections, each followed by a transformer, then an
/// upsampler, as diffusers' `CrossAttnUpBlock2D`.
public final class CrossAttnUpBlock2D: Module, UNetUpBlock {
    public let resnets: [ResnetBlock2D]
    public let attentions: [Transformer2DModel]
    public let upsamplers: [Upsample2D]
    public var resnetCount: Int { resnets.count }

    public init(_ path: ParameterPath, slot: AttentionProcessorSlot, inChannels: Int, prevOutputChannels: Int,
                outChannels: Int, layers: Int, addUpsample: Bool, settings: UNetBlockSettings) {
        let channels = upResnetChannels(layers: layers, inChannels: inChannels, prevOutputChannels: prevOutputChannels,
                                        outChannels: outChannels)
        resnets = channels.enumerated().map { i, c in
            ResnetBlock2D(path / "resnets" / i, inChannels: c, outChannels: outChannels, settings: settings)
        }
        attentions = (0..<layers).map { i in
            Transformer2DModel(path / "attentions" / i, slot: slot, channels: outChannels, settings: settings)
        }
        upsamplers = addUpsample ? [Upsample2D(path / "upsamplers" / 0, channels: outChannels)] : []
    }

    public func callAsFunction(_ x: Tensor, skips: [Tensor], temb: Tensor, encoderHiddenStates: Tensor,
                               upsampleSize: (Int, Int)?) -> Tensor {
        var h = x
        var skips = skips
        for (resnet, attention) in zip(resnets, attentions) {
            h = resnet(Tensor.cat([h, skips.removeLast()], dim: 1), temb: temb)
            h = attention(h, encoderHiddenStates: encoderHiddenStates)
        }
        for upsampler in upsamplers { h = upsampler(h, outputSize: upsampleSize) }
        return h
    }
}

/// Resnets over the features concatenated with skip connections, then an upsampler, as diffusers' `UpBlock2D`.
public final class UpBlock2D: Module, UNetUpBlock {
    public let resnets: [ResnetBlock2D]
    public let upsamplers: [Upsample2D]
    public var resnetCount: Int { resnets.count }

    public init(_ path: ParameterPath, inChannels: Int, prevOutputChannels: Int, outChannels: Int, layers: Int,
                addUpsample: Bool, settings: UNetBlockSettings) {
        let channels = upResnetChannels(layers: layers, inChannels: inChannels, prevOutputChannels: prevOutputChannels,
                                        outChannels: outChannels)
        resnets = channels.enumerated().map { i, c in
            ResnetBlock2D(path / "resnets" / i, inChannels: c, outChannels: outChannels, settings: settings)
        }
        upsamplers = addUpsample ? [Upsample2D(path / "upsamplers" / 0, channels: outChannels)] : []
    }

    public func callAsFunction(_ x: Tensor, skips: [Tensor], temb: Tensor, encoderHiddenStates: Tensor,
                               upsampleSize: (Int, Int)?) -> Tensor {
        var h = x
        var skips = skips
        for resnet in resnets {
            h = resnet(Tensor.cat([h, skips.removeLast()], dim: 1), temb: temb)
        }
        for upsampler in upsamplers { h = upsampler(h, outputSize: upsampleSize) }
        return h
    }
}
