import Foundation
import Testing
import Tokenizer
import Torch
@testable import Diffusion

/// The tiny Stable Diffusion of scripts/make_pipeline_fixtures.py against diffusers' runs on it.
@Suite("StableDiffusionPipeline parity")
struct PipelineParityTests {
    static let folder = fixtureURL("pipeline-tiny")
    static let prompt = "Chest X-ray, small left pleural effusion; heart size normal (age 73)."
    static let negative = "blurry, low contrast"
    static let seed: UInt64 = 1234

    func reference() throws -> [String: Tensor] { try fixtureTensors("pipeline-tiny/reference.safetensors") }

    /// A pipeline whose text side is the fixture's and whose UNet and VAE are stand-ins that only report shapes:
    /// enough for prompt encoding and noise.
    func textOnlyPipeline() throws -> StableDiffusionPipeline {
        let root = Self.folder
        return StableDiffusionPipeline(
            tokenizer: try CLIPTokenizer(folder: root.appendingPathComponent("tokenizer")),
            textEncoder: try CLIPTextModel.load(from: root.appendingPathComponent("text_encoder")),
            unet: ShapeOnlyDenoiser(), vae: ShapeOnlyAutoencoder(),
            schedulerConfig: try SchedulerConfig.load(from: root.appendingPathComponent("scheduler")))
    }

    @Test func modelIndexListsTheComponents() throws {
        let index = try ModelIndex.load(from: Self.folder)
        #expect(index.className == "StableDiffusionPipeline")
        #expect(index.components["unet"] == .init(library: "diffusers", className: "UNet2DConditionModel"))
        #expect(index.components["tokenizer"]?.className == "CLIPTokenizer")
        #expect(index.components["safety_checker"]?.isPresent == false)
        #expect(try StableDiffusionFolder(Self.folder).index == index)
    }

    @Test func promptEmbeddingsMatchDiffusers() throws {
        let pipeline = try textOnlyPipeline()
        let ref = try reference()
        let embeddings = pipeline.promptEmbeddings(prompt: Self.prompt, negativePrompt: Self.negative)
        let parts = embeddings.chunk(2, dim: 0)
        expectClose(parts[1], ref["prompt_embeds"]!, tolerance: 1e-4, "prompt")
        expectClose(parts[0], ref["negative_prompt_embeds"]!, tolerance: 1e-4, "negative prompt")
        let unconditional = pipeline.promptEmbeddings(prompt: Self.prompt, numImagesPerPrompt: 2)
        #expect(unconditional.shape == [4, 77, 8])
        expectClose(unconditional.slice(dim: 0, start: 1, end: 2), ref["empty_prompt_embeds"]!, tolerance: 1e-4, "\"\"")
        expectClose(unconditional.slice(dim: 0, start: 3, end: 4), ref["prompt_embeds"]!, tolerance: 1e-4, "repeated prompt")
        #expect(pipeline.promptEmbeddings(prompt: Self.prompt, guidance: false).shape == [1, 77, 8])
    }

    @Test func seededNoiseIsTorchs() throws {
        let pipeline = try textOnlyPipeline()
        let noise = pipeline.initialNoise(pipeline.latentShape(batch: 2, height: 64, width: 64),
                                          generator: Generator(seed: Self.seed))
        let expected = try reference()["seed_noise"]!
        #expect(noise.shape == expected.shape)
        #expect(noise.floats() == expected.floats())
    }

    @Test func img2imgTimestepsFollowStrength() {
        let ts = [751, 501, 251, 1]
        #expect(StableDiffusionPipeline.img2imgTimesteps(ts, steps: 4, strength: 0.5) == [251, 1])
        #expect(StableDiffusionPipeline.img2imgTimesteps(ts, steps: 4, strength: 1) == ts)
        #expect(StableDiffusionPipeline.img2imgTimesteps(ts, steps: 4, strength: 0.2).isEmpty)
    }

    @Test func missingComponentsAreNamed() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("prism-incomplete-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        // No model_index.json at all.
        #expect { try StableDiffusionFolder(root) } throws: { "\($0)".contains("model_index.json") }

        // Copy the fixture without vae/ and without the UNet's weights.
        let fm = FileManager.default
        for name in ["model_index.json", "text_encoder", "tokenizer", "scheduler", "unet"] {
            try fm.copyItem(at: Self.folder.appendingPathComponent(name), to: root.appendingPathComponent(name))
        }
        try fm.removeItem(at: root.appendingPathComponent("unet/diffusion_pytorch_model.fp16.safetensors"))
        #expect { try StableDiffusionFolder(root) } throws: { error in
            let text = "\(error)"
            return text.contains("vae/ is missing") && text.contains("unet/: no weight file")
                && !text.contains("text_encoder") && !text.contains("tokenizer")
        }
        #expect(StableDiffusionFolder.missingFiles(in: Self.folder).isEmpty)
        // Asking for a variant that is not there names the file looked for.
        #expect(StableDiffusionFolder.missingFiles(in: Self.folder, variant: "bf16").contains {
            $0.contains("unet/") && $0.contains("diffusion_pytorch_model.bf16.safetensors")
        })
    }

    @Test func latentsFilesRoundTrip() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("prism-latents-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        let latents = Tensor.randn([2, 4, 8, 8], generator: Generator(seed: 3))
        try LatentsFile.write(latents, to: url)
        #expect(try LatentsFile.read(url).floats() == latents.floats())
        try Safetensors.save([("noise", latents)], to: url)
        #expect { try LatentsFile.read(url) } throws: { "\($0)".contains("no tensor named \"latents\"") }
    }
}

/// Stand-ins with the fixture's shapes (4 latent channels, 8 × 8 latents, downscale 8) for tests of the text side.
final class ShapeOnlyDenoiser: PipelineDenoiser {
    var latentChannels: Int { 4 }
    var sampleSize: Int { 8 }
    var crossAttentionDim: Int { 8 }
    func predictNoise(_ sample: Tensor, timestep: Tensor, encoderHiddenStates: Tensor) -> Tensor { sample.zerosLike() }
}

final class ShapeOnlyAutoencoder: PipelineAutoencoder {
    var scalingFactor: Double { 0.18215 }
    var downscaleFactor: Int { 8 }
    var latentChannels: Int { 4 }
    func encodeSample(_ images: Tensor, generator: Generator?) -> Tensor {
        Tensor.zeros([images.size(0), 4, images.size(2) / 8, images.size(3) / 8])
    }
    func decodeLatents(_ latents: Tensor) -> Tensor {
        Tensor.zeros([latents.size(0), 3, latents.size(2) * 8, latents.size(3) * 8])
    }
}
