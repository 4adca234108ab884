import Diffusion
import Foundation
import NN
import Testing
import Torch
@testable import DiffusionTraining
import Training

/// The small diffusers-written models of the Diffusion tests.
func diffusionFixture(_ name: String) -> URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("DiffusionTests/Fixtures").appendingPathComponent(name)
}

@Suite struct UNetTrainingTests {
    func task(_ options: UNetTrainingTask.Options) throws -> UNetTrainingTask {
        let unetFolder = diffusionFixture("unet-sd1")
        let unet = try UNet2DConditionModel.load(from: unetFolder)
        let textEncoder = try CLIPTextModel.load(from: diffusionFixture("text_encoder-sd1"))
        var c = DDPMScheduler.Configuration()
        c.betaSchedule = .scaledLinear
        c.betaStart = 0.00085
        c.betaEnd = 0.012
        return UNetTrainingTask(unet: unet, textEncoder: textEncoder, schedule: DDPMScheduler(configuration: c).schedule,
                                emptyPromptIDs: [0, 1] + Array(repeating: 2, count: 5), options: options)
    }

    static let data: [CaptionedLatents] = (0..<4).map { i in
        let g = Generator(seed: UInt64(i))
        return CaptionedLatents(latents: Tensor.randn([4, 16, 16], generator: g).floats(), shape: [4, 16, 16],
                                tokenIDs: [0] + (0..<5).map { 10 + i * 7 + $0 } + [1])
    }

    /// The whole tiny data set as one batch, `steps` steps, a checkpoint at the last.
    static func settings(learningRate: Double, steps: Int) -> TrainingSettings {
        var settings = TrainingSettings()
        settings.batchSize = 4
        settings.learningRate = learningRate
        settings.totalSteps = steps
        settings.checkpointEvery = steps
        settings.seed = 3
        return settings
    }

    /// A 25-step run of the tiny UNet; its task and its per-step losses.
    func train(_ prediction: UNetTrainingTask.Prediction, learningRate: Double, output: URL) throws
        -> (task: UNetTrainingTask, losses: [Double]) {
        var options = UNetTrainingTask.Options()
        options.prediction = prediction
        options.snrGamma = 5
        options.noiseOffset = 0.05
        let t = try task(options)
        let trainer = Trainer(task: t, settings: Self.settings(learningRate: learningRate, steps: 25), output: output,
                              dataCount: Self.data.count) { Self.data[$0] }
        var losses: [Double] = []
        try trainer.run(report: { losses.append($0.loss) })
        return (t, losses)
    }

    @Test(arguments: [UNetTrainingTask.Prediction.epsilon, .v])
    func lossFallsOnATinyModel(_ prediction: UNetTrainingTask.Prediction) throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("prism-unet-train-\(UUID().uuidString)")
        let still = FileManager.default.temporaryDirectory.appendingPathComponent("prism-unet-still-\(UUID().uuidString)")
        defer { for u in [out, still] { try? FileManager.default.removeItem(at: u) } }
        let (t, losses) = try train(prediction, learningRate: 2e-3, output: out)
        // The same run with the learning rate at 0 draws the same timesteps and noise, so its losses are the yardstick:
        // a loss that falls only because later steps drew easier timesteps (it does, for v) does not pass.
        let (_, untrained) = try train(prediction, learningRate: 0, output: still)
        let late = losses.suffix(5).reduce(0, +), baseline = untrained.suffix(5).reduce(0, +)
        print("tiny UNet, \(prediction): last five losses \(late / 5) trained, \(baseline / 5) untrained")
        // Measured: 0.43 (ε) and 0.79 (v) of the untrained run's.
        #expect(late < 0.9 * baseline, "trained \(losses), untrained \(untrained)")

        // The checkpoint holds a diffusers unet folder that loads back to the same weights.
        let saved = try UNet2DConditionModel.load(from: out.appendingPathComponent("checkpoints/checkpoint-000025/model/unet"))
        for name in ["conv_in.weight", "up_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight"] {
            #expect(saved.store[name]!.floats() == t.unet.store[name]!.floats())
        }
    }
}
