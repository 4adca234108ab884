// DiffusersConfig: the configs of a diffusers model folder (model_index.json, each component's config.json,
// scheduler_config.json) as Swift values, read and written with diffusers' keys and defaults. Foundation only,
// so that tools without libtorch (the fuzz targets) run the very decoders and checks Prism runs.
import Core
import Foundation

/// A problem with a diffusers model folder: what is wrong, where, and what to do. One line.
public struct ModelFolderError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let problem: String

    public init(_ path: String, _ problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String { "\(path): \(problem)" }

    /// The same problem, as a model folder's: the key (when there is one) leads the problem.
    public init(_ error: JSONFileError) {
        self.init(error.file, error.key.isEmpty ? error.problem : "\(error.key): \(error.problem)")
    }
}

/// Reading and writing config files through the project's one JSON reader and writer.
public enum ConfigFile {
    /// Decodes `folder/fileName` (`config.json`, or `scheduler_config.json` for schedulers). Config types decode
    /// snake_case keys and give absent fields diffusers' defaults, so that any config diffusers writes is accepted.
    public static func load<T: Decodable>(_ type: T.Type, in folder: URL, fileName: String = "config.json") throws -> T {
        let url = folder.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ModelFolderError(url.path, fileName == "config.json"
                ? "missing (every diffusers component folder has a config.json)" : "missing")
        }
        return try decode(T.self, at: url)
    }

    /// Decodes a config file (Python's `NaN`/`Infinity` accepted, unknown fields kept aside); a problem is a
    /// ModelFolderError naming the file, the key and what was expected.
    public static func decode<T: Decodable>(_ type: T.Type, at url: URL) throws -> T {
        do { return try JSONFile.decode(T.self, from: url) } catch let error as JSONFileError { throw ModelFolderError(error) }
    }

    /// Decodes config text; `source` names it in errors.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data, source: String = "config") throws -> T {
        do {
            return try JSONFile.decode(T.self, from: data, source: source)
        } catch let error as JSONFileError {
            throw ModelFolderError(error)
        }
    }

    /// The JSON text diffusers' `from_config` reads back to the same values (sorted keys, Python's non-finite tokens).
    public static func encode<T: Encodable>(_ config: T) throws -> Data { try JSONFile.encode(value: config) }
}

/// Any JSON value, for the fields of a config that Prism does not model but must write back unchanged
/// (diffusers' `_class_name`, transformers' `architectures`, a PNDM scheduler's `skip_prk_steps`, ...).
public enum JSONValue: Codable, Equatable, Sendable {
    case null, bool(Bool), int(Int), double(Double), string(String), array([JSONValue]), object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(JSONFloat(d))
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// The value with each integral number that `written` (the same value as `JSONFile.object` reads it) has as a
    /// float made a float again: decoding through `Decoder` reads `1.0` as an int, and Foundation's parser, which
    /// tells them apart, is not exact in the last digit, so the kind comes from one and the value from the other.
    func retyped(like written: Any) -> JSONValue {
        switch (self, written) {
        case (.int(let i), let n as NSNumber) where ["d", "f"].contains(String(cString: n.objCType)):
            return .double(Double(i))
        case (.array(let values), let list as [Any]) where values.count == list.count:
            return .array(zip(values, list).map { $0.retyped(like: $1) })
        case (.object(let fields), let object as [String: Any]):
            return .object(Dictionary(uniqueKeysWithValues: fields.map { key, value in
                (key, object[key].map { value.retyped(like: $0) } ?? value)
            }))
        default:
            return self
        }
    }
}

/// Any key, for the fields a config type does not name.
public struct AnyCodingKey: CodingKey, Hashable, Sendable {
    public let stringValue: String
    public var intValue: Int? { nil }
    public init(_ string: String) { stringValue = string }
    public init?(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { nil }
}

/// The fields of a config that its type does not model, kept so that a config Prism writes back carries them.
public typealias OtherFields = [String: JSONValue]

extension Decoder {
    /// The fields whose keys are not among `known` (raw values of the type's coding keys).
    public func otherFields<K: CodingKey & CaseIterable>(besides known: K.Type) throws -> OtherFields {
        let names = Set(K.allCases.map(\.stringValue))
        let c = try container(keyedBy: AnyCodingKey.self)
        var other: OtherFields = [:]
        for key in c.allKeys where !names.contains(key.stringValue) {
            other[key.stringValue] = try c.decode(JSONValue.self, forKey: key)
        }
        if codingPath.isEmpty, let text = userInfo[JSONFile.sourceTextKey] as? Data,
           let written = try? JSONFile.object(from: text, source: "") {
            for (key, value) in other { other[key] = written[key].map { value.retyped(like: $0) } ?? value }
        }
        return other
    }
}

extension Encoder {
    /// Writes `fields` beside the type's own (which win where both name a key).
    public func encodeOtherFields<K: CodingKey & CaseIterable>(_ fields: OtherFields, besides known: K.Type) throws {
        let names = Set(K.allCases.map(\.stringValue))
        var c = container(keyedBy: AnyCodingKey.self)
        for (key, value) in fields where !names.contains(key) { try c.encode(value, forKey: AnyCodingKey(key)) }
    }
}

extension KeyedEncodingContainer {
    /// One value for every block when they are all equal, as diffusers' own configs write them (`"layers_per_block": 2`).
    public mutating func encodeBlockValues(_ values: [Int], forKey key: Key) throws {
        if let first = values.first, values.allSatisfy({ $0 == first }) { try encode(first, forKey: key) }
        else { try encode(values, forKey: key) }
    }

    /// A square `sample_size` as one int (what diffusers writes, and what its pipelines multiply).
    public mutating func encodeSampleSize(_ size: [Int]?, forKey key: Key) throws {
        guard let size else { return try encodeNil(forKey: key) }
        if size.count == 2, size[0] == size[1] { try encode(size[0], forKey: key) } else { try encode(size, forKey: key) }
    }
}

extension KeyedDecodingContainer {
    /// A field that may be absent: diffusers fills those with defaults.
    public func value<T: Decodable>(_ key: Key, default value: T) throws -> T {
        try decodeIfPresent(T.self, forKey: key) ?? value
    }

    /// An int applying to every block, or one value per block.
    public func blockValues(_ key: Key, blocks: Int, default value: Int) throws -> [Int] {
        if let one = try? decodeIfPresent(Int.self, forKey: key) { return Array(repeating: one, count: blocks) }
        guard let list = try decodeIfPresent([Int].self, forKey: key) else { return Array(repeating: value, count: blocks) }
        guard list.count == blocks else { throw unsupportedField(key, "\(list.count) values for \(blocks) blocks") }
        return list
    }

    public func activationField(_ key: Key) throws -> Activation? {
        guard let name = try decodeIfPresent(String.self, forKey: key) else { return nil }
        guard let activation = Activation(configName: name) else {
            throw unsupportedField(key, "unknown activation \"\(name)\" (silu, swish, mish, gelu, relu)")
        }
        return activation
    }

    public func unsupportedField(_ key: Key, _ message: String) -> DecodingError {
        DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: message)
    }

    /// Sizes and counts must be positive: a 0 would divide by zero or build an empty layer deep inside the model.
    public func requirePositive(_ key: Key, _ values: [Int]) throws {
        guard !values.isEmpty else { throw unsupportedField(key, "empty (expected one or more positive numbers)") }
        if let bad = values.first(where: { $0 <= 0 }) {
            throw unsupportedField(key, "\(bad) is not a positive number")
        }
    }

    /// A small positive number such as a norm's ε.
    public func requirePositiveFinite(_ key: Key, _ value: Double) throws {
        guard value.isFinite, value > 0 else { throw unsupportedField(key, "\(value) is not a positive finite number") }
    }

    /// The field must be absent, null or `expected`.
    public func requireFieldDefault<T: Decodable & Equatable>(_ key: Key, _ expected: T) throws {
        guard contains(key), try !decodeNil(forKey: key) else { return }
        let value = try? decode(T.self, forKey: key)
        if value != expected { throw unsupportedField(key, "only \(expected) is supported") }
    }

    /// The field must be absent, null, `expected`, or a list of `expected` (one per block).
    public func requireFieldDefaultEverywhere<T: Decodable & Equatable>(_ key: Key, _ expected: T) throws {
        guard contains(key), try !decodeNil(forKey: key) else { return }
        if let one = try? decode(T.self, forKey: key), one == expected { return }
        if let all = try? decode([T].self, forKey: key), all.allSatisfy({ $0 == expected }) { return }
        throw unsupportedField(key, "only \(expected) is supported")
    }

    public func requireFieldNull(_ key: Key, _ message: String) throws {
        guard contains(key), try !decodeNil(forKey: key) else { return }
        throw unsupportedField(key, "must be null: \(message)")
    }
}
