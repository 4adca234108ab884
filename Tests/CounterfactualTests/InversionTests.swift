import Diffusion
import Foundation
import Testing
import Torch
@testable import Counterfactual

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
