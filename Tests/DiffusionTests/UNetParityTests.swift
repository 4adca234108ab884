import Foundation
import NN
import Testing
import Torch
@testable import Diffusion

/// UNet2DConditionModel against diffusers 0.42.1 on tiny random-weight models (scripts/make_unet_vae_fixtures.py).
@Suite struct UNetParityTests {
    func run(_ unet: UNet2DConditionModel, _ ref: [String: Tensor], timesteps: Tensor) -> Tensor {
        withNoGrad {
            unet(ref["sample"]!, timestep: timesteps, encoderHiddenStates: ref["encoder_hidden_states"]!)
        }
    }

    @Test func sd1LayoutMatchesDiffusers() throws {
        let unet = try UNet2DConditionModel.load(from: fixtureURL("unet-sd1"))
        let ref = try fixtureTensors("unet-sd1/reference.safetensors")
        #expect(unet.config.blockOutChannels == [16, 32] && !unet.config.useLinearProjection)
        // Different timesteps per batch element.
        expectClose(run(unet, ref, timesteps: ref["timesteps"]!), ref["out"]!, "sd1 out")
        // A scalar timestep tensor is broadcast over the batch; so is a Double.
        expectClose(run(unet, ref, timesteps: ref["timestep_scalar"]!), ref["out_scalar_timestep"]!, "sd1 scalar t")
        let t = Double(ref["timestep_scalar"]!.itemInt())
        let viaDouble = withNoGrad {
            unet(ref["sample"]!, timestep: t, encoderHiddenStates: ref["encoder_hidden_states"]!)
        }
        expectClose(viaDouble, ref["out_scalar_timestep"]!, "sd1 Double t")
    }

    @Test func sd2LayoutMatchesDiffusers() throws {
        let unet = try UNet2DConditionModel.load(from: fixtureURL("unet-sd2"))
        let ref = try fixtureTensors("unet-sd2/reference.safetensors")
        #expect(unet.config.useLinearProjection && unet.config.upcastAttention)
        #expect(unet.config.headsPerBlock == [2, 4] && !unet.config.flipSinToCos && unet.config.freqShift == 1)
        // 15×11 input: odd sizes make the up blocks resize to the skip connections' sizes.
        #expect(ref["sample"]!.shape == [2, 4, 15, 11])
        expectClose(run(unet, ref, timesteps: ref["timesteps"]!), ref["out"]!, "sd2 out")
        expectClose(run(unet, ref, timesteps: ref["timestep_scalar"]!), ref["out_scalar_timestep"]!, "sd2 scalar t")
    }

    @Test func lessCommonConfigFieldsMatchDiffusers() throws {
        // Per-block lists, no mid block, gelu resnets, centred input, time embedding width and activations,
        // 1×1 conv_in and 5×5 conv_out.
        let unet = try UNet2DConditionModel.load(from: fixtureURL("unet-options"))
        let c = unet.config
        #expect(c.layersPerBlock == [1, 2] && c.transformerLayersPerBlock == [2, 1] && c.midBlockType == nil)
        #expect(c.actFn == .gelu && c.centerInputSample && c.timeEmbedDim == 24 && c.timeEmbeddingActFn == .mish)
        #expect(c.timestepPostAct == .silu && c.convInKernel == 1 && c.convOutKernel == 5 && c.normEps == 1e-4)
        #expect(unet.midBlock == nil)
        let ref = try fixtureTensors("unet-options/reference.safetensors")
        expectClose(run(unet, ref, timesteps: ref["timesteps"]!), ref["out"]!, "options out")
        expectClose(run(unet, ref, timesteps: ref["timestep_scalar"]!), ref["out_scalar_timestep"]!, "options scalar t")
    }

    @Test func fp16VariantLoadsIntoFloat32() throws {
        let unet = try UNet2DConditionModel.load(from: fixtureURL("unet-sd1"), variant: "fp16")
        #expect(unet.convIn.weight.dtype == .float32)
        let ref = try fixtureTensors("unet-sd1/reference.safetensors")
        expectClose(run(unet, ref, timesteps: ref["timesteps"]!), ref["out_fp16_weights"]!, "sd1 fp16 weights")
    }

    @Test func bfloat16ComputeStaysClose() throws {
        let ref = try fixtureTensors("unet-sd1/reference.safetensors")
        let unet = try UNet2DConditionModel.load(from: fixtureURL("unet-sd1"), dtype: .bfloat16)
        let out = run(unet, ref, timesteps: ref["timesteps"]!)
        #expect(out.dtype == .bfloat16)
        expectClose(out, ref["out"]!, tolerance: 3e-2, "sd1 bf16")

        let sd2 = try UNet2DConditionModel.load(from: fixtureURL("unet-sd2"), dtype: .bfloat16)
        let ref2 = try fixtureTensors("unet-sd2/reference.safetensors")
        expectClose(run(sd2, ref2, timesteps: ref2["timesteps"]!), ref2["out"]!, tolerance: 3e-2, "sd2 bf16")
    }

    @Test func gradientsReachTheEncoderStatesWithFrozenWeights() throws {
        let unet = try UNet2DConditionModel.load(from: fixtureURL("unet-sd1"))
        let ref = try fixtureTensors("unet-sd1/reference.safetensors")
        let states = ref["encoder_hidden_states"]!.clone().requiringGrad()
        let out = unet(ref["sample"]!, timestep: ref["timesteps"]!, encoderHiddenStates: states)
        (out * ref["grad_weights"]!).sum().backward()
        expectClose(try #require(states.grad), ref["grad_encoder_hidden_states"]!, "d out / d states")
        #expect(unet.convIn.weight.grad == nil && !unet.convIn.weight.requiresGrad)
    }

    @Test func parameterNamesAreDiffusersKeys() throws {
        let unet = UNet2DConditionModel(config: try DiffusersFolder.config(UNet2DConditionConfig.self, in: fixtureURL("unet-sd1")))
        let names = Set(unet.store.names)
        for key in ["conv_in.weight", "time_embedding.linear_1.weight", "mid_block.resnets.0.norm1.weight",
                    "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight",
                    "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_out.0.bias",
                    "down_blocks.0.attentions.0.transformer_blocks.0.ff.net.0.proj.weight",
                    "down_blocks.0.downsamplers.0.conv.weight", "up_blocks.0.upsamplers.0.conv.weight",
                    "up_blocks.0.resnets.1.conv_shortcut.weight", "conv_norm_out.weight"] {
            #expect(names.contains(key), "\(key)")
        }
        let file = try SafetensorsFile(url: fixtureURL("unet-sd1/diffusion_pytorch_model.safetensors"))
        #expect(Set(file.tensors.map(\.name)) == names)
    }

    /// A temporary folder holding a copy of the fixture's config.json; the caller removes it.
    func copyFolder(_ name: String) throws -> URL {
        let dst = FileManager.default.temporaryDirectory.appendingPathComponent("prism-unet-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dst, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: fixtureURL(name).appendingPathComponent("config.json"),
                                         to: dst.appendingPathComponent("config.json"))
        return dst
    }

    @Test func missingOrMisshapenWeightsNameTheFileAndKeys() throws {
        let tensors = try fixtureTensors("unet-sd1/diffusion_pytorch_model.safetensors")
        let folder = try copyFolder("unet-sd1")
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("diffusion_pytorch_model.safetensors")
        var items = tensors.filter { $0.key != "mid_block.attentions.0.proj_in.weight" }.map { (name: $0.key, tensor: $0.value) }
        items = items.map { $0.name == "conv_in.weight" ? (name: $0.name, tensor: Tensor.zeros([16, 4, 1, 1])) : $0 }
        try Safetensors.save(items, to: file)
        let error = #expect(throws: StateDictError.self) { try UNet2DConditionModel.load(from: folder) }
        let text = error?.description ?? ""
        #expect(text.contains(file.path))
        #expect(text.contains("mid_block.attentions.0.proj_in.weight"))
        #expect(text.contains("conv_in.weight"))
    }

    @Test func unsupportedConfigsNameTheField() throws {
        let base = try JSONSerialization.jsonObject(
            with: Data(contentsOf: fixtureURL("unet-sd1/config.json"))) as! [String: Any]
        let cases: [(String, Any)] = [
            ("addition_embed_type", "text_time"), ("class_embed_type", "timestep"), ("num_attention_heads", 8),
            ("dual_cross_attention", true), ("only_cross_attention", true), ("resnet_time_scale_shift", "scale_shift"),
            ("down_block_types", ["AttnDownBlock2D", "DownBlock2D"]), ("time_cond_proj_dim", 256),
        ]
        for (field, value) in cases {
            var config = base
            config[field] = value
            let folder = try copyFolder("unet-sd1")
            defer { try? FileManager.default.removeItem(at: folder) }
            try JSONSerialization.data(withJSONObject: config).write(to: folder.appendingPathComponent("config.json"))
            let error = #expect(throws: ModelFolderError.self) { try UNet2DConditionModel.load(from: folder) }
            #expect(error?.description.contains(field) == true, "\(field): \(error?.description ?? "no error")")
            #expect(error?.description.contains("config.json") == true)
        }
    }

    @Test func configDefaultsAreSD15() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("prism-unet-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data(#"{"_class_name": "UNet2DConditionModel", "attention_head_dim": [5, 10, 20, 20], "mid_block_type": null}"#.utf8)
            .write(to: folder.appendingPathComponent("config.json"))
        let config = try DiffusersFolder.config(UNet2DConditionConfig.self, in: folder)
        #expect(config.blockOutChannels == [320, 640, 1280, 1280] && config.layersPerBlock == [2, 2, 2, 2])
        #expect(config.crossAttentionDim == [1280, 1280, 1280, 1280] && config.headsPerBlock == [5, 10, 20, 20])
        #expect(config.midBlockType == nil && config.flipSinToCos && config.freqShift == 0 && config.normNumGroups == 32)
    }
}
