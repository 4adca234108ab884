import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A JSON file Prism could not read or use: which file, where in it, and what was expected. One line.
public struct JSONFileError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file (or a description of the text's origin when it did not come from a file).
    public let file: String
    /// The dotted key path of the offending value (`unet.block_out_channels.2`), empty for the whole file.
    public let key: String
    public let problem: String

    public init(file: String, key: String = "", problem: String) {
        self.file = file
        self.key = key
        self.problem = problem
    }

    public var description: String { key.isEmpty ? "\(file): \(problem)" : "\(file): \(key): \(problem)" }
}

/// The one way Prism reads JSON: model_index.json, every config.json, scheduler and tokenizer configs,
/// tokenizer.json, run and checkpoint descriptions.
///
/// It accepts what Python's json module writes (`NaN`, `Infinity`, `-Infinity` as bare tokens: diffusers saves
/// `"lambda_min_clipped": -Infinity`) and ignores fields the target type does not declare. Errors name the file,
/// the key and what was expected, never a bare "The given data was not valid JSON".
public enum JSONFile {
    /// Decodes `url`'s contents as `T`.
    public static func decode<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
        try decode(T.self, from: try read(url), source: url.path)
    }

    /// The text being decoded, in `Decoder.userInfo`, for types that keep fields as written (`1.0` stays a float).
    public static let sourceTextKey = CodingUserInfoKey(rawValue: "prism.json.sourceText")!

    /// Decodes JSON text as `T`; `source` names the text's origin in errors.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data, source: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.userInfo[sourceTextKey] = data
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        do {
            return try decoder.decode(T.self, from: quotingNonFiniteNumbers(data))
        } catch DecodingError.dataCorrupted(let context) where context.codingPath.isEmpty {
            throw JSONFileError(file: source, problem: "not valid JSON\(syntaxLocation(data))")
        } catch let error as DecodingError {
            throw describe(error, source: source, expected: T.self)
        }
    }

    /// The top-level object of `url` as Foundation values (for files whose fields are not known in advance).
    public static func object(from url: URL) throws -> [String: Any] {
        try object(from: try read(url), source: url.path)
    }

    /// The top-level object of JSON text as Foundation values; non-finite numbers become `Double`s.
    public static func object(from data: Data, source: String) throws -> [String: Any] {
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: quotingNonFiniteNumbers(data), options: [.fragmentsAllowed])
        } catch {
            throw JSONFileError(file: source, problem: "not valid JSON\(syntaxLocation(data))")
        }
        guard let fields = parsed as? [String: Any] else {
            throw JSONFileError(file: source, problem: "expected a JSON object ({...}) at the top level")
        }
        return restoringNonFiniteNumbers(fields) as! [String: Any]
    }

    /// The file's bytes; a missing or unreadable file is named with its reason.
    public static func read(_ url: URL) throws -> Data {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw JSONFileError(file: url.path, problem: "missing")
        }
        guard !isDirectory.boolValue else { throw JSONFileError(file: url.path, problem: "a folder, not a JSON file") }
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw JSONFileError(file: url.path, problem: "cannot be read (\(String(cString: strerror(errno))))")
        }
        defer { try? handle.close() }
        do {
            return try handle.readToEnd() ?? Data()
        } catch {
            throw JSONFileError(file: url.path, problem: "cannot be read (\(String(cString: strerror(errno))))")
        }
    }

    // MARK: Python's non-finite tokens

    /// Puts quotes around bare `Infinity`, `-Infinity` and `NaN` tokens outside strings, so that Foundation's
    /// parser, which follows RFC 8259, reads them as strings that the decoder then converts.
    public static func quotingNonFiniteNumbers(_ data: Data) -> Data {
        let tokens = ["-Infinity", "Infinity", "NaN"].map { Array($0.utf8) }
        return data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Data in
            let bytes = raw.bindMemory(to: UInt8.self)
            // Most files (a tokenizer.json of 3 MB among them) hold neither token: a search says so at once.
            guard data.range(of: Data("NaN".utf8)) != nil || data.range(of: Data("Infinity".utf8)) != nil else {
                return data
            }
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count + 16)
            var inString = false, escaped = false, i = 0
            while i < bytes.count {
                let b = bytes[i]
                if inString {
                    if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true }
                    else if b == UInt8(ascii: "\"") { inString = false }
                } else if b == UInt8(ascii: "\"") {
                    inString = true
                } else if let token = tokens.first(where: { bytes[i...].starts(with: $0) }) {
                    out.append(UInt8(ascii: "\"")); out.append(contentsOf: token); out.append(UInt8(ascii: "\""))
                    i += token.count
                    continue
                }
                out.append(b)
                i += 1
            }
            return Data(out)
        }
    }

    /// The quoted tokens back to numbers, in Foundation values.
    static func restoringNonFiniteNumbers(_ value: Any) -> Any {
        switch value {
        case let s as String:
            switch s {
            case "Infinity": return Double.infinity
            case "-Infinity": return -Double.infinity
            case "NaN": return Double.nan
            default: return s
            }
        case let a as [Any]: return a.map(restoringNonFiniteNumbers)
        case let d as [String: Any]: return d.mapValues(restoringNonFiniteNumbers)
        default: return value
        }
    }

    // MARK: Errors

    /// A decoding error as one line: the file, the dotted key path and what was expected.
    public static func describe(_ error: DecodingError, source: String, expected: Any.Type) -> JSONFileError {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let c):
            let p = path(c)
            return JSONFileError(file: source, key: p.isEmpty ? key.stringValue : "\(p).\(key.stringValue)",
                                 problem: "missing (required)")
        case .typeMismatch(let type, let c):
            return JSONFileError(file: source, key: path(c), problem: "expected \(describe(type)) (\(c.debugDescription))")
        case .valueNotFound(let type, let c):
            return JSONFileError(file: source, key: path(c), problem: "expected \(describe(type)), found null")
        case .dataCorrupted(let c):
            return JSONFileError(file: source, key: path(c), problem: c.debugDescription)
        @unknown default:
            return JSONFileError(file: source, problem: "not a valid \(expected) (\(error))")
        }
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        case is Int.Type, is Int64.Type, is Int32.Type, is UInt64.Type, is UInt32.Type, is UInt8.Type: return "an integer"
        case is Double.Type, is Float.Type: return "a number"
        case is [Any].Type: return "a list"
        case is [String: Any].Type: return "an object"
        default: return "\(type)"
        }
    }

    /// " (line L, column C)" where Foundation's parser said where the syntax broke, else "".
    static func syntaxLocation(_ data: Data) -> String {
        do {
            _ = try JSONSerialization.jsonObject(with: quotingNonFiniteNumbers(data), options: [.fragmentsAllowed])
            return ""
        } catch {
            let text = "\((error as NSError).userInfo[NSDebugDescriptionErrorKey] ?? "")"
            return text.isEmpty ? "" : " (\(text))"
        }
    }
}

// MARK: Writing

extension JSONFile {
    /// JSON text of Foundation values, pretty-printed with sorted keys; non-finite numbers are written as the bare
    /// `NaN`, `Infinity` and `-Infinity` tokens Python's json module writes and reads (RFC 8259 has no spelling
    /// for them, and Foundation's writer refuses them), so that a config read from diffusers goes back unchanged.
    public static func encode(_ object: [String: Any]) throws -> Data {
        let marker = nonFiniteMarker
        func marking(_ value: Any) -> Any {
            switch value {
            case let d as Double where !d.isFinite: return marker + (d.isNaN ? "NaN" : d < 0 ? "-Infinity" : "Infinity")
            case let a as [Any]: return a.map(marking)
            case let o as [String: Any]: return o.mapValues(marking)
            default: return value
            }
        }
        let data = try JSONSerialization.data(withJSONObject: marking(object),
                                              options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return unquotingNonFiniteNumbers(data)
    }

    /// An `Encodable` value as JSON text, in the form ``encode(_:)`` writes objects.
    public static func encode<T: Encodable>(value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: nonFiniteMarker + "Infinity", negativeInfinity: nonFiniteMarker + "-Infinity",
            nan: nonFiniteMarker + "NaN")
        return unquotingNonFiniteNumbers(try encoder.encode(value))
    }

    /// Non-finite numbers are written as marked strings, then unquoted into Python's bare tokens.
    private static let nonFiniteMarker = "\u{1}prism-non-finite\u{1}"
    /// Integral floats are written as marked strings too (Foundation's writers drop the `.0`), then unquoted.
    static let floatMarker = "\u{1}prism-float\u{1}"

    private static func unquotingNonFiniteNumbers(_ data: Data) -> Data {
        var text = String(decoding: data, as: UTF8.self)
        let escapedMarker = "\\u0001prism-non-finite\\u0001"
        for token in ["NaN", "-Infinity", "Infinity"] {
            text = text.replacingOccurrences(of: "\"\(escapedMarker)\(token)\"", with: token)
        }
        text = text.replacingOccurrences(of: #""\\u0001prism-float\\u0001([-0-9.e+]+)""#, with: "$1", options: .regularExpression)
        return Data(text.utf8)
    }
}

/// A float that ``JSONFile/encode(value:)`` writes as Python does, with a decimal point when it is integral
/// (`1.0`, not `1`): transformers 5 checks config field types and refuses an int where it declares a float.
public struct JSONFloat: Encodable, Sendable {
    public let value: Double
    public init(_ value: Double) { self.value = value }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        if value.isFinite, value == value.rounded(), abs(value) < 1e16 {
            try c.encode(JSONFile.floatMarker + "\(value)")
        } else {
            try c.encode(value)
        }
    }
}
