import Diffusion
import Foundation
import Imaging
import TestSupport
import Testing
import Tokenizer
import Torch
@testable import Counterfactual

/// The real CLIP vocabulary, as committed with the tiny pipeline fixture (the same files as ../shared/data/clip-vocab).
let committedCLIPVocabulary = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("DiffusionTests/Fixtures/pipeline-tiny/tokenizer")

/// A tiny stand-in for Stable Diffusion: 8×8 average-pool "VAE", one cross-attention "layer" over the prompt.
final class ToyEditingModel: EditingModel {
    let clip: CLIPTokenizer
    let table = Tensor.randn([49408, 4], generator: Generator(seed: 9))
    var control: PromptToPromptControl?
    var calls = 0

    init() throws {
        let vocab = committedCLIPVocabulary
        clip = try CLIPTokenizer(vocabulary: vocab.appendingPathComponent("vocab.json"), merges: vocab.appendingPathComponent("merges.txt"))
    }

    var tokenizer: PromptTokenizing { clip }
    var resolution: Int { 64 }
    var identity: String { "toy" }

    func textEmbeddings(_ prompts: [String]) -> Tensor {
        Tensor.stack(prompts.map { table.indexSelect(dim: 0, index: Tensor(ints: clip.encode($0).ids)) })
    }

    func predict(_ latents: Tensor, timestep: Int, context: Tensor) -> Tensor {
        calls += 1
        let (b, c, h, w) = (latents.size(0), latents.size(1), latents.size(2), latents.size(3))
        let q = latents.flatten(start: 2).transpose(1, 2).unsqueeze(1)
        let kv = context.unsqueeze(1)
        let attended = control?.attend(query: q, key: kv, value: kv, isCross: true, queryHeight: h, queryWidth: w, upcast: false)
            ?? F.scaledDotProductAttention(query: q, key: kv, value: kv)
        let back = attended.squeeze(1).transpose(1, 2).reshape([b, c, h, w])
        return (latents * 0.5 + back).tanh()
    }

    func install(_ control: PromptToPromptControl?) { self.control = control }
    func encode(_ images: Tensor) -> Tensor { F.avgPool2d(images, kernelSize: 8).repeated([1, 2, 1, 1]).slice(dim: 1, start: 0, end: 4) }
    func decode(_ latents: Tensor) -> Tensor {
        F.interpolate(latents.slice(dim: 1, start: 0, end: 3), size: (64, 64), mode: .nearest)
    }
    func stepper(steps: Int) throws -> DDIMStepper { try stableDiffusionStepper(steps) }
    func crossAttentionResolutions(latentSize: Int) -> [Int] { [latentSize] }
}

@Suite struct EditorTests {
    let source = "Chest X-ray of a 70-year-old female with cardiomegaly and support devices"
    let target = "Chest X-ray of a 70-year-old female with cardiomegaly"

    func image() -> Plane {
        Plane(width: 64, height: 64, values: (0..<4096).map { i in Float((i % 64) + (i / 64)) / 126 })
    }

    func settings(_ method: InversionMethod, mask: MaskMode = .auto) -> EditSettings {
        var s = EditSettings()
        s.method = method
        s.steps = 6
        s.mask = mask
        s.nullTextInnerSteps = 2
        // The stand-in's attention is diffuse: a high threshold keeps its mask from covering everything.
        s.maskThreshold = 0.9
        s.feather = 0
        return s
    }

    @Test func directInversionReconstructsThroughTheVAEAndSharesOneBatch() throws {
        let model = try ToyEditingModel()
        let editor = CounterfactualEditor(model: model, cache: nil)
        let out = try editor.edit(image: image(), source: source, targets: [target, source], settings: settings(.direct))
        // The source branch is put back on the pivot, so the reconstruction is the VAE's.
        let vae = CounterfactualEditor.plane(model.decode(model.encode(CounterfactualEditor.tensor(image())))[0])
        #expect(out.reconstruction == vae)
        #expect(out.edits.count == 2)
        // 6 inversion calls + 6 editing calls, each editing call batching source and both edits.
        #expect(model.calls == 12)
        // A target equal to the source differs in no word: its mask is empty and the output is the input.
        #expect(out.edits[1].mask!.values.allSatisfy { $0 == 0 })
        #expect(out.edits[1].image == image())
        // Outside its mask an edit is the input exactly; inside, it is the model's edit.
        let edit = out.edits[0]
        let outside = image().values.indices.filter { edit.mask!.values[$0] == 0 }
        let inside = image().values.indices.filter { edit.mask!.values[$0] == 1 }
        #expect(!outside.isEmpty && !inside.isEmpty)
        #expect(outside.allSatisfy { edit.image.values[$0] == image().values[$0] })
        #expect(inside.allSatisfy { abs(edit.image.values[$0] - edit.raw.values[$0]) < 1e-6 })
        #expect(model.control == nil, "the control is removed after editing")
    }

    @Test func anyInputSizeComesBackAtThatSizeUntouchedOutsideTheMask() throws {
        let input = Plane(width: 90, height: 70, values: (0..<6300).map { Float($0 % 90) / 89 })
        let model = try ToyEditingModel()
        let out = try CounterfactualEditor(model: model, cache: nil).edit(image: input, source: source, targets: [target],
                                                                            settings: settings(.direct))
        let edit = out.edits[0]
        #expect(edit.image.width == 90 && edit.image.height == 70 && out.reconstruction.width == 90)
        let outside = input.values.indices.filter { edit.mask!.values[$0] == 0 }
        #expect(!outside.isEmpty && outside.allSatisfy { edit.image.values[$0] == input.values[$0] })
    }

    @Test func withoutAMaskTheEditIsFree() throws {
        let model = try ToyEditingModel()
        let out = try CounterfactualEditor(model: model, cache: nil).edit(image: image(), source: source, targets: [target],
                                                                            settings: settings(.ddim, mask: .none))
        #expect(out.edits[0].mask == nil)
        #expect(out.edits[0].image == out.edits[0].raw)
        #expect(out.edits[0].image != out.reconstruction)
    }

    @Test func inversionsAreCachedPerSetting() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("prism-edit-cache-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = try ToyEditingModel()
        let editor = CounterfactualEditor(model: model, cache: InversionCache(folder: folder))
        let first = try editor.edit(image: image(), source: source, targets: [target], settings: settings(.nullText))
        #expect(!first.inversionFromCache && first.nullTextLosses.count == 6)
        let again = try editor.edit(image: image(), source: source, targets: [source], settings: settings(.nullText))
        #expect(again.inversionFromCache && again.nullTextLosses == first.nullTextLosses)
        let other = try editor.edit(image: image(), source: source, targets: [target], settings: settings(.direct))
        #expect(!other.inversionFromCache)
    }

    @Test func differingTokensAreTheWordsAnEditChanges() throws {
        let model = try ToyEditingModel()
        let tokens = CounterfactualEditor.differingTokens(prompts: [source, target, source.replacingOccurrences(of: "female", with: "male")],
                                                          model.tokenizer)
        let ids = model.clip.tokenIDs(source)
        // "and" goes too, but its attention covers the whole image: the mask is made of the finding's words.
        #expect(tokens[0].source.map { model.clip.tokenText(ids[$0]) } == ["support", "devices"])
        #expect(tokens[0].target.isEmpty, "removing words adds none to the target")
        #expect(tokens[1].source.map { model.clip.tokenText(ids[$0]) } == ["female"])
        let swapped = model.clip.tokenIDs(source.replacingOccurrences(of: "female", with: "male"))
        #expect(tokens[1].target.map { model.clip.tokenText(swapped[$0]) } == ["male"])
    }

    @Test func keptTokensAreTheFindingsBothCaptionsStillName() throws {
        let model = try ToyEditingModel()
        let a = "Chest X-ray of a 70-year-old male with mild cardiomegaly and support devices (a pacemaker)"
        let b = "Chest X-ray of a 70-year-old male with support devices (a pacemaker)"
        let kept = CounterfactualEditor.keptTokens(prompts: [a, b, "A radiograph of the chest"], model.tokenizer)
        let aIDs = model.clip.tokenIDs(a), bIDs = model.clip.tokenIDs(b)
        // After "with" and without function words (the age, sex and "Chest X-ray" attend everywhere); CLIP spells
        // "pacemaker" in two tokens.
        #expect(kept[0].source.map { model.clip.tokenText(aIDs[$0]) } == ["support", "devices", "(", "pace", "maker", ")"])
        #expect(kept[0].target.map { model.clip.tokenText(bIDs[$0]) } == ["support", "devices", "(", "pace", "maker", ")"])
        #expect(kept[1].source.isEmpty && kept[1].target.isEmpty, "a caption without \"with\" names nothing to keep")
    }

    /// Where a kept word claims a place (more attention there than any changed word), the place leaves the mask.
    @Test func theMaskLeavesOutWhatAKeptWordClaims() {
        // Two prompts, 4×4 maps over 5 tokens: token 1 is changed, token 2 kept. Token 1 attends to the top half,
        // token 2 more strongly to the top-left quarter.
        var values = [Float](repeating: 0, count: 2 * 16 * 5)
        for row in 0..<2 { for y in 0..<4 { for x in 0..<4 {
            let base = ((row * 4 + y) * 4 + x) * 5
            if y < 2 { values[base + 1] = 0.4 }
            if y < 2 && x < 2 { values[base + 2] = 0.6 }
        } } }
        let maps = Tensor(values, shape: [2, 4, 4, 5])
        let plain = AttentionMask.make(maps: maps, tokens: [([1], [1])], size: (4, 4), threshold: 0.3, dilation: 0).mask
        let kept = AttentionMask.make(maps: maps, tokens: [([1], [1])], size: (4, 4), threshold: 0.3, dilation: 0,
                                      protect: [([2], [2])]).mask
        #expect(plain.floats() == [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
        #expect(kept.floats() == [0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
        // Nothing kept: the mask as it was.
        let none = AttentionMask.make(maps: maps, tokens: [([1], [1])], size: (4, 4), threshold: 0.3, dilation: 0, protect: [([], [])])
        #expect(none.mask.floats() == plain.floats())
    }

    @Test func reweightedWordsAreEditedWordsEvenWhereThePromptsAgree() throws {
        let model = try ToyEditingModel()
        let ids = model.clip.tokenIDs(source)
        let same = CounterfactualEditor.differingTokens(prompts: [source, source], model.tokenizer)
        #expect(same[0].source.isEmpty && same[0].target.isEmpty)
        let scaled = CounterfactualEditor.differingTokens(prompts: [source, source], reweighted: ["devices"], model.tokenizer)
        #expect(scaled[0].source.map { model.clip.tokenText(ids[$0]) } == ["devices"])
        #expect(scaled[0].target.map { model.clip.tokenText(ids[$0]) } == ["devices"])
        // Joined with the words a removal changes, without repeats.
        let both = CounterfactualEditor.differingTokens(prompts: [source, target], reweighted: ["devices"], model.tokenizer)
        #expect(both[0].source.map { model.clip.tokenText(ids[$0]) } == ["support", "devices"])
    }

    @Test func emphasisScalesTheContentWordsAnEditAdds() throws {
        let model = try ToyEditingModel()
        let a = "Chest X-ray of a 70-year-old male with mild cardiomegaly and support devices (a pacemaker)"
        let added = "Chest X-ray of a 70-year-old male with mild cardiomegaly, a small right pleural effusion and support devices (a pacemaker)"
        let removed = "Chest X-ray of a 70-year-old male with support devices (a pacemaker)"
        let ids = model.clip.tokenIDs(added)
        func scaled(_ eq: [Float], _ ids: [Int]) -> [String: Float] {
            Dictionary(eq.indices.filter { eq[$0] != 1 }.map { (model.clip.tokenText(ids[$0]), eq[$0]) }) { x, _ in x }
        }
        let eq = CounterfactualEditor.equalizers(prompts: [a, added, removed], emphasis: 2, reweight: [], model.tokenizer)
        #expect(eq.count == 2 && eq.allSatisfy { $0.count == model.tokenizer.modelMaxLength })
        // The added finding's words (CLIP spells "pleural effusion" in four tokens), not the "a" and "," that join
        // it; a removal adds no word.
        #expect(scaled(eq[0], ids) == ["small": 2, "right": 2, "ple": 2, "ural": 2, "ef": 2, "fusion": 2])
        #expect(eq[1].allSatisfy { $0 == 1 })
        // Emphasis 1 is prompt-to-prompt's own weighting; --reweight's scales multiply with it.
        let plain = CounterfactualEditor.equalizers(prompts: [a, added], emphasis: 1, reweight: [], model.tokenizer)
        #expect(plain[0].allSatisfy { $0 == 1 })
        let both = CounterfactualEditor.equalizers(prompts: [a, added], emphasis: 2,
                                                   reweight: [(word: "effusion", scale: 1.5), (word: "mild", scale: 0.5)],
                                                   model.tokenizer)
        #expect(scaled(both[0], ids) == ["small": 2, "right": 2, "ple": 2, "ural": 2, "ef": 3, "fusion": 3, "mild": 0.5])
    }

    @Test func emphasisChangesTheEditAndNotTheSource() throws {
        let added = source + " and pleural effusion"
        func run(_ emphasis: Double) throws -> EditOutcome {
            var s = settings(.ddim, mask: .none)
            s.emphasis = emphasis
            return try CounterfactualEditor(model: try ToyEditingModel(), cache: nil)
                .edit(image: image(), source: source, targets: [added], settings: s)
        }
        let plain = try run(1), emphasised = try run(3)
        #expect(plain.reconstruction == emphasised.reconstruction)
        let moved = zip(plain.edits[0].image.values, emphasised.edits[0].image.values).map { abs($0 - $1) }.max() ?? 0
        #expect(moved > 1e-3, "the added words' weight reaches the edited image")
    }

    @Test func functionWordsStayWhenNothingElseDiffers() throws {
        let model = try ToyEditingModel()
        let a = "Chest X-ray of a female with cardiomegaly", b = "Chest X-ray of the female with cardiomegaly"
        let tokens = CounterfactualEditor.differingTokens(prompts: [a, b], model.tokenizer)
        #expect(tokens[0].source.map { model.clip.tokenText(model.clip.tokenIDs(a)[$0]) } == ["a"])
        #expect(tokens[0].target.map { model.clip.tokenText(model.clip.tokenIDs(b)[$0]) } == ["the"])
    }
}
