import Foundation

/// A strict RFC 8259 JSON parser for safetensors headers: objects keep their key order and reject
/// duplicate keys, numbers keep their literal text (so integers are never routed through Double), and
/// nesting is limited so a hostile header cannot exhaust the stack. The input must already be valid
/// UTF-8 (checked by `SafetensorsJSON.firstInvalidUTF8Offset`).
enum JSONValue {
    case object([JSONMember])
    case array([JSONValue])
    case string(String)
    case number(String)
    case bool(Bool)
    case null

    /// What this value is, for error messages.
    var kindDescription: String {
        switch self {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .number(let text): "the number \(text.count > 40 ? String(text.prefix(40)) + "…" : text)"
        case .bool(let b): b ? "true" : "false"
        case .null: "null"
        }
    }
}

struct JSONMember {
    let key: String
    let value: JSONValue
}

enum SafetensorsJSON {
    enum Failure: Error {
        case syntax(String, offset: Int)
        case duplicateKey(String, path: [String])
    }

    static let maxDepth = 64

    /// The offset of the first byte that is not part of a well-formed UTF-8 sequence, or nil.
    static func firstInvalidUTF8Offset(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var i = 0
        let n = bytes.count
        while i < n {
            let b0 = bytes[i]
            if b0 < 0x80 {
                i += 1
                continue
            }
            let length: Int
            var lowerBound: UInt8 = 0x80
            var upperBound: UInt8 = 0xBF
            switch b0 {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; lowerBound = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; upperBound = 0x9F  // no UTF-16 surrogates
            case 0xF0: length = 4; lowerBound = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; upperBound = 0x8F
            default: return i
            }
            if i + length > n { return i }
            let b1 = bytes[i + 1]
            if b1 < lowerBound || b1 > upperBound { return i }
            for k in 2..<max(2, length) where bytes[i + k] & 0xC0 != 0x80 { return i }
            i += length
        }
        return nil
    }

    /// Parses one JSON value followed only by JSON whitespace.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws(Failure) -> JSONValue {
        var parser = Parser(bytes: bytes)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0, path: [])
        parser.skipWhitespace()
        if parser.i != bytes.count {
            throw .syntax("unexpected content after the JSON value", offset: parser.i)
        }
        return value
    }

    private struct Parser {
        let bytes: UnsafeRawBufferPointer
        var i = 0

        init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        mutating func skipWhitespace() {
            while i < bytes.count {
                switch bytes[i] {
                case 0x20, 0x09, 0x0A, 0x0D: i += 1
                default: return
                }
            }
        }

        func describeByte(_ offset: Int) -> String {
            guard offset < bytes.count else { return "end of header" }
            let b = bytes[offset]
            if b >= 0x21 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
            return "byte 0x\(String(b, radix: 16))"
        }

        mutating func parseValue(depth: Int, path: [String]) throws(Failure) -> JSONValue {
            guard depth < SafetensorsJSON.maxDepth else {
                throw .syntax("nesting deeper than \(SafetensorsJSON.maxDepth) levels", offset: i)
            }
            guard i < bytes.count else { throw .syntax("unexpected end of header", offset: i) }
            switch bytes[i] {
            case UInt8(ascii: "{"): return try parseObject(depth: depth, path: path)
            case UInt8(ascii: "["): return try parseArray(depth: depth, path: path)
            case UInt8(ascii: "\""): return .string(try parseString())
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
            case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
            case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
            case UInt8(ascii: "n"): try expectLiteral("null"); return .null
            default: throw .syntax("unexpected \(describeByte(i)) where a value was expected", offset: i)
            }
        }

        mutating func expectLiteral(_ literal: StaticString) throws(Failure) {
            let start = i
            let n = literal.utf8CodeUnitCount
            guard i + n <= bytes.count else { throw .syntax("invalid literal", offset: start) }
            for k in 0..<n where bytes[i + k] != literal.utf8Start[k] {
                throw .syntax("invalid literal", offset: start)
            }
            i += n
        }

        mutating func parseObject(depth: Int, path: [String]) throws(Failure) -> JSONValue {
            i += 1  // {
            var members: [JSONMember] = []
            var seen = Set<String>()
            skipWhitespace()
            if i < bytes.count && bytes[i] == UInt8(ascii: "}") {
                i += 1
                return .object(members)
            }
            while true {
                skipWhitespace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else {
                    throw .syntax("expected a string key but found \(describeByte(i))", offset: i)
                }
                let key = try parseString()
                skipWhitespace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else {
                    throw .syntax("expected ':' but found \(describeByte(i))", offset: i)
                }
                i += 1
                skipWhitespace()
                let value = try parseValue(depth: depth + 1, path: path + [key])
                guard seen.insert(key).inserted else { throw .duplicateKey(key, path: path) }
                members.append(JSONMember(key: key, value: value))
                skipWhitespace()
                guard i < bytes.count else { throw .syntax("unexpected end of header inside an object", offset: i) }
                if bytes[i] == UInt8(ascii: ",") {
                    i += 1
                } else if bytes[i] == UInt8(ascii: "}") {
                    i += 1
                    return .object(members)
                } else {
                    throw .syntax("expected ',' or '}' but found \(describeByte(i))", offset: i)
                }
            }
        }

        mutating func parseArray(depth: Int, path: [String]) throws(Failure) -> JSONValue {
            i += 1  // [
            var elements: [JSONValue] = []
            skipWhitespace()
            if i < bytes.count && bytes[i] == UInt8(ascii: "]") {
                i += 1
                return .array(elements)
            }
            while true {
                skipWhitespace()
                elements.append(try parseValue(depth: depth + 1, path: path))
                skipWhitespace()
                guard i < bytes.count else { throw .syntax("unexpected end of header inside an array", offset: i) }
                if bytes[i] == UInt8(ascii: ",") {
                    i += 1
                } else if bytes[i] == UInt8(ascii: "]") {
                    i += 1
                    return .array(elements)
                } else {
                    throw .syntax("expected ',' or ']' but found \(describeByte(i))", offset: i)
                }
            }
        }

        mutating func parseNumber() throws(Failure) -> String {
            let start = i
            func digits(_ p: inout Parser) -> Int {
                let s = p.i
                while p.i < p.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(p.bytes[p.i]) { p.i += 1 }
                return p.i - s
            }
            if bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard i < bytes.count else { throw .syntax("invalid number", offset: start) }
            if bytes[i] == UInt8(ascii: "0") {
                i += 1
            } else if digits(&self) == 0 {
                throw .syntax("invalid number", offset: start)
            }
            if i < bytes.count && bytes[i] == UInt8(ascii: ".") {
                i += 1
                if digits(&self) == 0 { throw .syntax("invalid number", offset: start) }
            }
            if i < bytes.count && (bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E")) {
                i += 1
                if i < bytes.count && (bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-")) { i += 1 }
                if digits(&self) == 0 { throw .syntax("invalid number", offset: start) }
            }
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
        }

        mutating func hex4() throws(Failure) -> UInt32 {
            guard i + 4 <= bytes.count else { throw .syntax("truncated \\u escape", offset: i) }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let b = bytes[i]
                let d: UInt32
                switch b {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(b - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(b - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(b - UInt8(ascii: "A") + 10)
                default: throw .syntax("invalid \\u escape", offset: i)
                }
                v = v << 4 | d
                i += 1
            }
            return v
        }

        mutating func parseString() throws(Failure) -> String {
            let start = i
            i += 1  // opening quote
            var out: [UInt8] = []
            while true {
                guard i < bytes.count else { throw .syntax("unterminated string", offset: start) }
                let b = bytes[i]
                if b == UInt8(ascii: "\"") {
                    i += 1
                    return String(decoding: out, as: UTF8.self)
                }
                if b < 0x20 { throw .syntax("unescaped control character in a string", offset: i) }
                if b != UInt8(ascii: "\\") {
                    out.append(b)
                    i += 1
                    continue
                }
                i += 1
                guard i < bytes.count else { throw .syntax("unterminated string", offset: start) }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    let escapeStart = i - 2
                    var code = try hex4()
                    if (0xDC00...0xDFFF).contains(code) {
                        throw .syntax("lone low surrogate in \\u escape", offset: escapeStart)
                    }
                    if (0xD800...0xDBFF).contains(code) {
                        guard i + 2 <= bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u")
                        else { throw .syntax("lone high surrogate in \\u escape", offset: escapeStart) }
                        i += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else {
                            throw .syntax("lone high surrogate in \\u escape", offset: escapeStart)
                        }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    // Valid by construction: not a surrogate, at most 0x10FFFF.
                    out.append(contentsOf: String(Character(Unicode.Scalar(code)!)).utf8)
                default:
                    throw .syntax("invalid escape sequence", offset: i - 2)
                }
            }
        }
    }

    // MARK: - Writing, byte-compatible with serde_json's compact output.

    static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x08: out += [0x5C, UInt8(ascii: "b")]
            case 0x0C: out += [0x5C, UInt8(ascii: "f")]
            case 0x0A: out += [0x5C, UInt8(ascii: "n")]
            case 0x0D: out += [0x5C, UInt8(ascii: "r")]
            case 0x09: out += [0x5C, UInt8(ascii: "t")]
            case 0x00..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                out += Array("\\u00".utf8) + [hex[Int(b >> 4)], hex[Int(b & 0xF)]]
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
