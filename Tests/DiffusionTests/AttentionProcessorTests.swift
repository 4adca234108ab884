import Foundation
import NN
import Testing
import Torch
@testable import Diffusion

/// Records every call (and the tensor shapes), then attends as the default processor does.
final class RecordingProcessor: AttentionProcessor {
    var calls: [AttentionCall] = []
    var shapes: [(query: [Int], key: [Int])] = []

    func attend(query: Tensor, key: Tensor, value: Tensor, call: AttentionCall) -> Tensor {
        calls.append(call)
        shapes.append((query.shape, key.shape))
        return F.scaledDotProductAttention(query: query, key: key, value: value)
    }
}

/// softmax(Q Kᵀ · scale) V written out with the probability helpers, as an editing controller would.
final class ExplicitProcessor: AttentionProcessor {
    func attend(query: Tensor, key: Tensor, value: Tensor, call: AttentionCall) -> Tensor {
        let p = AttentionProcessors.probabilities(query: query, key: key, scale: call.scale, upcast: call.upcast)
        return AttentionProcessors.apply(p, to: value)
    }
}

/// Replaces batch element 1's cross-attention maps by element 0's (prompt-to-prompt's "replace" edit).
final class CopyCrossAttentionProcessor: AttentionProcessor {
    func attend(query: Tensor, key: Tensor, value: Tensor, call: AttentionCall) -> Tensor {
        var p = AttentionProcessors.probabilities(query: query, key: key, scale: call.scale, upcast: call.upcast)
        if call.isCrossAttention {
            let first = p.slice(dim: 0, start: 0, end: 1)
            p = Tensor.cat([first, first], dim: 0)
        }
        return AttentionProcessors.apply(p, to: value)
    }
}

@Suite struct AttentionProcessorTests {
    func run(_ unet: UNet2DConditionModel, _ ref: [String: Tensor], states: Tensor? = nil) -> Tensor {
        withNoGrad {
            unet(ref["sample"]!, timestep: ref["timesteps"]!, encoderHiddenStates: states ?? ref["encoder_hidden_states"]!)
        }
    }

    /// Every transformer's attn1 then attn2, in call order.
    func transformerLayers(_ prefixes: [String]) -> [String] {
        prefixes.flatMap { ["\($0).transformer_blocks.0.attn1", "\($0).transformer_blocks.0.attn2"] }
    }

    @Test func recordingProcessorSeesEveryLayerOfTheSD1UNet() throws {
        let unet = try UNet2DConditionModel.load(from: fixtureURL("unet-sd1"))
        let recorder = RecordingProcessor()
        unet.attentionProcessor = recorder
        let ref = try fixtureTensors("unet-sd1/reference.safetensors")
        expectClose(run(unet, ref), ref["out"]!, "recorded output")

        // (CrossAttnDown, Down) / mid / (Up, CrossAttnUp with 2 layers); 16 and 32 channels, 4 heads each.
        let expected = transformerLayers([
            "down_blocks.0.attentions.0", "mid_block.attentions.0", "up_blocks.1.attentions.0", "up_blocks.1.attentions.1",
        ])
        #expect(recorder.calls.map(\.layerName) == expected)
        #expect(unet.attentionLayerNames == expected)
        let sizes = [16, 16, 8, 8, 16, 16, 16, 16]
        let dims = [4, 4, 8, 8, 4, 4, 4, 4]  // channels / heads
        for (i, call) in recorder.calls.enumerated() {
            #expect(call.isCrossAttention == (i % 2 == 1), "\(call.layerName)")
            #expect(call.heads == 4 && !call.upcast)
            #expect(call.queryHeight == sizes[i] && call.queryWidth == sizes[i], "\(call.layerName)")
            #expect(abs(call.scale - 1 / Double(dims[i]).squareRoot()) < 1e-12)
            let keys = call.isCrossAttention ? 7 : sizes[i] * sizes[i]
            #expect(recorder.shapes[i].query == [2, 4, sizes[i] * sizes[i], dims[i]])
            #expect(recorder.shapes[i].key == [2, 4, keys, dims[i]])
        }
        // Each name is the diffusers module path of real weights.
        let names = Set(unet.store.names)
        #expect(expected.allSatisfy { names.contains("\($0).to_q.weight") })
    }

    @Test func recordingProcessorSeesHeadsSizesAndUpcastOfTheSD2UNet() throws {
        let unet = try UNet2DConditionModel.load(from: fixtureURL("unet-sd2"))
        let recorder = RecordingProcessor()
        unet.attentionProcessor = recorder
        let ref = try fixtureTensors("unet-sd2/reference.safetensors")
        expectClose(run(unet, ref), ref["out"]!, "recorded output")

        let expected = transformerLayers([
            "down_blocks.0.attentions.0", "down_blocks.1.attentions.0", "mid_block.attentions.0",
            "up_blocks.0.attentions.0", "up_blocks.0.attentions.1", "up_blocks.1.attentions.0", "up_blocks.1.attentions.1",
        ])
        #expect(recorder.calls.map(\.layerName) == expected)
        // attention_head_dim [2, 4] is the number of heads per block (reversed for the up blocks).
        let heads = [2, 4, 4, 4, 4, 2, 2].flatMap { [$0, $0] }
        let sizes: [(Int, Int)] = [(15, 11), (8, 6), (8, 6), (8, 6), (8, 6), (15, 11), (15, 11)]
            .flatMap { [$0, $0] }
        for (i, call) in recorder.calls.enumerated() {
            #expect(call.heads == heads[i] && call.upcast, "\(call.layerName)")
            #expect(call.queryHeight == sizes[i].0 && call.queryWidth == sizes[i].1, "\(call.layerName)")
            #expect(recorder.shapes[i].query[2] == sizes[i].0 * sizes[i].1)
            if call.isCrossAttention { #expect(recorder.shapes[i].key[2] == 5) }
        }
    }

    @Test func explicitSoftmaxProcessorMatchesTheDefault() throws {
        for name in ["unet-sd1", "unet-sd2"] {
            let unet = try UNet2DConditionModel.load(from: fixtureURL(name))
            let ref = try fixtureTensors("\(name)/reference.safetensors")
            #expect(unet.attentionProcessor is ScaledDotProductAttention)
            let fused = run(unet, ref)
            unet.attentionProcessor = ExplicitProcessor()
            let explicit = run(unet, ref)
            expectClose(explicit, fused, tolerance: 1e-5, "\(name) explicit vs fused")
            expectClose(explicit, ref["out"]!, "\(name) explicit vs diffusers")
        }
    }

    @Test func swappingTheProcessorTakesEffectImmediately() throws {
        let unet = try UNet2DConditionModel.load(from: fixtureURL("unet-sd1"))
        let ref = try fixtureTensors("unet-sd1/reference.safetensors")
        let states = ref["encoder_hidden_states"]!
        // Element 1 gets element 0's text: with copied cross-attention maps only the values differ.
        unet.attentionProcessor = CopyCrossAttentionProcessor()
        let edited = run(unet, ref)
        #expect(relativeError(edited, ref["out"]!) > 1e-3)
        unet.attentionProcessor = ScaledDotProductAttention()
        expectClose(run(unet, ref), ref["out"]!, "restored")

        // The edit reads element 0's maps and leaves element 0 itself untouched.
        let same = Tensor.cat([states.slice(dim: 0, start: 0, end: 1), states.slice(dim: 0, start: 0, end: 1)], dim: 0)
        let plain = run(unet, ref, states: same)
        unet.attentionProcessor = CopyCrossAttentionProcessor()
        let copied = run(unet, ref, states: same)
        #expect(relativeError(copied.slice(dim: 0, start: 0, end: 1), plain.slice(dim: 0, start: 0, end: 1)) < 1e-5)
    }

    @Test func probabilitiesAreASoftmaxAndUpcastKeepsTheDType() throws {
        let g = Generator(seed: 3)
        let q = Tensor.randn([1, 2, 6, 4], generator: g), k = Tensor.randn([1, 2, 5, 4], generator: g)
        let v = Tensor.randn([1, 2, 5, 4], generator: g)
        let p = AttentionProcessors.probabilities(query: q, key: k, scale: 0.5)
        #expect(p.shape == [1, 2, 6, 5])
        expectClose(p.sum(dims: [-1]), Tensor.ones([1, 2, 6]), tolerance: 1e-6, "rows sum to one")
        let out = AttentionProcessors.apply(p, to: v)
        expectClose(out, F.scaledDotProductAttention(query: q, key: k, value: v, scale: 0.5), tolerance: 1e-6, "vs sdpa")

        let pb = AttentionProcessors.probabilities(query: q.to(.bfloat16), key: k.to(.bfloat16), scale: 0.5, upcast: true)
        #expect(pb.dtype == .bfloat16)
        expectClose(pb, p, tolerance: 1e-2, "bf16 upcast")
    }

    @Test func vaeAttentionGoesThroughItsProcessor() throws {
        let vae = try AutoencoderKL.load(from: fixtureURL("vae"))
        let recorder = RecordingProcessor()
        vae.attentionProcessor = recorder
        let ref = try fixtureTensors("vae/reference.safetensors")
        withNoGrad {
            expectClose(vae.encode(ref["image"]!).mean, ref["mean"]!, "mean")
            expectClose(vae.decode(ref["latents"]!), ref["decoded"]!, "decoded")
        }
        #expect(recorder.calls.map(\.layerName) == ["encoder.mid_block.attentions.0", "decoder.mid_block.attentions.0"])
        #expect(recorder.calls.allSatisfy { $0.heads == 1 && !$0.isCrossAttention && $0.queryHeight == 16 })
    }
}
