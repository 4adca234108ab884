import Diffusion
import Foundation
import Torch

/// How the edited prompts' cross-attention is taken from the source's (Hertz et al. 2022).
public indirect enum CrossAttentionEdit {
    /// Word swap, same word count (`AttentionReplace`): mapper [edits, 77, 77].
    case replace(mapper: Tensor)
    /// Prompts of different lengths (`AttentionRefine`): mapper [edits, 77] (int64), alphas [edits, 1, 1, 77].
    case refine(mapper: Tensor, alphas: Tensor)
    /// Scale chosen words (`AttentionReweight`) after another edit, if any: equalizer [edits, 77].
    case reweight(equalizer: Tensor, after: CrossAttentionEdit?)

    /// The edited prompts' maps from the source's map `base` [heads, N, 77] and their own `edited` [E, heads, N, 77].
    func apply(base: Tensor, edited: Tensor) -> Tensor {
        switch self {
        case .replace(let mapper):
            // einsum('hpw,bwn->bhpn'): each edit's map is the source's, re-indexed through its mapper.
            return base.unsqueeze(0).matmul(mapper.unsqueeze(1).to(base.dtype))
        case .refine(let mapper, let alphas):
            // An added token's mapper entry is −1, which PyTorch's indexing reads as the last token.
            let n = base.size(-1)
            let gathered = Tensor.stack((0..<mapper.size(0)).map { e in
                base.indexSelect(dim: 2, index: Tensor(ints: mapper[e].toArray(Int64.self).map { Int($0 < 0 ? $0 + Int64(n) : $0) }))
            })
            let a = alphas.to(base.dtype)
            return gathered * a + edited * (1 - a)
        case .reweight(let equalizer, let after):
            let source = after.map { $0.apply(base: base, edited: edited) } ?? base.unsqueeze(0)
            return source * equalizer.to(base.dtype).unsqueeze(1).unsqueeze(1)
        }
    }
}

/// Prompt-to-prompt attention control over a batch in which some rows form the group [source, edit₁, …]
/// (the conditional rows; the unconditional ones are left alone, as the reference leaves `attn[:h//2]`).
/// It also accumulates the group's cross-attention maps at one resolution, for the counterfactual mask.
public final class PromptToPromptControl: @unchecked Sendable {
    public let edit: CrossAttentionEdit
    /// [steps + 1, edits, 1, 1, 77]: per step, how much of each token's cross-attention comes from the source.
    public let crossSchedule: Tensor
    /// Steps whose self-attention (at layers with at most `selfReplaceMaxQueries` queries) is the source's.
    public let selfReplaceSteps: Range<Int>
    public let selfReplaceMaxQueries: Int
    /// The rows of the UNet batch that form the group, source first.
    public let groupRows: [Int]
    /// The query resolution (h, w) whose cross-attention maps are stored for the mask; nil stores none.
    public let storeResolution: (Int, Int)?

    /// The sampling step the next UNet call belongs to (set by the editing loop).
    public var step = 0
    /// Sum over stored layers, heads and steps of the group's cross-attention: [1 + edits, h, w, 77].
    public private(set) var storedMaps: Tensor?
    public private(set) var storedCount = 0

    public init(edit: CrossAttentionEdit, crossSchedule: Tensor, selfReplaceSteps: Range<Int>,
                selfReplaceMaxQueries: Int = 32 * 32, groupRows: [Int], storeResolution: (Int, Int)?) {
        self.edit = edit
        self.crossSchedule = crossSchedule
        self.selfReplaceSteps = selfReplaceSteps
        self.selfReplaceMaxQueries = selfReplaceMaxQueries
        self.groupRows = groupRows
        self.storeResolution = storeResolution
    }

    /// Attention for one layer. q: [B, heads, Nq, d]; k, v: [B, heads, Nk, d]; returns [B, heads, Nq, d].
    public func attend(query: Tensor, key: Tensor, value: Tensor, isCross: Bool, queryHeight: Int, queryWidth: Int,
                       upcast: Bool) -> Tensor {
        let nq = query.size(2)
        let replaceSelf = !isCross && selfReplaceSteps.contains(step) && nq <= selfReplaceMaxQueries
        let store = isCross && storeResolution.map { $0.0 == queryHeight && $0.1 == queryWidth } == true
        guard isCross || replaceSelf else {
            return F.scaledDotProductAttention(query: query, key: key, value: value)
        }
        let batch = query.size(0)
        let rows = Tensor(ints: groupRows)
        let others = (0..<batch).filter { !groupRows.contains($0) }
        let q = query.indexSelect(dim: 0, index: rows), k = key.indexSelect(dim: 0, index: rows)
        let v = value.indexSelect(dim: 0, index: rows)
        var probs = Self.probabilities(query: q, key: k, upcast: upcast)
        let base = probs[0]
        let edited = probs.slice(dim: 0, start: 1)
        let replaced: Tensor
        if isCross {
            let alpha = crossSchedule[min(step, crossSchedule.size(0) - 1)].to(probs.dtype)
            replaced = edit.apply(base: base, edited: edited) * alpha + edited * (1 - alpha)
        } else {
            replaced = base.unsqueeze(0).expand(edited.shape)
        }
        probs = Tensor.cat([base.unsqueeze(0), replaced])
        if store { accumulate(probs, queryHeight, queryWidth) }
        let groupOut = probs.to(value.dtype).matmul(v)
        guard !others.isEmpty else { return groupOut }
        let otherRows = Tensor(ints: others)
        let otherOut = F.scaledDotProductAttention(query: query.indexSelect(dim: 0, index: otherRows),
                                                   key: key.indexSelect(dim: 0, index: otherRows),
                                                   value: value.indexSelect(dim: 0, index: otherRows))
        // Back into the batch's order.
        var order = [Int](repeating: 0, count: batch)
        for (i, r) in groupRows.enumerated() { order[r] = i }
        for (i, r) in others.enumerated() { order[r] = groupRows.count + i }
        return Tensor.cat([groupOut, otherOut]).indexSelect(dim: 0, index: Tensor(ints: order))
    }

    /// softmax(q kᵀ / √d), in float32 when `upcast`.
    public static func probabilities(query: Tensor, key: Tensor, upcast: Bool) -> Tensor {
        let scale = 1 / Double(query.size(-1)).squareRoot()
        let q = upcast ? query.to(.float32) : query, k = upcast ? key.to(.float32) : key
        return (q.matmul(k.transpose(-1, -2)) * scale).softmax(dim: -1)
    }

    func accumulate(_ probs: Tensor, _ h: Int, _ w: Int) {
        let maps = withNoGrad { probs.detach().to(.float32).sum(dim: 1).reshape([probs.size(0), h, w, probs.size(-1)]) }
        storedMaps = storedMaps.map { $0 + maps } ?? maps
        storedCount += 1
    }

    /// Forgets the stored maps (a new edit).
    public func resetStore() {
        storedMaps = nil
        storedCount = 0
    }
}

/// The counterfactual mask from cross-attention, as prompt-to-prompt's `LocalBlend`: the maps of the chosen
/// tokens summed, max-pooled, resized to the latents, normalised by their maximum and thresholded; each edit's
/// mask is the union of the source's (its words that the edit removes or changes) and its own (the words it adds).
public enum AttentionMask {
    /// - Parameters:
    ///   - maps: [1 + edits, h, w, 77], summed cross-attention, the source first.
    ///   - tokens: per edit, the source's and the edit's token positions that make its mask.
    ///   - size: the latents' (h, w).
    ///   - protect: per edit, the source's and the edit's positions of words the edit keeps: a pixel where one of
    ///     them gets more attention than every changed word leaves the mask (nil: LocalBlend's mask as it is).
    /// - Returns: the masks [edits, 1, H, W] in {0, 1}, and the normalised maps before thresholding (the larger
    ///   of the source's and the edit's) [edits, 1, H, W].
    public static func make(maps: Tensor, tokens: [(source: [Int], target: [Int])], size: (Int, Int), threshold: Double,
                            dilation: Int = 1, protect: [(source: [Int], target: [Int])]? = nil) -> (mask: Tensor, soft: Tensor) {
        withNoGrad {
            let vocab = maps.size(-1)
            // The row's maps at `positions` only ([1, h, w, vocab]), reduced over the tokens, max-pooled and resized.
            func pooled(_ row: Int, _ positions: [Int], _ reduce: (Tensor) -> Tensor) -> Tensor {
                var selector = [Float](repeating: 0, count: vocab)
                for t in positions where t < vocab { selector[t] = 1 }
                var m = reduce(maps.slice(dim: 0, start: row, end: row + 1) * Tensor(selector, shape: [1, 1, 1, vocab]))
                    .unsqueeze(1)  // [1, 1, h, w]
                if dilation > 0 {
                    m = F.maxPool2d(m, kernelSize: 2 * dilation + 1, stride: 1, padding: dilation)
                }
                return F.interpolate(m, size: size, mode: .nearest)
            }
            func normalised(_ row: Int, _ positions: [Int]) -> Tensor {
                let m = pooled(row, positions) { $0.sum(dim: -1) }
                return m / m.max(dims: [2, 3], keepDim: true).clamp(min: 1e-12)
            }
            // The largest attention any one of the words gets at each place (not normalised): where a kept word
            // gets more than every changed word, the place belongs to what the caption keeps.
            func strongest(_ row: Int, _ positions: [Int]) -> Tensor { pooled(row, positions) { $0.max(dims: [-1]) } }
            var masks: [Tensor] = [], softs: [Tensor] = []
            for (e, pair) in tokens.enumerated() {
                let s = normalised(0, pair.source), t = normalised(e + 1, pair.target)
                var sourceMask = s.gt(threshold).to(.float32), editMask = t.gt(threshold).to(.float32)
                if let kept = protect?[e] {
                    if !kept.source.isEmpty {
                        sourceMask = sourceMask * strongest(0, pair.source).ge(strongest(0, kept.source)).to(.float32)
                    }
                    if !kept.target.isEmpty {
                        editMask = editMask * strongest(e + 1, pair.target).ge(strongest(e + 1, kept.target)).to(.float32)
                    }
                }
                masks.append((sourceMask + editMask).clamp(max: 1))
                softs.append(s.maximum(t))
            }
            return (Tensor.cat(masks), Tensor.cat(softs))
        }
    }

    /// z_edit ← z_src + M·(z_edit − z_src).
    public static func blend(source: Tensor, edits: Tensor, mask: Tensor) -> Tensor {
        source + mask.to(edits.dtype) * (edits - source)
    }
}
