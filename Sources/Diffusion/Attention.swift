import NN
import Torch

// MARK: - The attention processor: the one place every attention of a model goes through

/// What a processor knows about one attention call.
public struct AttentionCall: Sendable, Hashable {
    /// The layer's diffusers path, e.g. `up_blocks.1.attentions.0.transformer_blocks.0.attn2`.
    public let layerName: String
    /// True for attention over encoder states (`attn2` given the text embeddings).
    public let isCrossAttention: Bool
    public let heads: Int
    /// Spatial size of the query feature map: `queryHeight · queryWidth` is the query length.
    public let queryHeight: Int, queryWidth: Int
    /// The config's `upcast_attention`: a processor that forms the scores itself should do so in float32.
    public let upcast: Bool
    /// The factor the scores are multiplied by, 1/√(head dim).
    public let scale: Double

    public init(layerName: String, isCrossAttention: Bool, heads: Int, queryHeight: Int, queryWidth: Int,
                upcast: Bool, scale: Double) {
        self.layerName = layerName
        self.isCrossAttention = isCrossAttention
        self.heads = heads
        self.queryHeight = queryHeight
        self.queryWidth = queryWidth
        self.upcast = upcast
        self.scale = scale
    }
}

/// Computes attention from projected, head-split queries, keys and values. Replace a model's processor to
/// observe or edit attention (prompt-to-prompt, attention-map masks, inversion) without touching the model.
public protocol AttentionProcessor: AnyObject {
    /// `query`: [B, heads, Nq, d]; `key`, `value`: [B, heads, Nk, d]. Returns [B, heads, Nq, d].
    func attend(query: Tensor, key: Tensor, value: Tensor, call: AttentionCall) -> Tensor
}

/// The default processor: libtorch's fused `scaled_dot_product_attention`, as diffusers' `AttnProcessor2_0`
/// (which, like this one, leaves `upcast` to the kernel's own accumulation).
public final class ScaledDotProductAttention: AttentionProcessor {
    public init() {}

    public func attend(query: Tensor, key: Tensor, value: Tensor, call: AttentionCall) -> Tensor {
        F.scaledDotProductAttention(query: query, key: key, value: value)
    }
}

/// Building blocks for processors that need the attention probabilities themselves.
public enum AttentionProcessors {
    /// softmax(Q Kᵀ · scale) over keys: [B, heads, Nq, Nk], in the query's dtype. With `upcast` the scores
    /// and the softmax are computed in float32, as diffusers' `get_attention_scores` with `upcast_attention`.
    public static func probabilities(query: Tensor, key: Tensor, scale: Double, upcast: Bool = false) -> Tensor {
        let dtype = query.dtype
        let wide = upcast && dtype != .float32 && dtype != .float64
        let q = wide ? query.to(.float32) : query
        let k = wide ? key.to(.float32) : key
        let scores = q.matmul(k.transpose(-1, -2)) * scale
        return scores.softmax(dim: -1, dtype: wide ? .float32 : nil).to(dtype)
    }

    /// `probabilities` [B, heads, Nq, Nk] applied to `value` [B, heads, Nk, d]: [B, heads, Nq, d].
    public static func apply(_ probabilities: Tensor, to value: Tensor) -> Tensor {
        probabilities.matmul(value)
    }

    /// softmax(Q Kᵀ · scale) V written out, for processors that edit nothing but want the explicit path.
    public static func attend(query: Tensor, key: Tensor, value: Tensor, call: AttentionCall) -> Tensor {
        apply(probabilities(query: query, key: key, scale: call.scale, upcast: call.upcast), to: value)
    }
}

/// The processor shared by every ``Attention`` of one model: swapping it is one assignment, no walk over the
/// model. Also knows the model's root path, so layer names are relative to the model.
public final class AttentionProcessorSlot: @unchecked Sendable {
    public var processor: AttentionProcessor
    let rootDepth: Int

    public init(processor: AttentionProcessor = ScaledDotProductAttention(), root: ParameterPath) {
        self.processor = processor
        rootDepth = root.components.count
    }

    func layerName(_ path: ParameterPath) -> String { path.components.dropFirst(rootDepth).joined(separator: ".") }
}

// MARK: - Attention

/// Multi-head attention with diffusers' `Attention` parameter names (`to_q`, `to_k`, `to_v`, `to_out.0`,
/// optional `group_norm`). Projections and the head split happen here; the attention itself is the slot's
/// processor.
public final class Attention: Module {
    public let toQ: Linear, toK: Linear, toV: Linear, toOut: Linear
    /// The VAE's spatial attention normalises its input first.
    public let groupNorm: GroupNorm?
    public let heads: Int
    public let dimHead: Int
    public let upcastAttention: Bool
    public let layerName: String
    /// Spatial form only: output = (attention + input) / rescaleOutputFactor.
    public let residualConnection: Bool
    public let rescaleOutputFactor: Double
    let slot: AttentionProcessorSlot

    /// `crossAttentionDim` nil: keys and values are projected from `queryDim` features.
    public init(
        _ path: ParameterPath, slot: AttentionProcessorSlot, queryDim: Int, crossAttentionDim: Int? = nil,
        heads: Int = 8, dimHead: Int = 64, bias: Bool = false, outBias: Bool = true, upcastAttention: Bool = false,
        normNumGroups: Int? = nil, eps: Double = 1e-5, residualConnection: Bool = false,
        rescaleOutputFactor: Double = 1
    ) {
        let inner = heads * dimHead
        let kvDim = crossAttentionDim ?? queryDim
        groupNorm = normNumGroups.map { GroupNorm(path / "group_norm", groups: $0, channels: queryDim, eps: eps) }
        toQ = Linear(path / "to_q", queryDim, inner, bias: bias)
        toK = Linear(path / "to_k", kvDim, inner, bias: bias)
        toV = Linear(path / "to_v", kvDim, inner, bias: bias)
        toOut = Linear(path / "to_out" / 0, inner, queryDim, bias: outBias)
        self.heads = heads
        self.dimHead = dimHead
        self.upcastAttention = upcastAttention
        self.residualConnection = residualConnection
        self.rescaleOutputFactor = rescaleOutputFactor
        self.slot = slot
        layerName = slot.layerName(path)
    }

    /// Token form: `hiddenStates` [B, height·width, C]; `encoderHiddenStates` [B, M, C'] for cross-attention,
    /// nil for self-attention. Returns [B, height·width, C].
    public func callAsFunction(_ hiddenStates: Tensor, encoderHiddenStates: Tensor? = nil, height: Int, width: Int) -> Tensor {
        let batch = hiddenStates.size(0)
        let context = encoderHiddenStates ?? hiddenStates
        let q = splitHeads(toQ(hiddenStates), batch)
        let k = splitHeads(toK(context), batch)
        let v = splitHeads(toV(context), batch)
        let call = AttentionCall(
            layerName: layerName, isCrossAttention: encoderHiddenStates != nil, heads: heads, queryHeight: height,
            queryWidth: width, upcast: upcastAttention, scale: 1 / Double(dimHead).squareRoot())
        let out = slot.processor.attend(query: q, key: k, value: v, call: call)
        return toOut(out.transpose(1, 2).reshape([batch, -1, heads * dimHead]))
    }

    /// Spatial self-attention over an NCHW map (the VAE's mid-block attention), with the group norm first and
    /// the residual added after, as diffusers' `AttnProcessor2_0` on 4-D input.
    public func spatial(_ x: Tensor) -> Tensor {
        let s = x.shape
        let (batch, channels, height, width) = (s[0], s[1], s[2], s[3])
        let normed = groupNorm.map { $0(x) } ?? x
        let tokens = normed.reshape([batch, channels, height * width]).transpose(1, 2)
        let out = self(tokens, height: height, width: width)
        var result = out.transpose(1, 2).reshape([batch, channels, height, width])
        if residualConnection { result = result + x }
        return rescaleOutputFactor == 1 ? result : result / rescaleOutputFactor
    }

    /// [B, N, heads·d] → [B, heads, N, d] (a view).
    private func splitHeads(_ x: Tensor, _ batch: Int) -> Tensor {
        x.reshape([batch, -1, heads, dimHead]).transpose(1, 2)
    }
}
