import NN
import Torch

/// A gated GELU unit: `proj` to twice the width, then `hidden · gelu(gate)`, as diffusers' `GEGLU`.
public final class GEGLU: Module {
    public let proj: Linear

    public init(_ path: ParameterPath, dimIn: Int, dimOut: Int) {
        proj = Linear(path / "proj", dimIn, dimOut * 2)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let parts = proj(x).chunk(2, dim: -1)
        return parts[0] * parts[1].gelu()
    }
}

/// The transformer feed-forward, as diffusers' `FeedForward` with `activation_fn="geglu"`:
/// `net.0` (GEGLU), `net.1` (dropout), `net.2` (linear back to `dim`).
public final class FeedForward: Module {
    public let geglu: GEGLU
    public let out: Linear
    let dropout: Dropout

    public init(_ path: ParameterPath, dim: Int, dimOut: Int? = nil, mult: Int = 4, dropout: Double = 0) {
        let inner = dim * mult
        geglu = GEGLU(path / "net" / 0, dimIn: dim, dimOut: inner)
        self.dropout = Dropout(path / "net" / 1, p: dropout)
        out = Linear(path / "net" / 2, inner, dimOut ?? dim)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { out(dropout(geglu(x))) }
}

/// Self-attention, cross-attention and feed-forward, each pre-normed with a residual, as diffusers'
/// `BasicTransformerBlock` (`norm_type="layer_norm"`, `only_cross_attention=False`).
public final class BasicTransformerBlock: Module {
    public let norm1: LayerNorm
    public let attn1: Attention
    public let norm2: LayerNorm?
    public let attn2: Attention?
    public let norm3: LayerNorm
    public let ff: FeedForward

    public init(
        _ path: ParameterPath, slot: AttentionProcessorSlot, dim: Int, heads: Int, dimHead: Int,
        crossAttentionDim: Int?, upcastAttention: Bool = false, normEps: Double = 1e-5, dropout: Double = 0
    ) {
        norm1 = LayerNorm(path / "norm1", dim, eps: normEps)
        attn1 = Attention(path / "attn1", slot: slot, queryDim: dim, heads: heads, dimHead: dimHead,
                          upcastAttention: upcastAttention)
        if let crossAttentionDim {
            norm2 = LayerNorm(path / "norm2", dim, eps: normEps)
            attn2 = Attention(path / "attn2", slot: slot, queryDim: dim, crossAttentionDim: crossAttentionDim,
                              heads: heads, dimHead: dimHead, upcastAttention: upcastAttention)
        } else {
            norm2 = nil
            attn2 = nil
        }
        norm3 = LayerNorm(path / "norm3", dim, eps: normEps)
        ff = FeedForward(path / "ff", dim: dim, dropout: dropout)
    }

    /// `x`: [B, height·width, dim].
    public func callAsFunction(_ x: Tensor, encoderHiddenStates: Tensor?, height: Int, width: Int) -> Tensor {
        var h = attn1(norm1(x), height: height, width: width) + x
        if let attn2, let norm2 {
            h = attn2(norm2(h), encoderHiddenStates: encoderHiddenStates, height: height, width: width) + h
        }
        return ff(norm3(h)) + h
    }
}

/// A transformer over the pixels of a feature map, as diffusers' `Transformer2DModel` on continuous input:
/// group norm, `proj_in` (1×1 conv, or linear with `use_linear_projection`), transformer blocks, `proj_out`,
/// plus the input.
public final class Transformer2DModel: Module {
    /// A 1×1 convolution over NCHW, or a linear layer over tokens (`use_linear_projection`).
    public enum Projection {
        case conv(Conv2d)
        case linear(Linear)
    }

    public let norm: GroupNorm
    public let projIn: Projection
    public let transformerBlocks: [BasicTransformerBlock]
    public let projOut: Projection
    public let innerDim: Int

    public init(
        _ path: ParameterPath, slot: AttentionProcessorSlot, heads: Int, dimHead: Int, inChannels: Int,
        layers: Int = 1, normNumGroups: Int = 32, crossAttentionDim: Int?, useLinearProjection: Bool = false,
        upcastAttention: Bool = false, dropout: Double = 0
    ) {
        let inner = heads * dimHead
        innerDim = inner
        norm = GroupNorm(path / "norm", groups: normNumGroups, channels: inChannels, eps: 1e-6)
        if useLinearProjection {
            projIn = .linear(Linear(path / "proj_in", inChannels, inner))
        } else {
            projIn = .conv(Conv2d(path / "proj_in", inChannels, inner, kernelSize: 1))
        }
        transformerBlocks = (0..<layers).map { i in
            BasicTransformerBlock(path / "transformer_blocks" / i, slot: slot, dim: inner, heads: heads, dimHead: dimHead,
                                  crossAttentionDim: crossAttentionDim, upcastAttention: upcastAttention, dropout: dropout)
        }
        if useLinearProjection {
            projOut = .linear(Linear(path / "proj_out", inner, inChannels))
        } else {
            projOut = .conv(Conv2d(path / "proj_out", inner, inChannels, kernelSize: 1))
        }
    }

    /// `x`: [B, C, H, W]; `encoderHiddenStates`: [B, M, cross_attention_dim].
    public func callAsFunction(_ x: Tensor, encoderHiddenStates: Tensor?) -> Tensor {
        let s = x.shape
        let (batch, height, width) = (s[0], s[2], s[3])
        var h = norm(x)
        switch projIn {
        case .conv(let conv):
            h = conv(h).permute(0, 2, 3, 1).reshape([batch, height * width, innerDim])
        case .linear(let linear):
            h = linear(h.permute(0, 2, 3, 1).reshape([batch, height * width, s[1]]))
        }
        for block in transformerBlocks {
            h = block(h, encoderHiddenStates: encoderHiddenStates, height: height, width: width)
        }
        switch projOut {
        case .conv(let conv):
            h = conv(h.reshape([batch, height, width, innerDim]).permute(0, 3, 1, 2).contiguous())
        case .linear(let linear):
            h = linear(h).reshape([batch, height, width, s[1]]).permute(0, 3, 1, 2).contiguous()
        }
        return h + x
    }
}
