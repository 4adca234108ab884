import Foundation
import TestSupport
import Testing
@testable import Counterfactual
import Tokenizer

/// The reference's own tokenizations, replayed: the alignment logic is tested apart from the tokenizer.
struct RecordedTokenizer: PromptTokenizing {
    struct Entry: Decodable { let ids: [Int]; let texts: [String] }
    let prompts: [String: Entry]
    /// The fixture's tokenizer is SD 1.5's CLIP tokenizer.
    let modelMaxLength = 77
    func tokenIDs(_ text: String) -> [Int] { prompts[text]!.ids }
    func tokenText(_ id: Int) -> String {
        for e in prompts.values { if let i = e.ids.firstIndex(of: id) { return e.texts[i] } }
        fatalError("token \(id) not in the fixture")
    }
}

enum WordOrIndex: Decodable {
    case word(String), index(Int)
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let i = try? c.decode(Int.self) { self = .index(i) } else { self = .word(try c.decode(String.self)) }
    }
}

struct AlignmentFixture: Decodable {
    struct WordCase: Decodable { let text: String; let word: WordOrIndex; let indices: [Int] }
    struct ReplaceCase: Decodable { let source: String; let target: String; let nonzero: [[Double]] }
    struct RefineCase: Decodable { let source: String; let target: String; let mapper: [Int]; let alphas: [Float] }
    struct AlphaCase: Decodable {
        let prompts: [String]; let steps: Int; let `default`: [Double]; let words: [String: [Double]]; let alpha: [[[Float]]]
    }
    struct EqualizerCase: Decodable { let text: String; let words: [String]; let values: [Double]; let equalizer: [Float] }
    struct Cases: Decodable {
        let word_indices: [WordCase]; let replace: [ReplaceCase]; let refine: [RefineCase]
        let alphas: [AlphaCase]; let equalizer: [EqualizerCase]
    }
    let prompts: [String: RecordedTokenizer.Entry]
    let cases: Cases

    static func load() throws -> AlignmentFixture {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("alignment.json")
        return try JSONDecoder().decode(AlignmentFixture.self, from: Data(contentsOf: url))
    }
}

@Suite struct PromptAlignmentTests {
    let fixture: AlignmentFixture
    let tokenizer: RecordedTokenizer

    init() throws {
        fixture = try AlignmentFixture.load()
        tokenizer = RecordedTokenizer(prompts: fixture.prompts)
    }

    @Test func wordIndicesMatchTheReference() {
        #expect(fixture.cases.word_indices.count == 9)
        for c in fixture.cases.word_indices {
            let got: [Int]
            switch c.word {
            case .word(let w): got = PromptAlignment.tokenIndices(of: w, in: c.text, tokenizer)
            case .index(let i): got = PromptAlignment.tokenIndices(of: i, in: c.text, tokenizer)
            }
            #expect(got == c.indices, "\(c.text) / \(c.word)")
        }
    }

    @Test func replacementMapperMatchesTheReference() throws {
        for c in fixture.cases.replace {
            let m = try PromptAlignment.replacementMapper(source: c.source, target: c.target, tokenizer)
            var nonzero: [[Double]] = []
            for (a, row) in m.enumerated() { for (b, v) in row.enumerated() where v != 0 { nonzero.append([Double(a), Double(b), Double(v)]) } }
            #expect(nonzero == c.nonzero, "\(c.source) → \(c.target)")
        }
        #expect(throws: PromptAlignmentError.self) {
            try PromptAlignment.replacementMapper(source: "a cat", target: "a photo of a cat", tokenizer)
        }
    }

    @Test func refinementMapperMatchesTheReference() {
        for c in fixture.cases.refine {
            let (mapper, alphas) = PromptAlignment.refinementMapper(source: c.source, target: c.target, tokenizer)
            #expect(mapper == c.mapper, "\(c.source) → \(c.target)")
            #expect(alphas == c.alphas, "\(c.source) → \(c.target)")
        }
    }

    @Test func crossAttentionScheduleMatchesTheReference() {
        for c in fixture.cases.alphas {
            let words = c.words.mapValues { ($0[0], $0[1]) }
            let a = PromptAlignment.crossAttentionSchedule(prompts: c.prompts, steps: c.steps,
                                                           default: (c.default[0], c.default[1]), words: words, tokenizer)
            #expect(a == c.alpha, "\(c.prompts)")
        }
    }

    @Test func equalizerMatchesTheReference() {
        for c in fixture.cases.equalizer {
            let eq = PromptAlignment.equalizer(text: c.text, words: Array(zip(c.words, c.values)), tokenizer)
            #expect(eq == c.equalizer)
        }
    }
}

@Suite struct CLIPTokenizerAlignmentTests {
    @Test func theRealTokenizerGivesTheReferenceTokensAndTexts() throws {
        let fixture = try AlignmentFixture.load()
        let vocab = committedCLIPVocabulary
        let tokenizer = try CLIPTokenizer(vocabulary: vocab.appendingPathComponent("vocab.json"),
                                          merges: vocab.appendingPathComponent("merges.txt"))
        for (prompt, entry) in fixture.prompts {
            #expect(tokenizer.tokenIDs(prompt) == entry.ids, "\(prompt)")
            #expect(entry.ids.map(tokenizer.tokenText) == entry.texts, "\(prompt)")
        }
        let base = "Chest X-ray of a 70-year-old female with cardiomegaly and support devices"
        let expected = fixture.cases.word_indices.first { $0.text == base }!.indices
        #expect(PromptAlignment.tokenIndices(of: "cardiomegaly", in: base, tokenizer) == expected)
    }
}
