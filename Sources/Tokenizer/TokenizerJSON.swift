// tokenizer.json, the tokenizers library's one-file form of a tokenizer, as far as CLIP's tokenizer uses it.
//
// Prism implements one tokenization pipeline, CLIP's. The file describes its pipeline step by step, so every step
// that changes ids is compared with CLIP's as transformers' CLIPTokenizer writes it, and a file that differs is
// refused with the step named, rather than tokenized differently from what the file says. (transformers 5's
// CLIPTokenizer itself takes only the vocabulary and merges from the file and rebuilds CLIP's steps, while
// `tokenizers.Tokenizer.from_file` runs the file's: for a CLIP file the two agree.)
import Foundation

/// tokenizer.json, decoded through `JSONFile`, its CLIP steps checked while decoding so that errors carry the key.
struct TokenizerJSONFile: Decodable {
    let model: BPEModelFile
    let addedTokens: [AddedTokenEntry]

    enum CodingKeys: String, CodingKey {
        case model, normalizer
        case preTokenizer = "pre_tokenizer"
        case addedTokens = "added_tokens"
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try CLIPStep.normalizer.check(c.decodeIfPresent(JSONValue.self, forKey: .normalizer),
                                      at: decoder.codingPath + [CodingKeys.normalizer])
        try CLIPStep.preTokenizer.check(c.decodeIfPresent(JSONValue.self, forKey: .preTokenizer),
                                        at: decoder.codingPath + [CodingKeys.preTokenizer])
        model = try c.decode(BPEModelFile.self, forKey: .model)
        addedTokens = try c.decodeIfPresent([AddedTokenEntry].self, forKey: .addedTokens) ?? []
    }
}

/// tokenizer.json's `model`: CLIP's BPE settings checked, the vocabulary and the merges in rank order.
struct BPEModelFile: Decodable {
    let vocabulary: [String: Int]
    let merges: [(String, String)]

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        // The type first: another model's vocabulary would otherwise fail to decode with a less useful message.
        let type = try c.decodeIfPresent(JSONValue.self, forKey: AnyKey("type"))
        guard type == "BPE" else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: decoder.codingPath + [AnyKey("type")],
                debugDescription: "\(type?.text ?? "missing") where CLIP's tokenizer has \"BPE\"; Prism implements only CLIP's byte-level BPE"))
        }
        var settings: [String: JSONValue] = [:]
        for key in c.allKeys where key.stringValue != "vocab" && key.stringValue != "merges" {
            settings[key.stringValue] = try c.decode(JSONValue.self, forKey: key)
        }
        try CLIPStep.bpeModel.check(.object(settings), at: decoder.codingPath)
        vocabulary = try c.decode([String: Int].self, forKey: AnyKey("vocab"))
        merges = try Self.decodeMerges(c, forKey: AnyKey("merges"))
    }

    /// Merges in either form the tokenizers library writes: "a b" (before 0.20) or ["a", "b"] (0.20 on, and
    /// transformers 5). A list in one form is decoded whole; one that mixes them, or holds something else, entry
    /// by entry, so that an error names the entry.
    static func decodeMerges(_ c: KeyedDecodingContainer<AnyKey>, forKey key: AnyKey) throws -> [(String, String)] {
        if let strings = try? c.decode([String].self, forKey: key) {
            let pairs = strings.compactMap { CLIPTokenizer.splitMerge($0[...]) }
            if pairs.count == strings.count { return pairs }
        } else if let lists = try? c.decode([[String]].self, forKey: key), lists.allSatisfy({ $0.count == 2 }) {
            return lists.map { ($0[0], $0[1]) }
        }
        var entries = try c.nestedUnkeyedContainer(forKey: key)
        var merges: [(String, String)] = []
        while !entries.isAtEnd { merges.append(try entries.decode(MergeEntry.self).pair) }
        return merges
    }
}

/// One merge of either form; anything else is an error at its index.
struct MergeEntry: Decodable {
    let pair: (String, String)

    init(from decoder: any Decoder) throws {
        let value = try decoder.singleValueContainer().decode(JSONValue.self)
        switch value {
        case .string(let text):
            if let pair = CLIPTokenizer.splitMerge(text[...]) { self.pair = pair; return }
        case .array(let items) where items.count == 2:
            if case .string(let a) = items[0], case .string(let b) = items[1] { pair = (a, b); return }
        default:
            break
        }
        throw DecodingError.dataCorrupted(.init(
            codingPath: decoder.codingPath, debugDescription: "expected \"a b\" or [\"a\", \"b\"], found \(value.text)"))
    }
}

/// One of tokenizer.json's added_tokens. Prism matches an added token exactly where it occurs, so the flags that
/// widen the match are refused.
struct AddedTokenEntry: Decodable {
    let id: Int
    let content: String
    let normalized: Bool

    enum CodingKeys: String, CodingKey {
        case id, content, normalized, special, lstrip, rstrip
        case singleWord = "single_word"
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(Int.self, forKey: .id)
        content = try c.decode(String.self, forKey: .content)
        for flag in [CodingKeys.singleWord, .lstrip, .rstrip] where try c.decodeIfPresent(Bool.self, forKey: flag) == true {
            throw DecodingError.dataCorrupted(.init(
                codingPath: decoder.codingPath + [flag],
                debugDescription: "true; Prism matches added tokens exactly as written (single_word, lstrip and rstrip are not implemented)"))
        }
        // The tokenizers library's default: special tokens are matched in the raw text, others after normalization.
        let special = try c.decodeIfPresent(Bool.self, forKey: .special) ?? false
        normalized = try c.decodeIfPresent(Bool.self, forKey: .normalized) ?? !special
    }
}

// MARK: CLIP's steps

/// One step of CLIP's pipeline as the tokenizers library writes it, and where a file's copy may differ without
/// changing ids.
struct CLIPStep: Sendable {
    enum Allowance: Sendable {
        case anyValue
        case absentOr([JSONValue])
    }

    /// What the step does, for errors.
    let description: String
    /// The step as transformers writes it for CLIP (and as `save(to:)` writes it).
    let value: JSONValue
    /// Dotted paths inside the step where another value is allowed.
    let allowances: [String: Allowance]

    static let normalizer = CLIPStep(
        description: "CLIP's normaliser (NFC, runs of white space to one space, lower case)",
        value: ["type": "Sequence", "normalizers": [
            ["type": "NFC"],
            ["type": "Replace", "pattern": ["Regex": #"\s+"#], "content": " "],
            ["type": "Lowercase"],
        ]],
        allowances: [:])

    static let splitPattern = #"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"#

    static let preTokenizer = CLIPStep(
        description: "CLIP's pre-tokeniser (CLIP's split regex, then byte-level without a prefix space)",
        value: ["type": "Sequence", "pretokenizers": [
            ["type": "Split", "pattern": ["Regex": .string(splitPattern)], "behavior": "Removed", "invert": true],
            ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true],
        ]],
        // trim_offsets moves offsets only; use_regex was added to the file format later, true by default.
        allowances: ["pretokenizers.1.trim_offsets": .anyValue, "pretokenizers.1.use_regex": .absentOr([true])])

    /// The model's settings, without its vocabulary and merges.
    static let bpeModel = CLIPStep(
        description: "CLIP's byte-level BPE (end-of-word suffix \"</w>\", no dropout, no byte fallback)",
        value: ["type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": "",
                "end_of_word_suffix": "</w>", "fuse_unk": false, "byte_fallback": false, "ignore_merges": false],
        // Every byte has a symbol, so the unknown token is never produced; the other fields came into the format
        // later and have these defaults.
        allowances: ["unk_token": .anyValue, "fuse_unk": .anyValue, "dropout": .absentOr([nil]),
                     "continuing_subword_prefix": .absentOr(["", nil]), "byte_fallback": .absentOr([false]),
                     "ignore_merges": .absentOr([false])])

    /// Throws a `DecodingError` at the first place `found` differs from CLIP's step beyond the allowances.
    func check(_ found: JSONValue?, at codingPath: [any CodingKey]) throws {
        guard let (path, problem) = difference(found, value, at: []) else { return }
        throw DecodingError.dataCorrupted(.init(
            codingPath: codingPath + path.map { Int($0).map(AnyKey.init(intValue:)) ?? AnyKey($0) },
            debugDescription: "\(problem); Prism implements only \(description)"))
    }

    func difference(_ found: JSONValue?, _ expected: JSONValue, at path: [String]) -> ([String], String)? {
        switch allowances[path.joined(separator: ".")] {
        case .anyValue?:
            return nil
        case .absentOr(let values)?:
            guard let found, !values.contains(found) else { return nil }
            return (path, "\(found.text) where CLIP's has \(values.map(\.text).joined(separator: " or ")) (or no such field)")
        case nil:
            break
        }
        if path.isEmpty && (found == nil || found == .null) { return (path, "missing or null") }
        guard let found else { return (path, "missing where CLIP's has \(expected.text)") }
        switch (found, expected) {
        case (.object(let fields), .object(let expectedFields)):
            for key in expectedFields.keys.sorted() {
                if let d = difference(fields[key], expectedFields[key]!, at: path + [key]) { return d }
            }
            if let extra = fields.keys.sorted().first(where: { expectedFields[$0] == nil }) {
                return (path + [extra], "a field CLIP's has not (\(fields[extra]!.text))")
            }
            return nil
        case (.array(let items), .array(let expectedItems)):
            guard items.count == expectedItems.count else {
                return (path, "\(items.count) entries where CLIP's has \(expectedItems.count)")
            }
            for (i, item) in items.enumerated() {
                if let d = difference(item, expectedItems[i], at: path + [String(i)]) { return d }
            }
            return nil
        default:
            return found == expected ? nil : (path, "\(found.text) where CLIP's has \(expected.text)")
        }
    }
}

// MARK: JSON values

/// Any JSON value: for the parts of tokenizer.json that are compared with CLIP's rather than used, and written back.
enum JSONValue: Codable, Equatable, Sendable, ExpressibleByStringLiteral, ExpressibleByBooleanLiteral,
                ExpressibleByNilLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(stringLiteral value: String) { self = .string(value) }
    init(booleanLiteral value: Bool) { self = .bool(value) }
    init(nilLiteral: ()) { self = .null }
    init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(Dictionary(uniqueKeysWithValues: elements)) }

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    /// Foundation's form, for `JSONFile.encode`.
    var foundation: Any {
        switch self {
        case .null: return NSNull()
        case .bool(let b): return b
        case .number(let n): return n == n.rounded() && abs(n) < 1e15 ? Int(n) as Any : n
        case .string(let s): return s
        case .array(let a): return a.map(\.foundation)
        case .object(let o): return o.mapValues(\.foundation)
        }
    }

    /// Whole numbers are written as integers (token ids), as Python writes them.
    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n): if n == n.rounded() && abs(n) < 1e15 { try c.encode(Int(n)) } else { try c.encode(n) }
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// Compact JSON-like text for error messages, cut after 80 characters.
    var text: String {
        let full: String
        switch self {
        case .null: full = "null"
        case .bool(let b): full = String(b)
        case .number(let n): full = n == n.rounded() && abs(n) < 1e15 ? String(Int(n)) : String(n)
        case .string(let s): full = "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        case .array(let a): full = "[" + a.map(\.text).joined(separator: ", ") + "]"
        case .object(let o): full = "{" + o.keys.sorted().map { "\"\($0)\": \(o[$0]!.text)" }.joined(separator: ", ") + "}"
        }
        return full.count > 80 ? String(full.prefix(77)) + "..." : full
    }
}

/// A coding key made at run time: a field name, or a list index.
struct AnyKey: CodingKey {
    let stringValue: String
    let intValue: Int?

    init(_ name: String) { stringValue = name; intValue = nil }
    init?(stringValue: String) { self.init(stringValue) }
    init(intValue: Int) { stringValue = String(intValue); self.intValue = intValue }
}
