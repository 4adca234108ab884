import Foundation
import NN
import Testing
import Torch
@testable import Diffusion

/// AutoencoderKL against diffusers 0.42.1 on a tiny random-weight VAE (scripts/make_unet_vae_fixtures.py).
@Suite struct AutoencoderKLParityTests {
    func check(_ vae: AutoencoderKL, tolerance: Double = 1e-4, _ label: String) throws {
        let ref = try fixtureTensors("vae/reference.safetensors")
        withNoGrad {
            let posterior = vae.encode(ref["image"]!)
            expectClose(posterior.mean, ref["mean"]!, tolerance: tolerance, "\(label) mean")
            expectClose(posterior.logvar, ref["logvar"]!, tolerance: tolerance, "\(label) logvar")
            expectClose(posterior.std, ref["std"]!, tolerance: tolerance, "\(label) std")
            // torch.Generator().manual_seed(7) in diffusers' sample().
            expectClose(posterior.sample(generator: Generator(seed: 7)), ref["sample_seed_7"]!, tolerance: tolerance,
                        "\(label) sample")
            expectClose(vae.decode(ref["latents"]!), ref["decoded"]!, tolerance: tolerance, "\(label) decode")
        }
    }

    @Test func matchesDiffusers() throws {
        let vae = try AutoencoderKL.load(from: fixtureURL("vae"))
        #expect(vae.scalingFactor == 0.18215 && vae.shiftFactor == nil)
        #expect(vae.quantConv != nil && vae.postQuantConv != nil)
        try check(vae, "vae")
    }

    @Test func legacyAttentionNamesLoad() throws {
        // query/key/value/proj_attn, the encoder's as (C, C, 1, 1) conv weights.
        let file = try SafetensorsFile(url: fixtureURL("vae-legacy/diffusion_pytorch_model.safetensors"))
        #expect(file.tensors.contains { $0.name == "encoder.mid_block.attentions.0.query.weight" && $0.shape.count == 4 })
        #expect(file.tensors.contains { $0.name == "decoder.mid_block.attentions.0.proj_attn.weight" })
        try check(try AutoencoderKL.load(from: fixtureURL("vae-legacy")), "legacy")
    }

    @Test func bfloat16ComputeStaysClose() throws {
        let vae = try AutoencoderKL.load(from: fixtureURL("vae"), dtype: .bfloat16)
        #expect(vae.encoder.convIn.weight.dtype == .bfloat16)
        try check(vae, tolerance: 3e-2, "bf16")
    }

    @Test func latentScalingRoundTrips() throws {
        let vae = try AutoencoderKL.load(from: fixtureURL("vae"))
        let z = Tensor.randn([1, 4, 2, 2], generator: Generator(seed: 1))
        expectClose(vae.scaleLatents(z), z * 0.18215, "scale")
        expectClose(vae.unscaleLatents(vae.scaleLatents(z)), z, "round trip")
    }

    @Test func missingKeyNamesTheFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("prism-vae-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: fixtureURL("vae/config.json"), to: folder.appendingPathComponent("config.json"))
        let tensors = try fixtureTensors("vae/diffusion_pytorch_model.safetensors")
        let file = folder.appendingPathComponent("diffusion_pytorch_model.safetensors")
        try Safetensors.save(tensors.filter { $0.key != "quant_conv.weight" }.map { (name: $0.key, tensor: $0.value) },
                             to: file)
        let error = #expect(throws: StateDictError.self) { try AutoencoderKL.load(from: folder) }
        #expect(error?.description.contains(file.path) == true)
        #expect(error?.description.contains("quant_conv.weight") == true)
    }

    @Test func optionalQuantConvsFollowTheConfig() throws {
        var config = AutoencoderKLConfig()
        config.useQuantConv = false
        config.usePostQuantConv = false
        config.blockOutChannels = [8]
        config.normNumGroups = 4
        let vae = AutoencoderKL(config: config)
        #expect(!vae.store.names.contains { $0.contains("quant_conv") })
        let out = withNoGrad { vae.decode(vae.encode(Tensor.zeros([1, 3, 8, 8])).mode()) }
        #expect(out.shape == [1, 3, 8, 8])
    }
}
