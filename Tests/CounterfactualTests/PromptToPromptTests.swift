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
    }

    @Test func controlOnAMixedBatchMatchesTheReference() {
        let control = PromptToPromptControl(edit: .replace(mapper: f["replace.mapper"]!), crossSchedule: f["control.cross_schedule"]!,
                                            selfReplaceSteps: 0..<2, groupRows: [2, 3], storeResolution: (4, 4))
        for step in [0, 1, 3] {
            control.step = step
            let cross = control.attend(query: f["control.q"]!, key: f["control.k_cross"]!, value: f["control.v_cross"]!,
                                       isCross: true, queryHeight: 4, queryWidth: 4, upcast: false)
            #expect(relativeError(cross, f["control.cross.step\(step)"]!) < 1e-5, "cross, step \(step)")
            let selfOut = control.attend(query: f["control.q"]!, key: f["control.k_self"]!, value: f["control.v_self"]!,
                                         isCross: false, queryHeight: 4, queryWidth: 4, upcast: false)
            #expect(relativeError(selfOut, f["control.self.step\(step)"]!) < 1e-5, "self, step \(step)")
        }
        // The stored maps are the group's edited cross-attention summed over heads and steps.
        let expected = [0, 1, 3].map { f["control.cross.group\($0)"]!.sum(dim: 1) }.reduce(Tensor.zeros([2, 16, 77])) { $0 + $1 }
        #expect(control.storedCount == 3)
        #expect(relativeError(control.storedMaps!.reshape([2, 16, 77]), expected) < 1e-5)
    }

    @Test func attentionMaskMatchesLocalBlend() {
        let (mask, soft) = AttentionMask.make(maps: f["mask.maps"]!, tokens: [([9, 10, 11], [7])], size: (8, 8), threshold: 0.3)
        #expect(mask.shape == [1, 1, 8, 8])
        let reference = f["mask.soft"]!
        // The mask is local blend's to the pixel, but where the reference's soft map lies on the threshold itself
        // (within 1e-6), which another CPU's rounding may put on either side.
        let softMax = reference[0].maximum(reference[1]).floats(), got = mask.floats(), want = f["mask.result"]!.floats()
        let differing = got.indices.filter { got[$0] != want[$0] }
        #expect(differing.allSatisfy { abs(Double(softMax[$0]) - 0.3) < 1e-6 }, "mask differs at \(differing)")
        #expect(relativeError(soft, reference[0].maximum(reference[1]).unsqueeze(0)) < 1e-6)
        let src = Tensor.zeros([1, 4, 8, 8]), edit = Tensor.ones([1, 4, 8, 8])
        let blended = AttentionMask.blend(source: src, edits: edit, mask: mask)
        #expect(blended.sum().item() == mask.sum().item() * 4)
    }
}
