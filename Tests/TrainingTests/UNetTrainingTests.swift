import Diffusion
import Foundation
import NN
import Testing
import Torch
@testable import Training

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
        return UNetTrainingTask(unet: unet, unetConfigJSON: try Data(contentsOf: unetFolder.appendingPathComponent("config.json")),
                                textEncoder: textEncoder, textEncoderConfigJSON: nil, schedule: DDPMScheduler(configuration: c).schedule,
                                emptyPromptIDs: [0, 1] + Array(repeating: 2, count: 5), options: options)
    }

    static let data: [CaptionedLatents] = (0..<4).map { i in
        let g = Generator(seed: UInt64(i))
        return CaptionedLatents(latents: Tensor.randn([4, 16, 16], generator: g).floats(), shape: [4, 16, 16],
                                tokenIDs: [0] + (0..<5).map { 10 + i * 7 + $0 } + [1])
    }

    @Test(arguments: [UNetTrainingTask.Prediction.epsilon, .v])
    func lossFallsOnATinyModel(_ prediction: UNetTrainingTask.Prediction) throws {
        var options = UNetTrainingTask.Options()
        options.prediction = prediction
        options.snrGamma = 5
        options.noiseOffset = 0.05
        let t = try task(options)
        var settings = TrainingSettings()
        settings.batchSize = 4
        settings.learningRate = 2e-3
        settings.totalSteps = 25
        settings.checkpointEvery = 25
        settings.seed = 3
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("prism-unet-train-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        let trainer = Trainer(task: t, settings: settings, output: out, dataCount: Self.data.count) { Self.data[$0] }
        var losses: [Double] = []
        try trainer.run(report: { losses.append($0.loss) })
        let early = losses.prefix(5).reduce(0, +), late = losses.suffix(5).reduce(0, +)
        #expect(late < early, "loss \(losses)")

        // The checkpoint holds a diffusers unet folder that loads back to the same weights.
        let saved = try UNet2DConditionModel.load(from: out.appendingPathComponent("checkpoints/checkpoint-000025/model/unet"))
        for name in ["conv_in.weight", "up_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight"] {
            #expect(saved.store[name]!.floats() == t.unet.store[name]!.floats())
        }
    }
}
