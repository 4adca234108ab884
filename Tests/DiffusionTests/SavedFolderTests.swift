import Foundation
import Testing
import Tokenizer
import Torch
@testable import Diffusion

/// A Stable Diffusion folder as diffusers 0.42 + transformers 5 save it today (scripts/make_saved_folder_fixtures.py):
/// `tokenizer/tokenizer.json` without vocab.json and merges.txt, a DPM-Solver++ scheduler config holding
/// `"lambda_min_clipped": -Infinity`, fp16 weights under the plain names.
@Suite("A folder saved by diffusers 0.42 and transformers 5")
struct SavedFolderTests {
    static let folder = fixtureURL("saved-diffusers-0.42")
    static let prompt = "Chest X-ray, small left pleural effusion; heart size normal (age 73)."

    func reference() throws -> [String: Tensor] { try fixtureTensors("saved-diffusers-0.42/reference.safetensors") }

    @Test func theFolderIsAsSavedToday() throws {
        let tokenizer = Self.folder.appendingPathComponent("tokenizer")
        let fm = FileManager.default
        #expect(fm.fileExists(atPath: tokenizer.appendingPathComponent("tokenizer.json").path))
        #expect(!fm.fileExists(atPath: tokenizer.appendingPathComponent("vocab.json").path))
        let scheduler = try SchedulerConfig.load(from: Self.folder.appendingPathComponent("scheduler"))
        #expect(scheduler.className == "DPMSolverMultistepScheduler" && scheduler.lambdaMinClipped == -.infinity)
    }

    @Test func tokenizerGivesTransformersIDs() throws {
        let tokenizer = try CLIPTokenizer(folder: Self.folder.appendingPathComponent("tokenizer"))
        let want = try reference()["prompt_ids"]!.toArray(Int64.self).map(Int.init)
        #expect(tokenizer.encode(Self.prompt, maxLength: 77).ids == want)
    }

    /// Loaded as `prism generate` loads it, with the folder's own scheduler (DPM-Solver++), 5 guided steps.
    @Test func generationMatchesDiffusers() throws {
        let pipeline = try StableDiffusionPipeline.load(from: Self.folder, dtype: .float32)
        #expect(pipeline.configuredSchedulerKind == .dpmpp)
        var request = GenerationRequest(prompt: Self.prompt)
        request.steps = 5
        request.guidanceScale = 7.5
        request.latents = try reference()["input_latents"]!
        let result = try pipeline(request, decode: false)
        let err = relativeError(result.latents, try reference()["txt2img_latents"]!)
        print("saved diffusers 0.42 folder: DPM-Solver++ latents relative error \(err)")
        #expect(err < PipelineParityTests.fp32Tolerance, "5 DPM-Solver++ steps: relative error \(err)")
    }
}
