// CLIP's byte-level BPE tokenizer, as transformers' CLIPTokenizer (5.x, backed by the `tokenizers` library)
// runs it for diffusers' StableDiffusionPipeline: special tokens are split out first, the rest is normalized
// (NFC, whitespace runs to one space, lower case), split by CLIP's regex, mapped to byte-level characters and
// merged by BPE with an end-of-word suffix; then <|startoftext|> ... <|endoftext|>, truncation and padding.
import Foundation

/// A problem with a tokenizer folder or file: which file, and what is wrong. One line.
public struct TokenizerError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let problem: String

    public init(_ path: String, _ problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String { "\(path): \(problem)" }
}

public final class CLIPTokenizer: @unchecked Sendable {
    /// The ids of one prompt, and whether it was cut to fit.
    public struct Encoding: Sendable, Equatable {
        /// <|startoftext|>, the prompt's tokens, <|endoftext|>, then padding (when asked for).
        public let ids: [Int]
        /// True when the prompt had more tokens than fit: the end of the prompt was dropped.
        public let truncated: Bool
        /// The prompt's length in tokens before truncation, start and end tokens included.
        public let fullLength: Int
    }

    /// A token matched in the text before BPE, as transformers' added tokens are (the special tokens, and any
    /// others tokenizer_config.json lists). A `normalized` token is looked for after normalization (so upper
    /// case matches too), the others in the raw text.
    public struct SpecialToken: Sendable, Equatable {
        public let content: String
        public let id: Int
        public let normalized: Bool
    }

    public let bosTokenID: Int
    public let eosTokenID: Int
    public let padTokenID: Int
    /// The context length of the text encoder: 77 for every Stable Diffusion checkpoint.
    public let modelMaxLength: Int
    public let specialTokens: [SpecialToken]
    /// Kept only to be written back by `save(to:)`: Prism never uses the unknown token (every byte has a symbol).
    let unkTokenID: Int
    /// The tokenizer_config.json this tokenizer was read with, so that `save(to:)` keeps the fields Prism does
    /// not use (transformers reads some of them).
    let sourceConfig: [String: Any]?

    let vocabulary: [String: Int]
    let tokens: [Int: String]
    /// Merge of two symbol ids → (rank, id of the merged symbol).
    let merges: MergeTable
    /// Byte-level symbol id of each byte, in the middle of a word and at its end (with "</w>").
    let byteIDs: [Int]
    let finalByteIDs: [Int]

    private let lock = NSLock()
    private var cache: [String: [Int]] = [:]
    static let cacheLimit = 50_000

    typealias MergeTable = [UInt64: (rank: Int, merged: Int)]

    // MARK: Building

    /// What a tokenizer is made of, whichever files it was read from (TokenizerFiles.swift reads them).
    struct Parts {
        var vocabulary: [String: Int]
        var merges: MergeTable
        /// tokenizer.json's added_tokens; they apply when tokenizer_config.json has no added_tokens_decoder, as in
        /// transformers.
        var fileAddedTokens: [SpecialToken] = []
        var config = SpecialTokenConfig()
        /// The vocabulary's file, its key in the file ("model.vocab" in tokenizer.json, else nil) and its name in
        /// errors about other files ("vocab.json", "tokenizer.json's model.vocab").
        var vocabularyFile: String
        var vocabularyKey: String? = nil
        var vocabularyName: String
        /// Where the special tokens came from, for errors: the config folder, else the vocabulary's file.
        var configSource: String
    }

    init(parts: Parts) throws {
        let vocabulary = parts.vocabulary
        self.vocabulary = vocabulary
        var tokens: [Int: String] = [:]
        tokens.reserveCapacity(vocabulary.count)
        for (token, id) in vocabulary { tokens[id] = token }

        func symbol(_ s: String) throws -> Int {
            guard let id = vocabulary[s] else {
                let problem = "no entry for the byte-level symbol \"\(s)\"; is this a CLIP vocabulary?"
                throw TokenizerError(parts.vocabularyFile, parts.vocabularyKey.map { "\($0): \(problem)" } ?? problem)
            }
            return id
        }
        byteIDs = try Self.byteCharacters.map { try symbol(String($0)) }
        finalByteIDs = try Self.byteCharacters.map { try symbol(String($0) + Self.endOfWord) }
        merges = parts.merges

        let config = parts.config
        let source = parts.configSource
        // Tokens matched before BPE, as transformers builds them: the added tokens (tokenizer_config.json's, else
        // tokenizer.json's), then the special roles in transformers' order. A role given as an object sets whether
        // its token is matched after normalization; one given as a plain string keeps an added token's setting,
        // else matches the raw text.
        let addedTokens = config.addedTokens ?? parts.fileAddedTokens
        var special = addedTokens
        var roleIDs: [String: Int] = [:]
        for role in ["bos_token", "eos_token", "unk_token", "pad_token"] {
            let value = config.roles[role] ?? (role == "bos_token" ? Self.startOfText : Self.endOfText, nil)
            let existing = special.firstIndex { $0.content == value.content }
            guard let id = existing.map({ special[$0].id }) ?? vocabulary[value.content] else {
                throw TokenizerError(source, "the \(role) \"\(value.content)\" is not in \(parts.vocabularyName)")
            }
            roleIDs[role] = id
            let fromAddedTokens = existing != nil && addedTokens.contains { $0.content == value.content }
            if value.normalized == nil && fromAddedTokens { continue }
            let token = SpecialToken(content: value.content, id: id, normalized: value.normalized ?? false)
            if let existing { special[existing] = token } else { special.append(token) }
        }
        if let bad = special.first(where: { !Self.validIDs.contains($0.id) }) {
            throw TokenizerError(source, "the added token \"\(bad.content)\" has the id \(bad.id) (ids are 0 or more)")
        }
        for token in special where tokens[token.id] == nil { tokens[token.id] = token.content }
        self.tokens = tokens
        specialTokens = special
        bosTokenID = roleIDs["bos_token"]!
        eosTokenID = roleIDs["eos_token"]!
        padTokenID = roleIDs["pad_token"]!
        unkTokenID = roleIDs["unk_token"]!
        sourceConfig = config.object
        modelMaxLength = config.modelMaxLength ?? 77
        guard modelMaxLength >= 2 else {
            throw TokenizerError(source, "model_max_length \(modelMaxLength) leaves no room for the start and end tokens")
        }
    }

    static let startOfText = "<|startoftext|>"
    static let endOfText = "<|endoftext|>"
    static let endOfWord = "</w>"

    // MARK: Encoding

    /// The ids of a prompt as Stable Diffusion feeds them to the text encoder: start token, the prompt's
    /// tokens cut to `maxLength` (default `modelMaxLength`) with the end token kept, then pad tokens up to
    /// `maxLength` when `padding` is on.
    public func encode(_ text: String, maxLength: Int? = nil, padding: Bool = true) -> Encoding {
        let length = max(maxLength ?? modelMaxLength, 2)
        let content = tokenize(text)
        let kept = content.prefix(length - 2)
        var ids = [bosTokenID] + kept + [eosTokenID]
        if padding && ids.count < length { ids += Array(repeating: padTokenID, count: length - ids.count) }
        return Encoding(ids: ids, truncated: kept.count < content.count, fullLength: content.count + 2)
    }

    /// The prompt's token ids, without start and end tokens, truncation or padding.
    public func tokenize(_ text: String) -> [Int] {
        var ids: [Int] = []
        for segment in splitSpecial(Array(text.unicodeScalars), normalized: false) {
            switch segment {
            case .special(let id): ids.append(id)
            case .text(let raw):
                for part in splitSpecial(Self.normalize(raw), normalized: true) {
                    switch part {
                    case .special(let id): ids.append(id)
                    case .text(let normalized):
                        for word in Self.preTokenize(normalized) { ids += bpe(word) }
                    }
                }
            }
        }
        return ids
    }

    /// Text back from ids: byte-level symbols to UTF-8, end-of-word marks to spaces. Special tokens are kept
    /// as text unless `skipSpecialTokens`.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = true) -> String {
        let special = Set(specialTokens.map(\.id))
        var bytes: [UInt8] = []
        for id in ids {
            if skipSpecialTokens && special.contains(id) { continue }
            guard let token = tokens[id] else { continue }
            for scalar in token.replacingOccurrences(of: Self.endOfWord, with: " ").unicodeScalars {
                if let byte = Self.byteOfCharacter[scalar] { bytes.append(byte) } else { bytes += Array(String(scalar).utf8) }
            }
        }
        return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespaces)
    }

    enum Segment {
        case text([Unicode.Scalar])
        case special(Int)
    }

    /// Splits out the special tokens matched at this stage (leftmost, longest first), as the `tokenizers`
    /// library's added vocabulary does.
    func splitSpecial(_ scalars: [Unicode.Scalar], normalized: Bool) -> [Segment] {
        let candidates = specialTokens.filter { $0.normalized == normalized && !$0.content.isEmpty }
            .map { (Array($0.content.unicodeScalars), $0.id) }
        guard !candidates.isEmpty, !scalars.isEmpty else { return scalars.isEmpty ? [] : [.text(scalars)] }
        let firsts = Set(candidates.map { $0.0[0] })
        var segments: [Segment] = []
        var start = 0, i = 0
        while i < scalars.count {
            var best: (length: Int, id: Int)?
            if firsts.contains(scalars[i]) {
                for (content, id) in candidates where content.count > (best?.length ?? 0) && Self.hasPrefix(scalars, at: i, content) {
                    best = (content.count, id)
                }
            }
            if let best {
                if start < i { segments.append(.text(Array(scalars[start..<i]))) }
                segments.append(.special(best.id))
                i += best.length
                start = i
            } else {
                i += 1
            }
        }
        if start < scalars.count { segments.append(.text(Array(scalars[start...]))) }
        return segments
    }

    static func hasPrefix(_ scalars: [Unicode.Scalar], at i: Int, _ prefix: [Unicode.Scalar]) -> Bool {
        guard i + prefix.count <= scalars.count else { return false }
        for k in 0..<prefix.count where scalars[i + k] != prefix[k] { return false }
        return true
    }

    /// transformers' CLIP normalizer without ftfy: NFC, every run of Unicode white space to one space, then
    /// lower case scalar by scalar (full mappings such as İ → i̇, and σ for every Σ, as Rust's char mapping).
    static func normalize(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var string = String()
        string.unicodeScalars.append(contentsOf: scalars)
        let nfc = string.precomposedStringWithCanonicalMapping.unicodeScalars
        var result: [Unicode.Scalar] = []
        result.reserveCapacity(scalars.count)
        var inSpace = false
        for scalar in nfc {
            if scalar.properties.isWhitespace {
                if !inSpace { result.append(" ") }
                inSpace = true
                continue
            }
            inSpace = false
            if scalar.isASCII {
                result.append(scalar.value >= 65 && scalar.value <= 90 ? Unicode.Scalar(scalar.value + 32)! : scalar)
            } else {
                result.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return result
    }

    static let contractions: [[Unicode.Scalar]] = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"].map { Array($0.unicodeScalars) }
    static let specialWords: [[Unicode.Scalar]] = [startOfText, endOfText].map { Array($0.unicodeScalars) }

    /// CLIP's split regex, `<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`,
    /// keeping the matches; then the byte-level pre-tokenizer's GPT-2 split, which only ever changes the two
    /// literal special words (into "<|", the letters and "|>").
    static func preTokenize(_ s: [Unicode.Scalar]) -> [ArraySlice<Unicode.Scalar>] {
        var words: [ArraySlice<Unicode.Scalar>] = []
        var i = 0
        let n = s.count
        scan: while i < n {
            let c = s[i]
            if c == "<" {
                for word in specialWords where hasPrefix(s, at: i, word) {
                    words.append(s[i..<i + 2])
                    words.append(s[i + 2..<i + word.count - 2])
                    words.append(s[i + word.count - 2..<i + word.count])
                    i += word.count
                    continue scan
                }
            }
            if c == "'" {
                for word in contractions where hasPrefix(s, at: i, word) {
                    words.append(s[i..<i + word.count])
                    i += word.count
                    continue scan
                }
            }
            switch kind(c) {
            case .letter:
                var j = i + 1
                while j < n && kind(s[j]) == .letter { j += 1 }
                words.append(s[i..<j])
                i = j
            case .number:
                words.append(s[i..<i + 1])
                i += 1
            case .other:
                var j = i + 1
                while j < n && kind(s[j]) == .other { j += 1 }
                words.append(s[i..<j])
                i = j
            case .space:
                i += 1
            }
        }
        return words
    }

    enum CharacterKind { case letter, number, space, other }

    static func kind(_ c: Unicode.Scalar) -> CharacterKind {
        if c.isASCII {
            switch c.value {
            case 97...122, 65...90: return .letter
            case 48...57: return .number
            case 9...13, 32: return .space
            default: return .other
            }
        }
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return c.properties.isWhitespace ? .space : .other
        }
    }

    // MARK: BPE

    static func pairKey(_ a: Int, _ b: Int) -> UInt64 { UInt64(UInt32(a)) << 32 | UInt64(UInt32(b)) }

    /// The ids a vocabulary may use (they key the merge table in 32 bits).
    static let validIDs = 0...Int(Int32.max)

    /// Byte-level BPE of one word: its UTF-8 bytes as symbols, the last one marked end-of-word, then the
    /// lowest-ranked merge applied (leftmost first) until none applies. Results are cached per word.
    func bpe(_ word: ArraySlice<Unicode.Scalar>) -> [Int] {
        var key = String()
        key.unicodeScalars.append(contentsOf: word)
        lock.lock()
        if let cached = cache[key] { lock.unlock(); return cached }
        lock.unlock()

        let bytes = Array(key.utf8)
        var symbols = bytes.map { byteIDs[Int($0)] }
        symbols[symbols.count - 1] = finalByteIDs[Int(bytes[bytes.count - 1])]
        while symbols.count > 1 {
            var best: (rank: Int, index: Int, merged: Int)?
            for i in 0..<(symbols.count - 1) {
                if let m = merges[Self.pairKey(symbols[i], symbols[i + 1])], m.rank < (best?.rank ?? .max) {
                    best = (m.rank, i, m.merged)
                }
            }
            guard let best else { break }
            symbols[best.index] = best.merged
            symbols.remove(at: best.index + 1)
        }

        lock.lock()
        if cache.count >= Self.cacheLimit { cache.removeAll(keepingCapacity: true) }
        cache[key] = symbols
        lock.unlock()
        return symbols
    }

    /// GPT-2's reversible map from bytes to printable characters: printable Latin-1 bytes stand for
    /// themselves, the others are shifted above U+0100.
    static let byteCharacters: [Unicode.Scalar] = {
        let printable = Set(Array(33...126) + Array(161...172) + Array(174...255))
        var table: [Unicode.Scalar] = []
        var shifted: UInt32 = 256
        for b in 0..<256 {
            if printable.contains(b) {
                table.append(Unicode.Scalar(UInt32(b))!)
            } else {
                table.append(Unicode.Scalar(shifted)!)
                shifted += 1
            }
        }
        return table
    }()

    static let byteOfCharacter: [Unicode.Scalar: UInt8] = {
        var map: [Unicode.Scalar: UInt8] = [:]
        for (b, c) in byteCharacters.enumerated() { map[c] = UInt8(b) }
        return map
    }()
}
