import Datasets
import Diffusion
import Foundation
import Imaging
import NN
import Testing
import Tokenizer
import Torch
@testable import DiffusionTraining
import Training

@Suite struct AttentionGroundingTests {
    static func tokenizer() throws -> CLIPTokenizer {
        try CLIPTokenizer(folder: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("configs/default-model/tokenizer"))
    }

    /// A one-hot mask of `side`² cells, 1 at `cell`.
    static func mask(side: Int, cells: [Int]) -> [Float] {
        var m = [Float](repeating: 0, count: side * side)
        for c in cells { m[c] = 1 }
        return m
    }

    @Test func eachFindingsWordsGetTheirStructureAndAbsentOnesNothing() throws {
        let tok = try Self.tokenizer()
        let caption = "Chest X-ray of an 81-year-old female with moderate cardiomegaly, a small left pleural effusion and "
            + "support devices (a pacemaker), without nasogastric tube"
        let heart = Self.mask(side: 4, cells: [5]), effusion = Self.mask(side: 4, cells: [12, 13])
        let pacemaker = Self.mask(side: 4, cells: [2]), tube = Self.mask(side: 4, cells: [1])
        let found = GroundingVocabulary.chestXRay.tokenMasks(
            caption: caption, tokenizer: tok,
            masks: ["heart": heart, "effusion": effusion, "pacemaker": pacemaker, "nasogastric_tube": tube, "lungs": heart],
            maxLength: 77)
        let ids = tok.encode(caption).ids
        func words(_ mask: [Float]) -> String {
            tok.decode(found.filter { $0.mask == mask }.map { ids[$0.token] }).trimmingCharacters(in: .whitespaces)
        }
        #expect(words(heart) == "moderate cardiomegaly")
        #expect(words(effusion) == "small left pleural effusion")
        // "support devices" is the union of the device masks given; each device's name is its own.
        #expect(words(zip(pacemaker, tube).map { max($0, $1) }) == "support devices")
        #expect(words(pacemaker) == "pacemaker")
        // The tube the caption says is absent is not grounded, though its mask was given.
        #expect(words(tube).isEmpty)
        #expect(found.allSatisfy { $0.token > 0 && $0.token < 76 })
    }

    @Test func aPhraseWithoutAMaskIsNotGroundedAndDevicesUnite() throws {
        let tok = try Self.tokenizer()
        let a = Self.mask(side: 2, cells: [0]), b = Self.mask(side: 2, cells: [3])
        let found = GroundingVocabulary.chestXRay.tokenMasks(
            caption: "Chest X-ray of a male with cardiomegaly and support devices", tokenizer: tok,
            masks: ["pacemaker": a, "central_venous_catheter": b], maxLength: 77)
        // No heart mask: "cardiomegaly" is left out; "support" and "devices" get both devices.
        #expect(found.count == 2)
        #expect(found.allSatisfy { $0.mask == [1, 0, 0, 1] })
    }

    @Test func tokenLossIsZeroInsideAndTheMissedShareSquaredOutside() {
        // One sample, a 2×2 query grid, 3 tokens. Token 1 attends only to cell 0, its mask; token 2 attends evenly to
        // all four cells, and its mask is one of them: (1 − 1/4)².
        let probabilities = Tensor([0.5, 1.0, 0.25, 0.5, 0, 0.25, 0.5, 0, 0.25, 0.5, 0, 0.25] as [Float], shape: [1, 4, 3])
        var masks = [Float](repeating: 0, count: 3 * 4)
        masks[1 * 4 + 0] = 1
        masks[2 * 4 + 3] = 1
        let maskTensor = Tensor(masks, shape: [1, 3, 2, 2])
        let both = AttentionGrounding.tokenLoss(maps: [(probabilities, 2, 2)], masks: maskTensor,
                                                weights: Tensor([0, 1, 1] as [Float], shape: [1, 3])).item()
        #expect(abs(both - 0.5625 / 2) < 1e-6)
        let inside = AttentionGrounding.tokenLoss(maps: [(probabilities, 2, 2)], masks: maskTensor,
                                                  weights: Tensor([0, 1, 0] as [Float], shape: [1, 3])).item()
        #expect(abs(inside) < 1e-6)
        // The share inside: 1 for token 1, the mask's area (1/4) for token 2.
        let share = AttentionGrounding.insideShare(maps: [(probabilities, 2, 2)], masks: maskTensor,
                                                   weights: Tensor([0, 1, 1] as [Float], shape: [1, 3]))
        #expect(abs(share - 1.25 / 2) < 1e-6)
        // A layer coarser than the masks sees a cell as inside when any of its finer cells is: token 2's mask, one
        // cell of a 4×4 grid, covers the whole of a 1×1 layer.
        var fine = [Float](repeating: 0, count: 3 * 16)
        fine[2 * 16 + 5] = 1
        let coarse = AttentionGrounding.tokenLoss(maps: [(Tensor([0.2, 0.3, 0.5] as [Float], shape: [1, 1, 3]), 1, 1)],
                                                  masks: Tensor(fine, shape: [1, 3, 4, 4]),
                                                  weights: Tensor([0, 0, 1] as [Float], shape: [1, 3])).item()
        #expect(abs(coarse) < 1e-6)
    }

    @Test func coverageIsZeroOnlyForAttentionSpreadEvenlyOverTheMask() {
        // A 2×2 grid, one token (index 1) whose mask is cells 0 and 1.
        var masks = [Float](repeating: 0, count: 2 * 4)
        masks[4 + 0] = 1
        masks[4 + 1] = 1
        let maskTensor = Tensor(masks, shape: [1, 2, 2, 2]), weights = Tensor([0, 1] as [Float], shape: [1, 2])
        func coverage(_ attention: [Float]) -> Double {
            let p = Tensor(attention.flatMap { [1 - $0, $0] }, shape: [1, 4, 2])  // token 0 takes the rest
            return AttentionGrounding.coverageLoss(maps: [(p, 2, 2)], masks: maskTensor, weights: weights).item()
        }
        #expect(abs(coverage([0.5, 0.5, 0, 0])) < 1e-5)
        // All inside but uneven: ½ log(½ / ¾) + ½ log(½ / ¼).
        #expect(abs(coverage([0.75, 0.25, 0, 0]) - 0.143841) < 1e-5)
        // The token loss cannot tell these apart; the overlap of the mask with the cells at ≥ 0.3 of the peak can.
        let even = Tensor([0.5, 0.5, 0.5, 0.5, 1, 0, 1, 0] as [Float], shape: [1, 4, 2])
        let one = Tensor([0, 1, 1, 0, 1, 0, 1, 0] as [Float], shape: [1, 4, 2])
        for p in [even, one] {
            #expect(abs(AttentionGrounding.tokenLoss(maps: [(p, 2, 2)], masks: maskTensor, weights: weights).item()) < 1e-6)
        }
        #expect(abs(AttentionGrounding.maskOverlap(maps: [(even, 2, 2)], masks: maskTensor, weights: weights) - 1) < 1e-6)
        #expect(abs(AttentionGrounding.maskOverlap(maps: [(one, 2, 2)], masks: maskTensor, weights: weights) - 0.5) < 1e-6)
    }

    @Test func aDroppedCaptionIsNotGrounded() {
        let m = [TokenMask(token: 2, mask: [1, 0, 0, 0])]
        let (masks, weights) = AttentionGrounding.denseMasks([m, m], grounded: [true, false], length: 4, side: 2)
        #expect(weights.floats() == [0, 0, 1, 0, 0, 0, 0, 0])
        #expect(masks.shape == [2, 4, 2, 2])
        #expect(masks.floats().reduce(0, +) == 1)
    }

    @Test func masksAreReducedSoThinStructuresKeepTheirCells() throws {
        var pixels = [UInt16](repeating: 0, count: 8 * 8)
        pixels[1 * 8 + 6] = 255  // one pixel in the top-right 4×4 block
        let cells = try GroundingMasks.cells(Image(width: 8, height: 8, channels: 1, samples: pixels), side: 2, name: "/m.png")
        #expect(cells == [0, 1, 0, 0])
        #expect(throws: TrainingRunError.self) {
            try GroundingMasks.cells(Image(width: 6, height: 6, channels: 1, samples: [UInt16](repeating: 0, count: 36)),
                                     side: 4, name: "/m.png")
        }
    }

    /// The grounding term of a task's UNet on `data` at one fixed noise level.
    func groundingTerm(_ task: UNetTrainingTask, _ data: [CaptionedLatents]) -> Double {
        withNoGrad {
            let b = data.count
            let latents = Tensor(data.flatMap(\.latents), shape: [b] + data[0].shape)
            let ids = Tensor(ints: data.flatMap(\.tokenIDs), shape: [b, data[0].tokenIDs.count])
            let recorder = CrossAttentionRecorder()
            let previous = task.unet.attentionProcessor
            task.unet.attentionProcessor = recorder
            _ = task.unet(latents, timestep: Tensor(ints: Array(repeating: 300, count: b), shape: [b]),
                          encoderHiddenStates: task.textEncoder(ids))
            task.unet.attentionProcessor = previous
            let (masks, weights) = AttentionGrounding.denseMasks(data.map(\.tokenMasks), grounded: Array(repeating: true, count: b),
                                                                  length: data[0].tokenIDs.count, side: data[0].shape[1])
            return AttentionGrounding.tokenLoss(maps: recorder.maps, masks: masks, weights: weights).item()
        }
    }

    @Test func trainingWithGroundingPullsTheWordsAttentionIntoTheirMasks() throws {
        // Two words, each grounded in its own half of the 16×16 latent grid (left, bottom).
        let left = (0..<256).map { Float($0 % 16 < 8 ? 1 : 0) }, bottom = (0..<256).map { Float($0 / 16 >= 8 ? 1 : 0) }
        let data: [CaptionedLatents] = UNetTrainingTests.data.map {
            var d = $0
            d.tokenMasks = [TokenMask(token: 2, mask: left), TokenMask(token: 4, mask: bottom)]
            return d
        }
        func trained(learningRate: Double) throws -> UNetTrainingTask {
            let out = FileManager.default.temporaryDirectory.appendingPathComponent("prism-ground-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: out) }
            var options = UNetTrainingTask.Options()
            options.trainTextEncoder = true
            options.captionDropout = 0
            options.groundingWeight = 1
            let task = try UNetTrainingTests().task(options)
            try Trainer(task: task, settings: UNetTrainingTests.settings(learningRate: learningRate, steps: 20), output: out,
                        dataCount: data.count) { data[$0] }.run()
            return task
        }
        let before = groundingTerm(try trained(learningRate: 0), data)
        let after = groundingTerm(try trained(learningRate: 2e-3), data)
        print("grounding term of the tiny UNet: \(before) untrained, \(after) after 20 steps")
        #expect(after < 0.7 * before, "before \(before), after \(after)")
    }
}
