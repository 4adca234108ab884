// Writing a tokenizer folder that every reader takes the same way: Prism (either form), transformers 4 and 5,
// and the tokenizers library on its own.
import Core
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension CLIPTokenizer {
    /// Writes this tokenizer into `folder` (made if missing) in both forms: `tokenizer.json` for transformers 5 and
    /// the tokenizers library, `vocab.json` + `merges.txt` for older readers, and `tokenizer_config.json` +
    /// `special_tokens_map.json` for the special tokens and the context length. All five describe the same special
    /// tokens, so that whichever form a reader prefers it gets the same ids; stale copies in the folder are
    /// replaced.
    ///
    /// Each file is written under a temporary name in the folder and renamed into place, so a reader never sees a
    /// half-written file; the folder as a whole is not replaced at once (save into a `StagedFolder` for that).
    public func save(to folder: URL) throws {
        // Everything is encoded before anything is written: an encoding failure leaves the folder as it was.
        let files: [(name: String, data: Data)] = try [
            ("vocab.json", encode(as: "vocab.json", in: folder) { try Self.largeFileEncoder(pretty: false).encode(vocabulary) }),
            ("merges.txt", Data(mergesText().utf8)),
            ("tokenizer_config.json", encode(as: "tokenizer_config.json", in: folder) { try JSONFile.encode(tokenizerConfigObject()) }),
            ("special_tokens_map.json", encode(as: "special_tokens_map.json", in: folder) { try JSONFile.encode(specialTokensMapObject()) }),
            ("tokenizer.json", encode(as: "tokenizer.json", in: folder) { try Self.largeFileEncoder(pretty: true).encode(tokenizerJSONDocument()) }),
        ]
        try Self.makeFolder(folder)
        for file in files { try Self.writeAtomically(file.data, to: folder.appendingPathComponent(file.name)) }
    }

    /// The encoder of the two files that hold the vocabulary. Not `JSONFile.encode`, whose sorting of 49,408 keys
    /// through JSONSerialization takes seconds on Linux; these files hold no non-finite numbers for it to keep.
    static func largeFileEncoder(pretty: Bool) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// The merges in rank order, as the BPE table holds them (a merge listed twice in the source appears once).
    func orderedMerges() -> [(String, String)] {
        merges.sorted { $0.value.rank < $1.value.rank }.map { key, _ in
            (tokens[Int(key >> 32)]!, tokens[Int(key & 0xFFFF_FFFF)]!)
        }
    }

    /// merges.txt with its `#version` header: transformers' former Python CLIPTokenizer skips the first line
    /// unread, so a file without it would lose its first merge there.
    func mergesText() -> String {
        "#version: 0.2\n" + orderedMerges().map { "\($0) \($1)\n" }.joined()
    }

    /// The special token of each role (every role's token is one).
    var roleTokens: [String: SpecialToken] {
        func token(_ id: Int) -> SpecialToken {
            specialTokens.first { $0.id == id } ?? SpecialToken(content: tokens[id] ?? "", id: id, normalized: false)
        }
        return ["bos_token": token(bosTokenID), "eos_token": token(eosTokenID), "pad_token": token(padTokenID),
                "unk_token": token(unkTokenID)]
    }

    /// A special token as transformers' token object, without its id. All are marked special: Prism keeps no other
    /// kind, and the flag changes only what decoding skips.
    func tokenObject(_ token: SpecialToken) -> [String: JSONValue] {
        ["content": .string(token.content), "lstrip": false, "normalized": .bool(token.normalized), "rstrip": false,
         "single_word": false, "special": true]
    }

    /// tokenizer_config.json: the one read, less the paths transformers drops when saving, with the special tokens
    /// and the length this tokenizer uses. `added_tokens_decoder` carries whether each is matched before or after
    /// normalization: with it present, transformers (≥ 4.34) reads no flags from the other files, so they cannot
    /// disagree with it there.
    func tokenizerConfigObject() -> [String: Any] {
        var config = sourceConfig ?? ["tokenizer_class": "CLIPTokenizer", "do_lower_case": true, "errors": "replace",
                                      "add_prefix_space": false, "clean_up_tokenization_spaces": true]
        for key in ["name_or_path", "special_tokens_map_file", "tokenizer_file", "vocab_file", "merges_file"] {
            config[key] = nil
        }
        for (role, token) in roleTokens { config[role] = token.content }
        config["model_max_length"] = modelMaxLength
        config["added_tokens_decoder"] = Dictionary(uniqueKeysWithValues: specialTokens.map {
            (String($0.id), JSONValue.object(tokenObject($0)).foundation)
        })
        return config
    }

    /// special_tokens_map.json, for readers older than added_tokens_decoder (and Prism, which reads it over
    /// tokenizer_config.json): each role as a token object with the same normalization flag.
    func specialTokensMapObject() -> [String: Any] {
        roleTokens.mapValues { JSONValue.object(tokenObject($0)).foundation }
    }

    /// tokenizer.json as transformers' CLIPTokenizer writes it, but with the merges as "a b" strings: the form every
    /// tokenizers version reads (pairs need 0.20), unambiguous for CLIP, whose symbols never hold a space.
    func tokenizerJSONDocument() -> TokenizerJSONDocument {
        var model = CLIPStep.bpeModel.value
        if case .object(var settings) = model {
            settings["unk_token"] = .string(roleTokens["unk_token"]!.content)
            model = .object(settings)
        }
        let addedTokens = specialTokens.sorted { $0.id < $1.id }.map { token in
            JSONValue.object(tokenObject(token).merging(["id": .number(Double(token.id))]) { old, _ in old })
        }
        let roles = roleTokens
        let fields: [String: JSONValue] = [
            "version": "1.0",
            "truncation": nil,
            "padding": nil,
            "added_tokens": .array(addedTokens),
            "normalizer": CLIPStep.normalizer.value,
            "pre_tokenizer": CLIPStep.preTokenizer.value,
            "post_processor": ["type": "RobertaProcessing", "trim_offsets": false, "add_prefix_space": false,
                               "sep": [.string(roles["eos_token"]!.content), .number(Double(eosTokenID))],
                               "cls": [.string(roles["bos_token"]!.content), .number(Double(bosTokenID))]],
            "decoder": ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true],
        ]
        return TokenizerJSONDocument(fields: fields, modelSettings: model, vocabulary: vocabulary,
                                     merges: orderedMerges().map { "\($0) \($1)" })
    }

    func encode(as name: String, in folder: URL, _ body: () throws -> Data) throws -> Data {
        do { return try body() } catch {
            throw TokenizerError(folder.appendingPathComponent(name).path, "cannot be encoded as JSON (\(error))")
        }
    }

    // MARK: Files

    static func makeFolder(_ folder: URL) throws {
        do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            let reason = FileSystemError(error)?.reason ?? "\(error)"
            throw TokenizerError(folder.path, "cannot create the folder (\(reason))")
        }
    }

    /// One file of the folder, whole or not at all (`AtomicFile`); a failure is a TokenizerError naming the file.
    static func writeAtomically(_ data: Data, to url: URL) throws {
        do { try AtomicFile.write(data, to: url, durability: .synced) } catch let error as FileSystemError {
            throw TokenizerError(error.path, error.reason)
        }
    }
}

/// tokenizer.json for `JSONEncoder`: the small parts as JSON values, the model's vocabulary and merges as they are.
struct TokenizerJSONDocument: Encodable {
    let fields: [String: JSONValue]
    /// The model's settings, without vocabulary and merges.
    let modelSettings: JSONValue
    let vocabulary: [String: Int]
    let merges: [String]

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: AnyKey.self)
        for (key, value) in fields { try c.encode(value, forKey: AnyKey(key)) }
        var model = c.nestedContainer(keyedBy: AnyKey.self, forKey: AnyKey("model"))
        if case .object(let settings) = modelSettings {
            for (key, value) in settings { try model.encode(value, forKey: AnyKey(key)) }
        }
        try model.encode(vocabulary, forKey: AnyKey("vocab"))
        try model.encode(merges, forKey: AnyKey("merges"))
    }
}
