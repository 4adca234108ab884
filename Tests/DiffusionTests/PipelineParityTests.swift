import Foundation
import Testing
import Tokenizer
import Torch
@testable import Diffusion

/// The tiny Stable Diffusion of scripts/make_pipeline_fixtures.py against diffusers' runs on it.
@Suite("StableDiffusionPipeline parity")
struct PipelineParityTests {
    /// The whole pipeline against diffusers, in fp32: the worst relative error measured over every run here with
    /// libtorch's default, AVX2 and native kernels is 1.6e-6 (img2img latents), so 1e-5 leaves a 6× margin and still
    /// fails on one wrong term (a missed guidance factor or scheduler step moves the latents by 1e-2 or more).
    static let fp32Tolerance = 1e-5
    /// bf16 autocast against the fp32 reference: worst measured 0.021 (4 guided steps); 0.03 is a 1.4× margin.
    static let bf16Tolerance = 3e-2

    static let folder = fixtureURL("pipeline-tiny")
    static let prompt = "Chest X-ray, small left pleural effusion; heart size normal (age 73)."
    static let negative = "blurry, low contrast"
    static let seed: UInt64 = 1234

    func reference() throws -> [String: Tensor] { try fixtureTensors("pipeline-tiny/reference.safetensors") }

    /// The fixture's tokenizer, text encoder and scheduler around the given UNet and VAE.
    static func pipeline(unet: any PipelineDenoiser, vae: any PipelineAutoencoder) throws -> StableDiffusionPipeline {
        StableDiffusionPipeline(
            tokenizer: try CLIPTokenizer(folder: folder.appendingPathComponent("tokenizer")),
            textEncoder: try CLIPTextModel.load(from: folder.appendingPathComponent("text_encoder")),
            unet: unet, vae: vae,
            schedulerConfig: try SchedulerConfig.load(from: folder.appendingPathComponent("scheduler")))
    }

    /// A pipeline whose text side is the fixture's and whose UNet and VAE are stand-ins that only report shapes:
    /// enough for prompt encoding and noise.
    func textOnlyPipeline() throws -> StableDiffusionPipeline {
        try Self.pipeline(unet: ShapeOnlyDenoiser(), vae: ShapeOnlyAutoencoder())
    }

    /// The whole fixture model as `prism generate` loads it (the fp16 variant files, computed in `dtype`).
    func fullPipeline(dtype: DType = .float32) throws -> StableDiffusionPipeline {
        try StableDiffusionPipeline.load(from: Self.folder, dtype: dtype)
    }

    func guidedRequest() throws -> GenerationRequest {
        var r = GenerationRequest(prompt: Self.prompt, negativePrompt: Self.negative)
        r.steps = 4
        r.guidanceScale = 7.5
        r.latents = try reference()["input_latents"]!  // 8 × 8 latents: the size follows them (64 × 64 pixels)
        return r
    }

    @Test func guidedDDIMGenerationMatchesDiffusers() throws {
        let result = try fullPipeline()(guidedRequest())
        let ref = try reference()
        expectClose(result.latents, ref["txt2img_latents"]!, tolerance: Self.fp32Tolerance, "4 guided DDIM steps")
        expectClose(result.images!, ref["txt2img_image"]!, tolerance: Self.fp32Tolerance, "decoded image")
    }

    @Test func img2imgMatchesDiffusers() throws {
        let ref = try reference()
        var r = GenerationRequest(prompt: Self.prompt, negativePrompt: Self.negative)
        r.steps = 4
        r.seed = Self.seed
        r.initImage = ref["init_image"]!
        r.strength = 0.5
        let result = try fullPipeline()(r)
        expectClose(result.latents, ref["img2img_latents"]!, tolerance: Self.fp32Tolerance, "img2img latents")
        expectClose(result.images!, ref["img2img_image"]!, tolerance: Self.fp32Tolerance, "img2img image")
    }

    @Test func seededBatchMatchesDiffusers() throws {
        var r = GenerationRequest(prompt: Self.prompt)
        r.steps = 4
        r.seed = Self.seed
        r.numImagesPerPrompt = 2
        let result = try fullPipeline()(r, decode: false)
        expectClose(result.latents, try reference()["seeded_latents"]!, tolerance: Self.fp32Tolerance, "seeded, 2 images")
    }

    @Test func bf16StaysNearTheFP32Reference() throws {
        let result = try fullPipeline(dtype: .bfloat16)(guidedRequest(), decode: false)
        #expect(result.latents.dtype == .bfloat16)
        expectClose(result.latents, try reference()["txt2img_latents"]!, tolerance: Self.bf16Tolerance, "bf16 run")
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
        // torch's normal sampler on this seed, sample for sample: libtorch's kernels for other CPUs round the
        // Box–Muller transform differently in the last bits (up to 1.0e-6 measured with ATEN_CPU_CAPABILITY=default);
        // a wrong sample (another seed, another order, another transform) is off by O(1).
        let worst = zip(noise.floats(), expected.floats()).map { abs($0 - $1) }.max() ?? .infinity
        print("seeded noise: within \(worst) of torch's")
        #expect(worst <= 1e-5, "seeded noise up to \(worst) from torch's")
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

/// The pipeline's own logic (guidance batching, the scheduler loop, seeds, img2img's timesteps and generator order)
/// against diffusers' pipelines run with the same closed-form stand-ins for the UNet and the VAE encoder
/// (scripts/make_pipeline_fixtures.py, `standin_unet` and `standin_encode`).
@Suite("StableDiffusionPipeline loop parity (stand-in UNet and VAE)")
struct PipelineLoopParityTests {
    func pipeline() throws -> StableDiffusionPipeline {
        try PipelineParityTests.pipeline(unet: ClosedFormDenoiser(), vae: ClosedFormAutoencoder())
    }

    func expected(_ key: String) throws -> Tensor {
        try fixtureTensors("pipeline-tiny/standin.safetensors")[key]!
    }

    func request(guidance: Double = 7.5, negative: Bool = true) -> GenerationRequest {
        var r = GenerationRequest(prompt: PipelineParityTests.prompt,
                                  negativePrompt: negative ? PipelineParityTests.negative : nil)
        r.steps = 4
        r.guidanceScale = guidance
        r.height = 64
        r.width = 64
        return r
    }

    func initImage() throws -> Tensor { try fixtureTensors("pipeline-tiny/reference.safetensors")["init_image"]! }
    func inputLatents() throws -> Tensor { try fixtureTensors("pipeline-tiny/reference.safetensors")["input_latents"]! }

    @Test func guidedFromGivenLatents() throws {
        var r = request()
        r.latents = try inputLatents()
        expectClose(try pipeline()(r, decode: false).latents, try expected("txt2img"), tolerance: 1e-5, "txt2img")
    }

    @Test func unguidedRunsOneBatch() throws {
        var r = request(guidance: 1, negative: false)
        r.latents = try inputLatents()
        expectClose(try pipeline()(r, decode: false).latents, try expected("unguided"), tolerance: 1e-5, "unguided")
    }

    @Test func seededBatchOfTwo() throws {
        var r = request(negative: false)
        r.seed = PipelineParityTests.seed
        r.numImagesPerPrompt = 2
        var steps: [Int] = []
        let result = try pipeline()(r, decode: false) { steps.append($0.step) }
        expectClose(result.latents, try expected("seeded"), tolerance: 1e-5, "seeded")
        #expect(steps == [0, 1, 2, 3, 4])
    }

    @Test func ddpmDrawsItsStepNoiseFromTheSeed() throws {
        var r = request(negative: false)
        r.seed = PipelineParityTests.seed
        let p = try pipeline()
        expectClose(try p(r, scheduler: p.makeScheduler(.ddpm), decode: false).latents, try expected("ddpm_seeded"),
                    tolerance: 1e-5, "ddpm")
    }

    @Test func img2imgEncodesThenNoises() throws {
        var r = request()
        r.seed = PipelineParityTests.seed
        r.initImage = try initImage()
        r.strength = 0.5
        var steps = 0
        expectClose(try pipeline()(r, decode: false) { steps = $0.total }.latents, try expected("img2img"),
                    tolerance: 1e-5, "img2img")
        #expect(steps == 2)

        var batch = request(negative: false)
        batch.seed = PipelineParityTests.seed
        batch.initImage = try initImage()
        batch.strength = 0.75
        batch.numImagesPerPrompt = 2
        expectClose(try pipeline()(batch, decode: false).latents, try expected("img2img_batch2"), tolerance: 1e-5,
                    "img2img, 2 images")
    }

    @Test func img2imgWithDPMSolver() throws {
        var r = request()
        r.seed = PipelineParityTests.seed
        r.initImage = try initImage()
        r.strength = 0.8
        r.steps = 5
        let p = try pipeline()
        expectClose(try p(r, scheduler: p.makeScheduler(.dpmpp), decode: false).latents, try expected("dpmpp_img2img"),
                    tolerance: 1e-5, "dpm++ img2img")
    }

    @Test func badRequestsSayWhatToChange() throws {
        let p = try pipeline()
        var r = request()
        r.height = 60
        #expect { try p(r) } throws: { "\($0)".contains("multiples of 8") }
        r = request()
        r.latents = Tensor.zeros([1, 4, 4, 4])
        #expect { try p(r) } throws: { "\($0)".contains("[1, 4, 8, 8]") }
        r = request()
        r.initImage = try initImage()
        r.strength = 0.1
        #expect { try p(r) } throws: { "\($0)".contains("leaves no step") }
    }
}

/// `standin_unet` of scripts/make_pipeline_fixtures.py.
final class ClosedFormDenoiser: PipelineDenoiser {
    var latentChannels: Int { 4 }
    var sampleSize: Int { 8 }
    var crossAttentionDim: Int { 8 }
    func predictNoise(_ sample: Tensor, timestep: Tensor, encoderHiddenStates: Tensor) -> Tensor {
        let tf = timestep.to(.float32) / 1000
        let c = encoderHiddenStates.mean(dims: [1, 2])
        return 0.5 * sample * tf.cos() + (4 * c).tanh().reshape([-1, 1, 1, 1]) + 0.1 * (3 * sample).sin()
    }
}

/// `standin_encode` of scripts/make_pipeline_fixtures.py, sampled as diffusers' DiagonalGaussianDistribution.
final class ClosedFormAutoencoder: PipelineAutoencoder {
    var scalingFactor: Double { 0.18215 }
    var downscaleFactor: Int { 8 }
    var latentChannels: Int { 4 }
    func encodeSample(_ images: Tensor, generator: Generator?) -> Tensor {
        let p = F.avgPool2d(images, kernelSize: 8)
        let mean = Tensor.cat([p, p.mean(dim: 1, keepDim: true)], dim: 1)
        let logvar = (0.5 * p.sum(dim: 1, keepDim: true) - 2).repeated([1, 4, 1, 1]).clamp(min: -30, max: 20)
        return mean + (0.5 * logvar).exp() * Tensor.randn(mean.shape, generator: generator, dtype: mean.dtype)
    }
    func decodeLatents(_ latents: Tensor) -> Tensor {
        Tensor.zeros([latents.size(0), 3, latents.size(2) * 8, latents.size(3) * 8])
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
