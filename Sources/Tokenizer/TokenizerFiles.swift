// Reading a tokenizer folder in either of its two forms: the tokenizers library's tokenizer.json (all that
// transformers 5 saves) or the older vocab.json + merges.txt; and the special-token configuration beside them.
import Core
import Foundation

extension CLIPTokenizer {
    /// Reads a Stable Diffusion `tokenizer/` folder: `tokenizer.json` when present (the file transformers 5 writes,
    /// and the one transformers prefers), else `vocab.json` and `merges.txt`; then, when present,
    /// `tokenizer_config.json` and `special_tokens_map.json` for the special tokens, the pad token and the context
    /// length.
    public convenience init(folder: URL) throws {
        try self.init(parts: try Self.readFolder(folder))
    }

    /// Reads `vocab.json` and `merges.txt`, and the special tokens of `configFolder` when given. Without
    /// configuration files the pad token is <|endoftext|> (as in Stable Diffusion 1.x) and the length 77.
    public convenience init(vocabulary vocabURL: URL, merges mergesURL: URL, configFolder: URL? = nil) throws {
        try self.init(parts: try Self.readVocabularyAndMerges(vocabURL, mergesURL, configFolder: configFolder))
    }

    /// Reads a tokenizers-library `tokenizer.json` holding CLIP's BPE tokenizer, and the special tokens of
    /// `configFolder` when given (as for `init(vocabulary:merges:configFolder:)`).
    public convenience init(tokenizerJSON url: URL, configFolder: URL? = nil) throws {
        try self.init(parts: try Self.readTokenizerJSON(url, configFolder: configFolder))
    }

    static let folderContents = "a tokenizer folder holds tokenizer.json, or vocab.json and merges.txt"

    static func readFolder(_ folder: URL) throws -> Parts {
        guard isFolder(folder) else { throw TokenizerError(folder.path, "no such folder (\(folderContents))") }
        let tokenizerJSON = folder.appendingPathComponent("tokenizer.json")
        let vocab = folder.appendingPathComponent("vocab.json"), merges = folder.appendingPathComponent("merges.txt")
        if exists(tokenizerJSON) { return try readTokenizerJSON(tokenizerJSON, configFolder: folder) }
        if exists(vocab) || exists(merges) { return try readVocabularyAndMerges(vocab, merges, configFolder: folder) }
        throw TokenizerError(folder.path, "holds neither tokenizer.json nor vocab.json and merges.txt (\(folderContents))")
    }

    // MARK: tokenizer.json

    static func readTokenizerJSON(_ url: URL, configFolder: URL?) throws -> Parts {
        guard exists(url) else { throw TokenizerError(url.path, "missing (\(folderContents))") }
        let file = try decodeJSON(TokenizerJSONFile.self, from: url)
        let vocabulary = file.model.vocabulary
        try checkIDs(vocabulary, file: url.path, key: "model.vocab")
        let merges = try mergeTable(file.model.merges, vocabulary: vocabulary) { index, merge in
            TokenizerError(url.path, "model.merges.\(index): the merge \"\(merge)\" uses symbols that are not in model.vocab")
        }
        let added = file.addedTokens.map { SpecialToken(content: $0.content, id: $0.id, normalized: $0.normalized) }
        return Parts(vocabulary: vocabulary, merges: merges, fileAddedTokens: added,
                     config: try configFolder.map(readSpecialTokenConfig(in:)) ?? SpecialTokenConfig(),
                     vocabularyFile: url.path, vocabularyKey: "model.vocab", vocabularyName: "tokenizer.json's model.vocab",
                     configSource: (configFolder ?? url).path)
    }

    // MARK: vocab.json + merges.txt

    static func readVocabularyAndMerges(_ vocabURL: URL, _ mergesURL: URL, configFolder: URL?) throws -> Parts {
        let vocabulary = try readVocabulary(vocabURL)
        try checkIDs(vocabulary, file: vocabURL.path, key: nil)
        let (merges, lines) = try readMergeLines(mergesURL)
        let table = try mergeTable(merges, vocabulary: vocabulary) { index, merge in
            TokenizerError(mergesURL.path, "line \(lines[index]): the merge \"\(merge)\" uses symbols that are not in vocab.json")
        }
        return Parts(vocabulary: vocabulary, merges: table,
                     config: try configFolder.map(readSpecialTokenConfig(in:)) ?? SpecialTokenConfig(),
                     vocabularyFile: vocabURL.path, vocabularyName: "vocab.json",
                     configSource: (configFolder ?? vocabURL).path)
    }

    static func readVocabulary(_ url: URL) throws -> [String: Int] {
        guard exists(url) else { throw TokenizerError(url.path, "missing (\(folderContents))") }
        return try decodeJSON([String: Int].self, from: url)
    }

    /// The merges of merges.txt in rank order, and the line each one is on (for errors). The `#version` header
    /// and empty lines are not merges.
    static func readMergeLines(_ url: URL) throws -> (merges: [(String, String)], lines: [Int]) {
        guard exists(url) else { throw TokenizerError(url.path, "missing (\(folderContents))") }
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { throw TokenizerError(url.path, "not UTF-8 text") }
        var merges: [(String, String)] = [], lines: [Int] = []
        merges.reserveCapacity(50_000)
        lines.reserveCapacity(50_000)
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.hasPrefix("#version") || line.isEmpty { continue }
            guard let merge = splitMerge(line) else {
                throw TokenizerError(url.path, "line \(n + 1) is not two symbols separated by a space")
            }
            merges.append(merge)
            lines.append(n + 1)
        }
        return (merges, lines)
    }

    /// "a b" as ("a", "b"): exactly two symbols, as the tokenizers library splits a merge.
    static func splitMerge(_ text: Substring) -> (String, String)? {
        let parts = text.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        return (String(parts[0]), String(parts[1]))
    }

    /// The merges as BPE looks them up: pair of symbol ids → rank and merged id. A merge listed twice keeps its
    /// first (lowest) rank, as in the tokenizers library. `unknown` makes the error for a merge whose symbols are not
    /// in the vocabulary, from its index and its "a b" text.
    /// Ids index the text encoder's embedding table and key the merge table in 32 bits: a negative or huge one
    /// (found by fuzzing vocab.json) would trap there, so it is refused naming the token.
    static func checkIDs(_ vocabulary: [String: Int], file: String, key: String?) throws {
        guard let (token, id) = vocabulary.first(where: { !validIDs.contains($0.value) }) else { return }
        let problem = "the id of \"\(token)\" is \(id) (ids are whole numbers from 0 to \(validIDs.upperBound))"
        throw TokenizerError(file, key.map { "\($0): \(problem)" } ?? problem)
    }

    static func mergeTable(_ merges: [(String, String)], vocabulary: [String: Int],
                           unknown: (Int, String) -> TokenizerError) throws -> MergeTable {
        var table: MergeTable = [:]
        table.reserveCapacity(merges.count)
        for (rank, (a, b)) in merges.enumerated() {
            guard let left = vocabulary[a], let right = vocabulary[b], let merged = vocabulary[a + b] else {
                throw unknown(rank, "\(a) \(b)")
            }
            let key = pairKey(left, right)
            if table[key] == nil { table[key] = (rank, merged) }
        }
        return table
    }

    // MARK: Special tokens

    struct SpecialTokenConfig {
        /// Role → token text, and its `normalized` flag when the role is given as a token object.
        var roles: [String: (content: String, normalized: Bool?)] = [:]
        /// tokenizer_config.json's `added_tokens_decoder`, by id; nil when it has none (then tokenizer.json's
        /// added_tokens apply).
        var addedTokens: [SpecialToken]?
        var modelMaxLength: Int?
        /// tokenizer_config.json as read, for `save(to:)`.
        var object: [String: Any]?
    }

    /// Special tokens as transformers reads them: tokenizer_config.json, then special_tokens_map.json over it.
    static func readSpecialTokenConfig(in folder: URL) throws -> SpecialTokenConfig {
        var config = SpecialTokenConfig()
        for name in ["tokenizer_config.json", "special_tokens_map.json"] {
            let url = folder.appendingPathComponent(name)
            guard exists(url) else { continue }
            let object = try readJSONObject(url)
            if name == "tokenizer_config.json" { config.object = object }
            for role in ["bos_token", "eos_token", "unk_token", "pad_token"] {
                switch object[role] {
                case let content as String:
                    config.roles[role] = (content, nil)
                case let token as [String: Any]:
                    guard let content = token["content"] as? String else { throw TokenizerError(url.path, "\(role) has no \"content\"") }
                    config.roles[role] = (content, (token["normalized"] as? Bool) ?? false)
                case nil, is NSNull:
                    break
                default:
                    throw TokenizerError(url.path, "\(role) is neither a string nor a token object")
                }
            }
            if let added = object["added_tokens_decoder"] as? [String: Any] {
                config.addedTokens = try added.map { key, value in
                    guard let id = Int(key), let token = value as? [String: Any], let content = token["content"] as? String else {
                        throw TokenizerError(url.path, "added_tokens_decoder.\(key): expected a token id with a token object")
                    }
                    let special = (token["special"] as? Bool) ?? false
                    return SpecialToken(content: content, id: id, normalized: (token["normalized"] as? Bool) ?? !special)
                }.sorted { $0.id < $1.id }
            }
            if let length = (object["model_max_length"] as? NSNumber)?.doubleValue {
                // transformers writes a huge number for "no limit"; that never applies to CLIP.
                if length >= 1 && length < 1_000_000 { config.modelMaxLength = Int(length) }
            }
        }
        return config
    }

    // MARK: Files

    /// `JSONFile.decode`, its errors as `TokenizerError`s ("file: key: problem").
    static func decodeJSON<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
        do { return try JSONFile.decode(T.self, from: url) } catch let error as JSONFileError { throw TokenizerError(error) }
    }

    static func readJSONObject(_ url: URL) throws -> [String: Any] {
        do { return try JSONFile.object(from: url) } catch let error as JSONFileError { throw TokenizerError(error) }
    }

    static func exists(_ url: URL) -> Bool { FileManager.default.fileExists(atPath: url.path) }

    static func isFolder(_ url: URL) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}

extension TokenizerError {
    /// A JSON file's error, its key path (when it has one) leading the problem.
    init(_ error: JSONFileError) {
        self.init(error.file, error.key.isEmpty ? error.problem : "\(error.key): \(error.problem)")
    }
}
