import Foundation
import Testing
@testable import Tokenizer

/// The tokenizer folder transformers 5 saved from the sd1 configuration (scripts/make_tokenizer_fixtures.py):
/// tokenizer.json and tokenizer_config.json, no vocab.json or merges.txt.
let transformers5Folder = fixtureURL("transformers5")

enum SavedByTransformers {
    static let tokenizer = Result { try CLIPTokenizer(folder: transformers5Folder) }
    static let data = Result { try Data(contentsOf: transformers5Folder.appendingPathComponent("tokenizer.json")) }

    /// The fixture's tokenizer.json as Foundation values, to make variants of.
    static func document() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: data.get()) as! [String: Any]
    }
}

/// A new empty folder under the temporary directory; the caller removes it.
func temporaryFolder() throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("prism-tokenizer-json-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder
}

/// Compact, as the larger variants load faster so (the JSON reader's scan of every character outside strings is
/// slow in debug builds).
func writeJSON(_ object: Any, to url: URL) throws {
    try JSONSerialization.data(withJSONObject: object).write(to: url)
}

/// `object` with the value at a dotted path ("model.merges.3") replaced, or removed when `value` is nil.
func replacing(_ path: String, with value: Any?, in object: Any) -> Any {
    let keys = path.split(separator: ".").map(String.init)
    func replace(_ keys: ArraySlice<String>, _ object: Any?) -> Any? {
        guard let key = keys.first else { return value }
        if var list = object as? [Any], let index = Int(key) {
            list[index] = replace(keys.dropFirst(), list[index]) ?? NSNull()
            return list
        }
        var fields = object as? [String: Any] ?? [:]
        fields[key] = replace(keys.dropFirst(), fields[key])
        return fields
    }
    return replace(keys[...], object)!
}

/// A small tokenizer of CLIP's shape made from transformers' own tokenizer.json: every byte symbol (ids 0-255,
/// ending a word 256-511), the two special tokens (512, 513) and two merges, c+a and ca+t</w>. So "a cat" gives
/// [512, 256 + a, 515, 513] here, where CLIP's vocabulary gives [49406, 320, 2368, 49407].
enum SmallTokenizer {
    static let merges = [("c", "a"), ("ca", "t</w>")]

    static var vocabulary: [String: Int] {
        var vocabulary: [String: Int] = [:]
        for (i, c) in CLIPTokenizer.byteCharacters.enumerated() {
            vocabulary[String(c)] = i
            vocabulary[String(c) + "</w>"] = 256 + i
        }
        vocabulary["<|startoftext|>"] = 512
        vocabulary["<|endoftext|>"] = 513
        vocabulary["ca"] = 514
        vocabulary["cat</w>"] = 515
        return vocabulary
    }

    /// The fixture's tokenizer.json with this vocabulary, no merges and its added tokens renumbered, as JSON text
    /// (the whole fixture takes a while to parse).
    static let skeleton = Result {
        var document = try SavedByTransformers.document()
        document = replacing("model.vocab", with: vocabulary, in: document) as! [String: Any]
        document = replacing("model.merges", with: [Any](), in: document) as! [String: Any]
        document = replacing("added_tokens.0.id", with: 512, in: document) as! [String: Any]
        document = replacing("added_tokens.1.id", with: 513, in: document) as! [String: Any]
        return try JSONSerialization.data(withJSONObject: document)
    }

    /// tokenizer.json: transformers' for CLIP but with this vocabulary and these merges.
    static func document(mergesAsPairs: Bool = true) throws -> [String: Any] {
        let document = try JSONSerialization.jsonObject(with: skeleton.get())
        let merges: [Any] = merges.map { mergesAsPairs ? [$0.0, $0.1] as Any : "\($0.0) \($0.1)" as Any }
        return replacing("model.merges", with: merges, in: document) as! [String: Any]
    }

    /// A folder with `document` as tokenizer.json (and no configuration files).
    static func folder(_ document: [String: Any]) throws -> URL {
        let folder = try temporaryFolder()
        try writeJSON(document, to: folder.appendingPathComponent("tokenizer.json"))
        return folder
    }

    /// vocab.json and merges.txt of the same tokenizer.
    static func writeVocabularyAndMerges(to folder: URL) throws {
        try writeJSON(vocabulary, to: folder.appendingPathComponent("vocab.json"))
        try Data(("#version: 0.2\n" + merges.map { "\($0.0) \($0.1)\n" }.joined()).utf8).write(to: folder.appendingPathComponent("merges.txt"))
    }
}

/// The ids of "a cat" through the small tokenizer: start, a</w>, cat</w>, end.
let smallACat = [512, 256 + CLIPTokenizer.byteCharacters.firstIndex(of: "a")!, 515, 513]

@Suite struct TokenizerJSONTests {
    let reference: ReferenceFile

    init() throws {
        reference = try ReferenceFile.shared.get()
    }

    func expectTransformersIDs(_ tokenizer: CLIPTokenizer, _ label: String) {
        let failures = differences(tokenizer, \.saved, reference)
        #expect(failures.isEmpty, "\(label): \(failures.count) of \(reference.cases.count) differ:\n\(failures.prefix(10).joined(separator: "\n"))")
    }

    // MARK: Reading

    @Test func readsTheFolderTransformers5Saves() throws {
        let fm = FileManager.default
        #expect(!fm.fileExists(atPath: transformers5Folder.appendingPathComponent("vocab.json").path))
        let merges = (try SavedByTransformers.document()["model"] as! [String: Any])["merges"] as! [Any]
        #expect(merges.count == 48894 && merges.allSatisfy { $0 is [String] }, "transformers 5 writes merges as pairs")
        let tokenizer = try SavedByTransformers.tokenizer.get()
        #expect(tokenizer.padTokenID == 49407 && tokenizer.modelMaxLength == 77 && tokenizer.vocabulary.count == 49408)
        expectTransformersIDs(tokenizer, "tokenizer.json as transformers 5 writes it")
    }

    /// The string form "a b" of tokenizers < 0.20, made from the same file as the script checked it with transformers.
    @Test func readsMergesWrittenAsStrings() throws {
        let document = try SavedByTransformers.document()
        let pairs = (document["model"] as! [String: Any])["merges"] as! [[String]]
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try writeJSON(replacing("model.merges", with: pairs.map { "\($0[0]) \($0[1])" }, in: document),
                      to: folder.appendingPathComponent("tokenizer.json"))
        try FileManager.default.copyItem(at: transformers5Folder.appendingPathComponent("tokenizer_config.json"),
                                         to: folder.appendingPathComponent("tokenizer_config.json"))
        let tokenizer = try CLIPTokenizer(folder: folder)
        #expect(tokenizer.merges.count == 48894)
        expectTransformersIDs(tokenizer, "merges as strings")
    }

    @Test func bothMergeFormsAndAMixOfThemReadTheSame() throws {
        var ids: [[Int]] = []
        for document in [try SmallTokenizer.document(mergesAsPairs: true), try SmallTokenizer.document(mergesAsPairs: false),
                         replacing("model.merges.1", with: "ca t</w>", in: try SmallTokenizer.document()) as! [String: Any]] {
            let folder = try SmallTokenizer.folder(document)
            defer { try? FileManager.default.removeItem(at: folder) }
            ids.append(try CLIPTokenizer(folder: folder).encode("a cat", padding: false).ids)
        }
        #expect(ids == [smallACat, smallACat, smallACat])
    }

    @Test func tokenizerJSONIsPreferredToVocabularyAndMerges() throws {
        let folder = try SmallTokenizer.folder(try SmallTokenizer.document())
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in ["vocab.json", "merges.txt"] {
            try FileManager.default.copyItem(at: clipVocabularyFolder().appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        #expect(try CLIPTokenizer(folder: folder).encode("a cat", padding: false).ids == smallACat)
        try FileManager.default.removeItem(at: folder.appendingPathComponent("tokenizer.json"))
        #expect(try CLIPTokenizer(folder: folder).encode("a cat", padding: false).ids == [49406, 320, 2368, 49407])
    }

    /// Without tokenizer_config.json's added_tokens_decoder, tokenizer.json's added_tokens decide whether a special
    /// token is also matched in other case (transformers 5 writes <|startoftext|> normalized, <|endoftext|> not).
    @Test func addedTokensOfTheFileSetHowSpecialTokensAreMatched() throws {
        let tokenizer = try SavedByTransformers.tokenizer.get()
        #expect(tokenizer.specialTokens.map(\.normalized) == [true, false])
        #expect(tokenizer.encode("<|STARTOFTEXT|>", padding: false).ids == [49406, 49406, 49407])
        #expect(tokenizer.encode("<|ENDOFTEXT|>", padding: false).ids.count > 3)

        let flipped = replacing("added_tokens.1.normalized", with: true, in: try SmallTokenizer.document()) as! [String: Any]
        let folder = try SmallTokenizer.folder(flipped)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(try CLIPTokenizer(folder: folder).encode("<|ENDOFTEXT|>", padding: false).ids == [512, 513, 513])
    }

    // MARK: Refusing what Prism does not implement

    @Test func refusesWhatIsNotCLIPsTokenizerNamingTheField() throws {
        // Each change to a CLIP tokenizer.json, and the start of the problem it must be refused with.
        let refusals: [(path: String, value: Any?, problem: String)] = [
        ("model.type", "WordPiece", #"model.type: "WordPiece" where CLIP's tokenizer has "BPE""#),
        ("model.type", nil, "model.type: missing where CLIP's tokenizer has \"BPE\""),
        ("model.end_of_word_suffix", "", #"model.end_of_word_suffix: "" where CLIP's has "</w>""#),
        ("model.dropout", 0.1, "model.dropout: 0.1 where CLIP's has null (or no such field)"),
        ("model.ignore_merges", true, "model.ignore_merges: true where CLIP's has false (or no such field)"),
        ("model.cache_capacity", 10, "model.cache_capacity: a field CLIP's has not (10)"),
        ("normalizer", NSNull(), "normalizer: missing or null; Prism implements only CLIP's normaliser"),
        ("normalizer.normalizers.0.type", "NFKC", #"normalizer.normalizers.0.type: "NFKC" where CLIP's has "NFC""#),
        ("normalizer.normalizers", [["type": "NFC"], ["type": "Lowercase"]], "normalizer.normalizers: 2 entries where CLIP's has 3"),
        ("normalizer.normalizers.1.pattern.Regex", " +", #"normalizer.normalizers.1.pattern.Regex: " +" where CLIP's has "\\s+""#),
        ("pre_tokenizer.pretokenizers.1.add_prefix_space", true, "pre_tokenizer.pretokenizers.1.add_prefix_space: true where CLIP's has false"),
        ("pre_tokenizer.pretokenizers.1.use_regex", false, "pre_tokenizer.pretokenizers.1.use_regex: false where CLIP's has true (or no such field)"),
        ("pre_tokenizer.pretokenizers.0.invert", false, "pre_tokenizer.pretokenizers.0.invert: false where CLIP's has true"),
        ("pre_tokenizer.type", "ByteLevel", #"pre_tokenizer.type: "ByteLevel" where CLIP's has "Sequence""#),
        ("model.merges.1", 12, #"model.merges.1: expected "a b" or ["a", "b"], found 12"#),
        ("model.merges.1", "ca t </w>", #"model.merges.1: expected "a b" or ["a", "b"], found "ca t </w>""#),
        ("model.merges.1", ["ca"], #"model.merges.1: expected "a b" or ["a", "b"], found ["ca"]"#),
        ("model.merges.1", ["ca", "x</w>y"], #"model.merges.1: the merge "ca x</w>y" uses symbols that are not in model.vocab"#),
        ("model.vocab.ca", "514", "model.vocab.ca: expected an integer"),
        ("model.vocab", nil, "model.vocab: missing"),
        ("added_tokens.0.lstrip", true, "added_tokens.0.lstrip: true; Prism matches added tokens exactly as written"),
        ("added_tokens.1.single_word", true, "added_tokens.1.single_word: true"),
        ]
        let good = try SmallTokenizer.folder(try SmallTokenizer.document())
        defer { try? FileManager.default.removeItem(at: good) }
        #expect(try CLIPTokenizer(folder: good).encode("a cat", padding: false).ids == smallACat)

        for refusal in refusals {
            let document = replacing(refusal.path, with: refusal.value, in: try SmallTokenizer.document()) as! [String: Any]
            let folder = try SmallTokenizer.folder(document)
            defer { try? FileManager.default.removeItem(at: folder) }
            let file = folder.appendingPathComponent("tokenizer.json").path
            do {
                _ = try CLIPTokenizer(folder: folder)
                Issue.record("\(refusal.path) = \(String(describing: refusal.value)) was accepted")
            } catch let error as TokenizerError {
                #expect(error.path == file && error.problem.hasPrefix(refusal.problem), "\(refusal.path): \(error)")
            }
        }
    }

    /// Values that change nothing in CLIP's ids, or that older files leave out, are accepted.
    @Test func acceptsWhatDoesNotChangeTheIDs() throws {
        let variants: [(String, Any?)] = [
            ("pre_tokenizer.pretokenizers.1.use_regex", nil), ("pre_tokenizer.pretokenizers.1.trim_offsets", false),
            ("model.ignore_merges", nil), ("model.byte_fallback", nil), ("model.dropout", nil),
            ("model.continuing_subword_prefix", NSNull()), ("model.fuse_unk", true), ("model.unk_token", NSNull()),
            ("post_processor", NSNull()), ("decoder", NSNull()), ("added_tokens", nil),
        ]
        for (path, value) in variants {
            let folder = try SmallTokenizer.folder(replacing(path, with: value, in: try SmallTokenizer.document()) as! [String: Any])
            defer { try? FileManager.default.removeItem(at: folder) }
            #expect(try CLIPTokenizer(folder: folder).encode("a cat", padding: false).ids == smallACat, "\(path)")
        }
    }

    @Test func otherProblemsNameTheFileOrTheFolder() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let empty = #expect(throws: TokenizerError.self) { try CLIPTokenizer(folder: folder) }
        #expect(empty?.path == folder.path)
        #expect(empty?.problem.contains("a tokenizer folder holds tokenizer.json, or vocab.json and merges.txt") == true)

        try Data("{\"model\": ".utf8).write(to: folder.appendingPathComponent("tokenizer.json"))
        let broken = #expect(throws: TokenizerError.self) { try CLIPTokenizer(folder: folder) }
        #expect(broken?.path == folder.appendingPathComponent("tokenizer.json").path && broken?.problem.hasPrefix("not valid JSON") == true)

        try writeJSON(["version": "1.0"], to: folder.appendingPathComponent("tokenizer.json"))
        let bare = #expect(throws: TokenizerError.self) { try CLIPTokenizer(folder: folder) }
        #expect(bare?.problem.hasPrefix("normalizer: missing or null") == true, "\(String(describing: bare))")
    }

    // MARK: Saving

    /// transformers 5's tokenizer saved by Prism reads back with transformers' ids from either form, and the
    /// folder holds nothing else (no temporary files).
    @Test func savedFolderGivesTheSameIDsFromEitherForm() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try SavedByTransformers.tokenizer.get().save(to: folder)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(names == ["merges.txt", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json", "vocab.json"])

        expectTransformersIDs(try CLIPTokenizer(folder: folder), "saved, read from tokenizer.json")
        try FileManager.default.removeItem(at: folder.appendingPathComponent("tokenizer.json"))
        expectTransformersIDs(try CLIPTokenizer(folder: folder), "saved, read from vocab.json and merges.txt")
    }

    /// Each configuration's special tokens (which tokens, their ids, whether matched after normalization, the pad
    /// token and the length) survive a save in both forms.
    @Test(arguments: ["sd1", "sd2", "added", "transformers5", "none"])
    func savingKeepsTheSpecialTokens(_ config: String) throws {
        let source = try SmallTokenizer.folder(try SmallTokenizer.document())
        defer { try? FileManager.default.removeItem(at: source) }
        try FileManager.default.removeItem(at: source.appendingPathComponent("tokenizer.json"))
        try SmallTokenizer.writeVocabularyAndMerges(to: source)
        if config != "none" {
            for name in ["tokenizer_config.json", "special_tokens_map.json"]
            where FileManager.default.fileExists(atPath: fixtureURL(config).appendingPathComponent(name).path) {
                try FileManager.default.copyItem(at: fixtureURL(config).appendingPathComponent(name), to: source.appendingPathComponent(name))
            }
        }
        let original = try CLIPTokenizer(folder: source)
        let saved = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: saved) }
        try original.save(to: saved)

        let texts = ["a cat", "<|STARTOFTEXT|> a <|ENDOFTEXT|>", "!<|endoftext|>!", "hi!!", "x<|startoftext|>y"]
        // tokenizer.json alone, as tokenizers.Tokenizer.from_file reads it: the same tokens matched the same way.
        let alone = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: alone) }
        try FileManager.default.copyItem(at: saved.appendingPathComponent("tokenizer.json"), to: alone.appendingPathComponent("tokenizer.json"))
        let fromJSONAlone = try CLIPTokenizer(folder: alone)
        #expect(Set(fromJSONAlone.specialTokens.map { "\($0)" }) == Set(original.specialTokens.map { "\($0)" }), "\(config)")
        for text in texts {
            #expect(fromJSONAlone.tokenize(text) == original.tokenize(text), "\(config) tokenizer.json alone: \(text)")
        }

        let fromJSON = try CLIPTokenizer(folder: saved)
        try FileManager.default.removeItem(at: saved.appendingPathComponent("tokenizer.json"))
        let fromVocabulary = try CLIPTokenizer(folder: saved)
        for (label, copy) in [("tokenizer.json", fromJSON), ("vocab.json", fromVocabulary)] {
            #expect(Set(copy.specialTokens.map { "\($0)" }) == Set(original.specialTokens.map { "\($0)" }), "\(config) \(label)")
            let roles: (CLIPTokenizer) -> [Int] = { [$0.bosTokenID, $0.eosTokenID, $0.padTokenID, $0.unkTokenID, $0.modelMaxLength] }
            #expect(roles(copy) == roles(original), "\(config) \(label)")
            for text in texts {
                #expect(copy.encode(text).ids == original.encode(text).ids, "\(config) \(label): \(text)")
            }
        }
    }

    /// Saving over an older tokenizer replaces every file of it: nothing stale decides the special tokens.
    @Test func savingReplacesAnOlderTokenizer() throws {
        let sd2Source = try SmallTokenizer.folder(try SmallTokenizer.document())
        defer { try? FileManager.default.removeItem(at: sd2Source) }
        for name in ["tokenizer_config.json", "special_tokens_map.json"] {
            try FileManager.default.copyItem(at: fixtureURL("sd2").appendingPathComponent(name), to: sd2Source.appendingPathComponent(name))
        }
        let sd2 = try CLIPTokenizer(folder: sd2Source)
        let bareSource = try SmallTokenizer.folder(try SmallTokenizer.document())
        defer { try? FileManager.default.removeItem(at: bareSource) }
        let bare = try CLIPTokenizer(folder: bareSource)
        #expect(sd2.padTokenID != bare.padTokenID)

        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try sd2.save(to: folder)
        try bare.save(to: folder)
        let reread = try CLIPTokenizer(folder: folder)
        #expect(reread.padTokenID == bare.padTokenID && reread.specialTokens.count == bare.specialTokens.count)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).count == 5)
    }

    @Test func savingWhereNoFolderCanBeMadeNamesThePath() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("a-file")
        try Data().write(to: file)
        let source = try SmallTokenizer.folder(try SmallTokenizer.document())
        defer { try? FileManager.default.removeItem(at: source) }
        let tokenizer = try CLIPTokenizer(folder: source)
        let error = #expect(throws: TokenizerError.self) { try tokenizer.save(to: file.appendingPathComponent("tokenizer")) }
        #expect(error?.path == file.appendingPathComponent("tokenizer").path && error?.problem.hasPrefix("cannot create the folder") == true)
    }
}

/// Found by fuzzing: a negative id in vocab.json trapped when the merge table was keyed.
@Suite struct TokenizerIDRangeTests {
    @Test func negativeAndHugeIDsAreRefusedNamingTheToken() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tokenizer-ids-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for bad in [-1, 1 << 40] {
            try Data(#"{"a": \#(bad), "b": 1, "ab": 2}"#.utf8).write(to: folder.appendingPathComponent("vocab.json"))
            try Data("#version: 0.2\na b\n".utf8).write(to: folder.appendingPathComponent("merges.txt"))
            do {
                _ = try CLIPTokenizer(folder: folder)
                Issue.record("id \(bad) accepted")
            } catch let error as TokenizerError {
                #expect(error.description.contains("vocab.json") && error.description.contains("\"a\" is \(bad)"), "\(error)")
            }
        }
    }
}
