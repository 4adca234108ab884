import Foundation
import NN
import Testing
import Torch
@testable import Diffusion

/// Tiny random-weight text encoders from transformers (scripts/make_text_encoder_fixtures.py): `sd1` is saved in
/// the transformers 4.x layout Stable Diffusion checkpoints use (quick_gelu, 3 layers), `sd2` in transformers 5's
/// (gelu, 2 layers).
@Suite struct CLIPTextModelParityTests {
    static let variants = ["sd1", "sd2"]

    func reference(_ variant: String) throws -> [String: Tensor] {
        try fixtureTensors("text_encoder-\(variant)/reference.safetensors")
    }

    @Test(arguments: variants) func lastHiddenStateMatchesTransformersInFloat32(_ variant: String) throws {
        let model = try CLIPTextModel.load(from: fixtureURL("text_encoder-\(variant)"))
        let ref = try reference(variant)
        let ids = ref["input_ids"]!
        withNoGrad {
            let out = model(ids)
            expectClose(out, ref["last_hidden_state"]!, "\(variant) last_hidden_state")
            expectClose(model(ids, clipSkip: 1), ref["clip_skip_1"]!, "\(variant) clip_skip=1")
            expectClose(model.pooledOutput(out, inputIDs: ids), ref["pooler_output"]!, "\(variant) pooler_output")
            // The causal mask: changing a later token leaves earlier positions alone.
            var changed = ids.ints()
            changed[20] = (changed[20] + 1) % model.config.vocabSize
            let other = model(Tensor(ints: changed, shape: ids.shape))
            #expect(relativeError(other.slice(dim: 1, start: 0, end: 20), out.slice(dim: 1, start: 0, end: 20)) == 0)
            #expect(relativeError(other.slice(dim: 1, start: 20, end: 21), out.slice(dim: 1, start: 20, end: 21)) > 1e-3)
            #expect(out.floats().allSatisfy { $0.isFinite })
        }
    }

    @Test(arguments: variants) func runsInBFloat16(_ variant: String) throws {
        let model = try CLIPTextModel.load(from: fixtureURL("text_encoder-\(variant)"), dtype: .bfloat16)
        #expect(model.textModel.encoder.layers[0].selfAttn.qProj.weight.dtype == .bfloat16)
        let ref = try reference(variant)
        withNoGrad {
            let out = model(ref["input_ids"]!)
            #expect(out.dtype == .bfloat16)
            expectClose(out, ref["last_hidden_state"]!, tolerance: 2e-2, "\(variant) bf16 last_hidden_state")
        }
    }

    @Test func configDecodesTransformersFieldsWithDefaults() throws {
        let config = try DiffusersFolder.config(CLIPTextConfig.self, in: fixtureURL("text_encoder-sd2"))
        #expect(config.hiddenSize == 48 && config.intermediateSize == 96 && config.numAttentionHeads == 3)
        #expect(config.numHiddenLayers == 2 && config.hiddenAct == "gelu" && config.vocabSize == 1000)
        #expect(config.maxPositionEmbeddings == 77 && config.layerNormEps == 1e-5 && config.eosTokenId == 999)

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("prism-clip-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data(#"{"hidden_size": 768, "num_attention_heads": 12}"#.utf8).write(to: folder.appendingPathComponent("config.json"))
        let defaults = try DiffusersFolder.config(CLIPTextConfig.self, in: folder)
        #expect(defaults.vocabSize == 49408 && defaults.numHiddenLayers == 12 && defaults.hiddenAct == "quick_gelu")
        #expect(defaults.intermediateSize == 2048 && defaults.maxPositionEmbeddings == 77)

        try Data(#"{"hidden_act": "swiglu"}"#.utf8).write(to: folder.appendingPathComponent("config.json"))
        let error = #expect(throws: ModelFolderError.self) { try DiffusersFolder.config(CLIPTextConfig.self, in: folder) }
        #expect(error?.problem.contains("swiglu") == true)
    }

    @Test func parameterNamesAreTransformersKeys() {
        var config = CLIPTextConfig()
        config.vocabSize = 10; config.hiddenSize = 8; config.intermediateSize = 16
        config.numHiddenLayers = 1; config.numAttentionHeads = 2
        let names = Set(CLIPTextModel(config).store.names)
        for key in ["text_model.embeddings.token_embedding.weight", "text_model.embeddings.position_embedding.weight",
                    "text_model.encoder.layers.0.self_attn.q_proj.weight", "text_model.encoder.layers.0.self_attn.out_proj.bias",
                    "text_model.encoder.layers.0.layer_norm1.weight", "text_model.encoder.layers.0.mlp.fc2.bias",
                    "text_model.final_layer_norm.weight"] {
            #expect(names.contains(key), "\(key)")
        }
        #expect(names.count == 2 + 16 + 2)
    }

    @Test func loadingIsStrictAndNamesTheFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("prism-clip-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: fixtureURL("text_encoder-sd2/config.json"), to: folder.appendingPathComponent("config.json"))
        var tensors = try fixtureTensors("text_encoder-sd2/model.safetensors")
        tensors["final_layer_norm.bias"] = nil
        tensors["encoder.layers.9.mlp.fc1.weight"] = Tensor.zeros([2])
        try Safetensors.save(tensors.map { (name: $0.key, tensor: $0.value) }, to: folder.appendingPathComponent("model.safetensors"))
        let error = #expect(throws: StateDictError.self) { try CLIPTextModel.load(from: folder) }
        #expect(error?.source.hasSuffix("model.safetensors") == true)
        #expect(error?.missing == ["text_model.final_layer_norm.bias"])
        #expect(error?.unexpected == ["text_model.encoder.layers.9.mlp.fc1.weight"])

        let empty = folder.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        #expect(throws: ModelFolderError.self) { try CLIPTextModel.load(from: empty) }
    }
}
