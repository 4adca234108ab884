import Foundation
import Testing
import Torch
@testable import Counterfactual

func fixture(_ name: String) throws -> [String: Tensor] {
    try Safetensors.load(Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name))
}

func relativeError(_ a: Tensor, _ b: Tensor) -> Double {
    let x = a.to(.float64), y = b.to(.float64)
    return ((x - y).norm() / y.norm().clamp(min: 1e-30)).item()
}

/// Prompt-to-prompt's attention edits, control and mask against google/prompt-to-prompt's own classes
/// (scripts/make_p2p_fixtures.py runs the notebook's AttentionReplace / AttentionRefine / AttentionReweight, its
/// controller inside ptp_utils' attention forward, and LocalBlend).
@Suite struct PromptToPromptTests {
    let f: [String: Tensor]
    init() throws { f = try fixture("p2p.safetensors") }

    @Test func crossAttentionEditsMatchTheReference() {
        let base = f["replace.base"]!
        let replace = CrossAttentionEdit.replace(mapper: f["replace.mapper"]!)
        #expect(relativeError(replace.apply(base: base, edited: f["replace.edited"]!), f["replace.result"]!) < 1e-6)

        let refine = CrossAttentionEdit.refine(mapper: f["refine.mapper"]!, alphas: f["refine.alphas"]!)
        #expect(relativeError(refine.apply(base: base, edited: f["refine.edited"]!), f["refine.result"]!) < 1e-6)

        let reweight = CrossAttentionEdit.reweight(equalizer: f["reweight.equalizer"]!, after: refine)
        #expect(relativeError(reweight.apply(base: base, edited: f["refine.edited"]!), f["reweight.result"]!) < 1e-6)

        let alone = CrossAttentionEdit.reweight(equalizer: f["reweight_alone.equalizer"]!, after: nil)
        #expect(relativeError(alone.apply(base: base, edited: f["replace.edited"]!), f["reweight_alone.result"]!) < 1e-6)
    }

    /// The reference's attention layers return [batch, N, heads·d]; Prism's control returns [batch, heads, N, d].
    func merged(_ t: Tensor) -> Tensor { t.transpose(1, 2).reshape([t.size(0), t.size(2), t.size(1) * t.size(3)]) }

    /// Prism's control as the reference controller was built: its word swap's mapper, its cross-attention schedule
    /// (get_time_words_attention_alpha), its self-attention step range, the UNet batch's conditional rows as the group.
    func control() -> PromptToPromptControl {
        let steps = f["control.self_steps"]!.toArray(Int64.self).map(Int.init)
        return PromptToPromptControl(edit: .replace(mapper: f["replace.mapper"]!), crossSchedule: f["control.cross_schedule"]!,
                                     selfReplaceSteps: steps[0]..<steps[1], groupRows: [2, 3], storeResolution: (4, 4))
    }

    @Test func controlOnAMixedBatchMatchesTheReference() {
        let control = control()
        #expect(control.selfReplaceSteps == 0..<2)
        for step in 0..<4 {
            control.step = step
            let selfOut = control.attend(query: f["control.self.q"]!, key: f["control.self.k"]!, value: f["control.self.v"]!,
                                         isCross: false, queryHeight: 4, queryWidth: 4, upcast: false)
            #expect(relativeError(merged(selfOut), f["control.self.out\(step)"]!) < 1e-5, "self, step \(step)")
            let cross = control.attend(query: f["control.cross.q"]!, key: f["control.cross.k"]!, value: f["control.cross.v"]!,
                                       isCross: true, queryHeight: 4, queryWidth: 4, upcast: false)
            #expect(relativeError(merged(cross), f["control.cross.out\(step)"]!) < 1e-5, "cross, step \(step)")
        }
        // The reference's AttentionStore holds the group's edited cross-attention summed over the steps,
        // [prompts · heads, N, 77]; Prism's sums the heads too.
        #expect(control.storedCount == 4)
        let stored = f["control.stored_cross"]!.reshape([2, 2, 16, 77]).sum(dim: 1)
        #expect(relativeError(control.storedMaps!.reshape([2, 16, 77]), stored) < 1e-5)
    }

    /// The reference replaces self-attention maps only where a layer has at most 32² queries
    /// (`att_replace.shape[2] <= 32 ** 2`): at a step inside the self-replace range, the 32×32 layer's edit row
    /// attends as the source does and the 33×33 layer's as its own.
    @Test func selfAttentionAbove32x32QueriesIsLeftAlone() {
        let control = control()
        control.step = 0
        // The reference layers' projections are q = x, k = x/2, v = −2x (exact in float32), with one 1-wide head.
        let x = f["control.big.x"]!
        func attend(side: Int, own: Bool = false) -> Tensor {
            let q = x.slice(dim: 1, start: 0, end: side * side).unsqueeze(1)
            let out = own ? F.scaledDotProductAttention(query: q, key: q * 0.5, value: q * -2)
                : control.attend(query: q, key: q * 0.5, value: q * -2, isCross: false, queryHeight: side, queryWidth: side,
                                 upcast: false)
            return out.squeeze(1)
        }
        let above = attend(side: 33), atMost = attend(side: 32)
        #expect(relativeError(above, f["control.big.out1089"]!) < 1e-5, "33×33: left alone")
        #expect(relativeError(atMost, f["control.big.out1024"]!) < 1e-5, "32×32: replaced")
        // The fixture tells the two apart: the replaced layer's edit row is far from the layer's own attention.
        #expect(relativeError(f["control.big.out1024"]![3], attend(side: 32, own: true)[3]) > 1e-2)
        #expect(relativeError(f["control.big.out1089"]![3], attend(side: 33, own: true)[3]) < 1e-5)
    }

    @Test func attentionMaskMatchesLocalBlend() {
        // The reference's maps carry attention at a few tokens only; put the stored columns back among the 77.
        let columns = f["mask.columns"]!.toArray(Int64.self).map(Int.init)
        var scatter = [Float](repeating: 0, count: columns.count * 77)
        for (i, c) in columns.enumerated() { scatter[i * 77 + c] = 1 }
        let maps = f["mask.maps"]!.matmul(Tensor(scatter, shape: [columns.count, 77]))  // [prompts, 16, 16, 77]
        // LocalBlend's words: the source's (row 0) and each edit's, as token positions.
        let alpha = f["mask.alpha_layers"]!
        func positions(_ row: Int) -> [Int] { let a = alpha[row].floats(); return a.indices.filter { a[$0] != 0 } }
        let (mask, soft) = AttentionMask.make(maps: maps, tokens: [(positions(0), positions(1)), (positions(0), positions(2))],
                                              size: (24, 24), threshold: 0.3)
        #expect(mask.shape == [2, 1, 24, 24])
        // LocalBlend's mask rows 1…: each edit's own thresholded map, unioned with the source's (the fixture has no
        // normalised value within 1e-4 of the threshold, so rounding cannot move a pixel across it).
        let want = f["mask.result"]!.slice(dim: 0, start: 1)
        #expect(mask.floats() == want.floats())
        // Its normalised maps: what it resized over their maximum; Prism's soft map is the larger of source and edit.
        let pooled = f["mask.pooled"]!
        let normalised = pooled / pooled.max(dims: [2, 3], keepDim: true)
        let expected = Tensor.cat([normalised[0].maximum(normalised[1]), normalised[0].maximum(normalised[2])]).unsqueeze(1)
        #expect(relativeError(soft, expected) < 1e-6)
        // And its blend: x_t[:1] + mask · (x_t − x_t[:1]).
        let xt = f["mask.x_t"]!
        let blended = AttentionMask.blend(source: xt.slice(dim: 0, start: 0, end: 1), edits: xt.slice(dim: 0, start: 1), mask: mask)
        #expect(relativeError(blended, f["mask.blended"]!.slice(dim: 0, start: 1)) < 1e-7)
    }
}
