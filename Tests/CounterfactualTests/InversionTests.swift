import Diffusion
import Foundation
import Testing
import Torch
@testable import Counterfactual

/// DDIM and null-text inversion against the notebook's own NullInversion (scripts/make_inversion_fixtures.py runs its
/// ddim_loop and null_optimization).
@Suite struct InversionTests {
    /// The stand-in for a UNet that scripts/make_inversion_fixtures.py uses.
    let predict: NoisePredictor = { x, t, context in
        (x * 0.5 + context.mean() * 0.3).tanh() + Double(t) / 2000
    }

    func stepper(_ steps: Int) throws -> DDIMStepper { try stableDiffusionStepper(steps) }

    @Test func ddimAndNullTextInversionMatchTheReference() throws {
        let f = try fixture("inversion.safetensors")
        let s = try stepper(5)
        #expect(s.timesteps == f["timesteps"]!.toArray(Int64.self).map(Int.init))
        let trajectory = Inverter.ddimTrajectory(z0: f["z0"]!, condition: f["cond"]!, stepper: s, predict: predict)
        #expect(trajectory.count == 6)
        #expect(relativeError(Tensor.cat(trajectory), f["trajectory"]!) < 1e-5)

        let (embeddings, losses) = Inverter.nullText(trajectory: trajectory, condition: f["cond"]!, unconditional: f["uncond"]!,
                                                     stepper: s, guidance: 7.5, predict: predict)
        #expect(relativeError(Tensor.cat(embeddings), f["null_embeddings"]!) < 1e-4)
        let reference = f["losses"]!.toArray(Float.self)
        for (a, b) in zip(losses, reference) { #expect(abs(a - Double(b)) / Double(b) < 1e-3) }
    }

    /// The reference stops a step's optimisation once the loss is below ε + i·2e-5: with ε = 0.45 the first step
    /// stops after 5 of its 10 iterations, and every later one depends on where it stopped.
    @Test func nullTextStopsEarlyWhereTheReferenceDoes() throws {
        let f = try fixture("inversion.safetensors")
        let s = try stepper(5)
        let trajectory = Inverter.ddimTrajectory(z0: f["z0"]!, condition: f["cond"]!, stepper: s, predict: predict)
        final class Calls: @unchecked Sendable { var count = 0 }
        let calls = Calls()
        var perStep: [Int] = []
        let (embeddings, losses) = Inverter.nullText(
            trajectory: trajectory, condition: f["cond"]!, unconditional: f["uncond"]!, stepper: s, guidance: 7.5,
            epsilon: 0.45, predict: { calls.count += 1; return predict($0, $1, $2) },
            progress: { _, _ in perStep.append(calls.count - (perStep.isEmpty ? 0 : perStep.reduce(0, +))) })
        // A step calls the model once for the conditional prediction, once per iteration, once for the guided step.
        #expect(perStep.map { $0 - 2 } == f["early.inner_steps"]!.toArray(Int64.self).map(Int.init))
        #expect(relativeError(Tensor.cat(embeddings), f["early.null_embeddings"]!) < 1e-4)
        let reference = f["early.losses"]!.toArray(Float.self)
        for (a, b) in zip(losses, reference) { #expect(abs(a - Double(b)) / Double(b) < 1e-3) }
    }

    /// The notebook's path on the tiny Stable Diffusion of Tests/DiffusionTests/Fixtures/pipeline-tiny: its prompt
    /// embeddings, image2latent, ddim_loop and null_optimization, through Prism's UNet (gradients included).
    @Test func nullTextInversionOfTheTinyModelMatchesTheReference() throws {
        let f = try fixture("inversion.safetensors")
        let tiny = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("DiffusionTests/Fixtures/pipeline-tiny")
        let model = try StableDiffusionEditingModel.load(from: tiny, dtype: .float32)
        let s = try model.stepper(steps: 5)
        #expect(s.timesteps == f["tiny.timesteps"]!.toArray(Int64.self).map(Int.init))
        let context = withNoGrad { model.textEmbeddings(["Chest X-ray of a 70-year-old female with cardiomegaly", ""]) }
        #expect(relativeError(context[0].unsqueeze(0), f["tiny.cond"]!) < 1e-5)
        #expect(relativeError(context[1].unsqueeze(0), f["tiny.uncond"]!) < 1e-5)
        // image2latent: uint8 pixels to [-1, 1], the VAE's posterior mean, × 0.18215.
        let pixels = (f["tiny.image"]!.to(.float32) / 127.5 - 1).permute(2, 0, 1).unsqueeze(0)
        let reference = f["tiny.trajectory"]!
        #expect(relativeError(withNoGrad { model.encode(pixels) }, reference[0].unsqueeze(0)) < 1e-5)

        let trajectory = Inverter.ddimTrajectory(z0: reference[0].unsqueeze(0), condition: f["tiny.cond"]!, stepper: s,
                                                 predict: model.predict)
        #expect(relativeError(Tensor.cat(trajectory), reference) < 1e-5)
        let (embeddings, losses) = Inverter.nullText(trajectory: trajectory, condition: f["tiny.cond"]!,
                                                     unconditional: f["tiny.uncond"]!, stepper: s, guidance: 7.5,
                                                     predict: model.predict)
        #expect(relativeError(Tensor.cat(embeddings), f["tiny.null_embeddings"]!) < 1e-4)
        for (a, b) in zip(losses, f["tiny.losses"]!.toArray(Float.self)) { #expect(abs(a - Double(b)) / Double(b) < 1e-3) }
    }

    @Test func theInverseStepUndoesTheStepForAFixedPrediction() throws {
        let s = try stepper(10)
        let x = Tensor.randn([1, 4, 3, 3], generator: Generator(seed: 1))
        let eps = Tensor.randn([1, 4, 3, 3], generator: Generator(seed: 2))
        let t = s.timesteps[3]
        let down = s.previous(eps, timestep: t, sample: x)
        let up = s.next(eps, timestep: t, sample: down)
        #expect(relativeError(up, x) < 1e-5)
    }

    @Test func cacheRoundTripsAndKeysOnEverything() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("prism-cache-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let cache = InversionCache(folder: folder)
        let image = Tensor.rand([1, 3, 8, 8], generator: Generator(seed: 4))
        let key = InversionCache.key(image: image, modelIdentity: "m", settings: ["steps": "50", "method": "null-text"])
        #expect(key == InversionCache.key(image: image.clone(), modelIdentity: "m", settings: ["method": "null-text", "steps": "50"]))
        #expect(key != InversionCache.key(image: image, modelIdentity: "m2", settings: ["steps": "50", "method": "null-text"]))
        #expect(key != InversionCache.key(image: image, modelIdentity: "m", settings: ["steps": "51", "method": "null-text"]))
        #expect(key != InversionCache.key(image: image + 1e-3, modelIdentity: "m", settings: ["steps": "50", "method": "null-text"]))
        #expect(cache.load(key, method: .nullText) == nil)

        let result = InversionResult(method: .nullText, trajectory: (0..<3).map { Tensor.full([1, 4, 2, 2], Double($0)) },
                                     nullEmbeddings: [Tensor.ones([1, 77, 8]), Tensor.zeros([1, 77, 8])], losses: [0.5, 0.25])
        try cache.save(result, key: key, metadata: ["prompt": "x"])
        let back = try #require(cache.load(key, method: .nullText))
        #expect(back.trajectory.count == 3 && back.zT.floats() == Array(repeating: 2, count: 16))
        #expect(back.nullEmbeddings?.count == 2 && back.nullEmbeddings?[0].shape == [1, 77, 8])
        #expect(back.losses == [0.5, 0.25])
    }
}

/// DDIM steps with Stable Diffusion 1.x's schedule (what prompt-to-prompt's notebooks use).
func stableDiffusionStepper(_ steps: Int) throws -> DDIMStepper {
    var c = DDIMScheduler.Configuration()
    c.betaStart = 0.00085
    c.betaEnd = 0.012
    c.betaSchedule = .scaledLinear
    c.clipSample = false
    c.setAlphaToOne = false
    c.stepsOffset = 1
    return try DDIMStepper(scheduler: DDIMScheduler(configuration: c), steps: steps)
}
