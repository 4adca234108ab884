import Foundation
import Testing
@testable import Tokenizer

/// The real CLIP vocabulary lives in the shared data folder beside the repository (not committed here):
/// PRISM_SHARED, else `../shared` next to the repository root, else /work/shared.
func clipVocabularyFolder(filePath: String = #filePath) -> URL {
    let root = URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    var candidates: [URL] = []
    if let shared = ProcessInfo.processInfo.environment["PRISM_SHARED"], !shared.isEmpty {
        candidates.append(URL(fileURLWithPath: shared))
    }
    candidates += [root.deletingLastPathComponent().appendingPathComponent("shared"), URL(fileURLWithPath: "/work/shared")]
    let folders = candidates.map { $0.appendingPathComponent("data/clip-vocab") }
    return folders.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("vocab.json").path) } ?? folders[0]
}

func fixtureURL(_ name: String) -> URL {
    Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name)
}

/// A Stable Diffusion style tokenizer folder: the shared vocabulary with one of the fixture configurations.
/// The caller removes it.
func makeTokenizerFolder(config: String?) throws -> URL {
    let fm = FileManager.default
    let folder = fm.temporaryDirectory.appendingPathComponent("prism-tokenizer-\(UUID().uuidString)")
    try fm.createDirectory(at: folder, withIntermediateDirectories: true)
    do {
        for name in ["vocab.json", "merges.txt"] {
            try fm.copyItem(at: clipVocabularyFolder().appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        if let config {
            for name in ["tokenizer_config.json", "special_tokens_map.json"]
            where fm.fileExists(atPath: fixtureURL(config).appendingPathComponent(name).path) {
                try fm.copyItem(at: fixtureURL(config).appendingPathComponent(name), to: folder.appendingPathComponent(name))
            }
        }
    } catch {
        try? fm.removeItem(at: folder)
        throw error
    }
    return folder
}

/// A tokenizer read from a `makeTokenizerFolder(config:)`; the tokenizer reads its files at once, so the folder goes
/// straight after.
func loadTokenizer(config: String?) throws -> CLIPTokenizer {
    let folder = try makeTokenizerFolder(config: config)
    defer { try? FileManager.default.removeItem(at: folder) }
    return try CLIPTokenizer(folder: folder)
}

enum Tokenizers {
    static let sd1 = Result { try loadTokenizer(config: "sd1") }
    static let sd2 = Result { try loadTokenizer(config: "sd2") }
    static let added = Result { try loadTokenizer(config: "added") }
}

struct ReferenceCase: Decodable {
    struct Ids: Decodable {
        let ids: [Int]
        let padded: [Int]
        let truncated: Bool
    }
    struct Unpadded: Decodable { let ids: [Int] }
    let text: String
    let sd1: Ids
    let sd2: Ids
    /// Only for texts that write out special tokens.
    let added: Unpadded?
    /// transformers 5 on the sd1 tokenizer as its save_pretrained writes it (Fixtures/transformers5).
    let saved: Ids
}

struct ReferenceFile: Decodable {
    let transformers: String
    let cases: [ReferenceCase]

    static let shared = Result { try JSONDecoder().decode(ReferenceFile.self, from: Data(contentsOf: fixtureURL("clip_tokenizer.json"))) }
}

/// The texts on which `tokenizer` gives other ids than transformers did (`pick` chooses the configuration), padded
/// to 77 and not, as "text: ids vs expected" lines.
func differences(_ tokenizer: CLIPTokenizer, _ pick: (ReferenceCase) -> ReferenceCase.Ids, _ reference: ReferenceFile) -> [String] {
    var failures: [String] = []
    for c in reference.cases {
        let expected = pick(c)
        let full = tokenizer.encode(c.text, maxLength: 100_000, padding: false)
        let padded = tokenizer.encode(c.text)
        if full.ids != expected.ids || padded.ids != expected.padded || padded.truncated != expected.truncated
            || full.truncated || padded.fullLength != expected.ids.count {
            failures.append("\(c.text.debugDescription): \(full.ids) vs \(expected.ids)")
        }
    }
    return failures
}

@Suite struct CLIPTokenizerTests {
    let reference: ReferenceFile

    init() throws {
        reference = try ReferenceFile.shared.get()
    }

    func check(_ tokenizer: CLIPTokenizer, _ pick: (ReferenceCase) -> ReferenceCase.Ids, _ label: String) {
        let failures = differences(tokenizer, pick, reference)
        #expect(failures.count == 0, "\(label): \(failures.count) of \(reference.cases.count) differ:\n\(failures.prefix(10).joined(separator: "\n"))")
    }

    @Test func matchesTransformersWithTheStableDiffusion1Config() throws {
        #expect(reference.cases.count >= 200)
        check(try Tokenizers.sd1.get(), \.sd1, "sd1")
    }

    @Test func matchesTransformersWithTheStableDiffusion2Config() throws {
        check(try Tokenizers.sd2.get(), \.sd2, "sd2")
    }

    @Test func addedTokensDecoderDecidesHowSpecialTokensAreMatched() throws {
        let tokenizer = try Tokenizers.added.get()
        let cases = reference.cases.compactMap { c in c.added.map { (c.text, $0.ids) } }
        #expect(cases.count >= 10)
        for (text, ids) in cases {
            #expect(tokenizer.encode(text, padding: false).ids == ids, "\(text.debugDescription)")
        }
        #expect(tokenizer.specialTokens.allSatisfy(\.normalized) && tokenizer.padTokenID == 49407)
    }

    @Test func padTokenAndLengthComeFromTheConfig() throws {
        let sd1 = try Tokenizers.sd1.get(), sd2 = try Tokenizers.sd2.get()
        #expect(sd1.padTokenID == 49407 && sd2.padTokenID == 0)
        #expect(sd1.modelMaxLength == 77 && sd2.modelMaxLength == 77)
        #expect(sd1.bosTokenID == 49406 && sd1.eosTokenID == 49407)
        // Without configuration files: end-of-text padding and CLIP's 77 tokens.
        let bare = try loadTokenizer(config: nil)
        #expect(bare.padTokenID == 49407 && bare.modelMaxLength == 77)
        let cat = bare.encode("a photo of a cat")
        #expect(Array(cat.ids.prefix(8)) == [49406, 320, 1125, 539, 320, 2368, 49407, 49407])
        #expect(cat.ids.count == 77 && !cat.truncated && cat.fullLength == 7)
    }

    @Test func truncationKeepsTheEndTokenAndIsReported() throws {
        let tokenizer = try Tokenizers.sd1.get()
        let long = tokenizer.encode(String(repeating: "lung ", count: 100))
        #expect(long.truncated && long.ids.count == 77 && long.ids.last == 49407 && long.fullLength == 102)
        let short = tokenizer.encode("lung", maxLength: 5)
        #expect(short.ids == [49406, tokenizer.tokenize("lung")[0], 49407, 49407, 49407] && !short.truncated)
        let exact = tokenizer.encode(String(repeating: "lung ", count: 75))
        #expect(!exact.truncated && exact.ids.count == 77)
        #expect(tokenizer.encode(String(repeating: "lung ", count: 76)).truncated)
        #expect(tokenizer.encode("lung", padding: false).ids.count == 3)
    }

    @Test func decodeGivesTheNormalizedText() throws {
        let tokenizer = try Tokenizers.sd1.get()
        let text = "Chest X-ray of a 73-year-old female, it's 3.5cm: café"
        #expect(tokenizer.decode(tokenizer.encode(text).ids) == "chest x - ray of a 7 3 - year - old female , it 's 3 . 5 cm : café")
    }

    @Test func missingFilesAreNamed() throws {
        let missing = URL(fileURLWithPath: "/nonexistent/tokenizer")
        let e1 = #expect(throws: TokenizerError.self) { try CLIPTokenizer(folder: missing) }
        #expect(e1?.path == missing.path)

        let folder = try makeTokenizerFolder(config: nil)
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.removeItem(at: folder.appendingPathComponent("merges.txt"))
        let e2 = #expect(throws: TokenizerError.self) { try CLIPTokenizer(folder: folder) }
        #expect(e2?.path.hasSuffix("merges.txt") == true && e2?.problem.hasPrefix("missing") == true)

        try Data("not json".utf8).write(to: folder.appendingPathComponent("vocab.json"))
        let e3 = #expect(throws: TokenizerError.self) { try CLIPTokenizer(folder: folder) }
        #expect(e3?.path.hasSuffix("vocab.json") == true)
    }

    @Test func unknownPadTokenIsAnError() throws {
        let folder = try makeTokenizerFolder(config: nil)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data(#"{"pad_token": "<pad-not-in-vocab>"}"#.utf8).write(to: folder.appendingPathComponent("special_tokens_map.json"))
        let error = #expect(throws: TokenizerError.self) { try CLIPTokenizer(folder: folder) }
        #expect(error?.problem.contains("<pad-not-in-vocab>") == true)
    }
}
