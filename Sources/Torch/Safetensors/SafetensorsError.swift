import Foundation

/// Any failure reading or writing a safetensors file. `description` is one line: `"<file>: <problem>"`.
public struct SafetensorsError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What went wrong; each distinct failure of a malformed file has its own case.
    public enum Problem: Equatable, Sendable {
        // Opening and mapping.
        case cannotOpen(reason: String)
        case notARegularFile
        case cannotMap(reason: String)
        // The 8-byte length prefix and the header bytes.
        case fileTooSmall(size: Int)
        case headerTooLarge(length: UInt64, limit: Int)
        case headerTruncated(length: Int, available: Int)
        case headerNotUTF8(offset: Int)
        case headerNotJSON(detail: String)
        case headerNotObject(found: String)
        case headerDoesNotStartWithBrace
        case duplicateKey(key: String, context: String)
        // __metadata__.
        case metadataNotObject(found: String)
        case metadataValueNotString(key: String, found: String)
        // One tensor entry.
        case tensorEntryNotObject(tensor: String, found: String)
        case missingField(tensor: String, field: String)
        case unexpectedField(tensor: String, field: String)
        case dtypeNotString(tensor: String, found: String)
        case unknownDType(tensor: String, dtype: String)
        case unsupportedDType(tensor: String, dtype: String)
        case invalidShape(tensor: String, reason: String)
        case invalidDataOffsets(tensor: String, reason: String)
        case sizeOverflow(tensor: String)
        case byteLengthMismatch(tensor: String, expected: Int, actual: Int)
        // The layout of all tensors in the data buffer.
        case offsetsOutOfBounds(tensor: String, end: Int, bufferSize: Int)
        case overlappingTensors(tensor: String, other: String)
        case gapBeforeTensor(tensor: String, gap: Range<Int>)
        case trailingBytes(count: Int)
        // Lookups.
        case tensorNotFound(name: String)
        // Writing.
        case invalidTensorName(name: String, reason: String)
        case duplicateTensor(name: String)
        case invalidTensor(name: String, reason: String)
        case writeFailed(reason: String)
    }

    /// The file the problem concerns (its path), or a placeholder for a writer that has no file yet.
    public let file: String
    public let problem: Problem

    public init(file: String, problem: Problem) {
        self.file = file
        self.problem = problem
    }

    public var description: String { "\(file): \(message)" }

    /// The problem alone, without the file name: one line.
    public var message: String {
        switch problem {
        case .cannotOpen(let reason): "cannot open the file: \(reason)"
        case .notARegularFile: "not a regular file"
        case .cannotMap(let reason): "cannot memory-map the file: \(reason)"
        case .fileTooSmall(let size):
            "file is truncated: \(size) bytes is too small to hold the 8-byte header length"
        case .headerTooLarge(let length, let limit):
            "header length \(length) exceeds the limit of \(limit) bytes"
        case .headerTruncated(let length, let available):
            "file is truncated: header length is \(length) bytes but only \(available) bytes follow the length prefix"
        case .headerNotUTF8(let offset): "header is not valid UTF-8 (at header byte \(offset))"
        case .headerNotJSON(let detail): "header is not valid JSON: \(detail)"
        case .headerNotObject(let found): "header JSON is not an object (found \(found))"
        case .headerDoesNotStartWithBrace: "header does not start with '{'"
        case .duplicateKey(let key, let context): "duplicate key \(quoted(key)) in \(context)"
        case .metadataNotObject(let found): "__metadata__ is not an object (found \(found))"
        case .metadataValueNotString(let key, let found):
            "metadata value for key \(quoted(key)) is not a string (found \(found))"
        case .tensorEntryNotObject(let tensor, let found):
            "entry for tensor \(quoted(tensor)) is not an object (found \(found))"
        case .missingField(let tensor, let field): "tensor \(quoted(tensor)) is missing the field \"\(field)\""
        case .unexpectedField(let tensor, let field):
            "tensor \(quoted(tensor)) has an unexpected field \(quoted(field))"
        case .dtypeNotString(let tensor, let found): "dtype of tensor \(quoted(tensor)) is not a string (found \(found))"
        case .unknownDType(let tensor, let dtype): "tensor \(quoted(tensor)) has unknown dtype \(quoted(dtype))"
        case .unsupportedDType(let tensor, let dtype):
            "tensor \(quoted(tensor)) has unsupported dtype \(quoted(dtype)) (supported: "
                + SafetensorsDType.allCases.map(\.rawValue).joined(separator: ", ") + ")"
        case .invalidShape(let tensor, let reason): "invalid shape for tensor \(quoted(tensor)): \(reason)"
        case .invalidDataOffsets(let tensor, let reason):
            "invalid data_offsets for tensor \(quoted(tensor)): \(reason)"
        case .sizeOverflow(let tensor): "size of tensor \(quoted(tensor)) overflows (shape × dtype size is too large)"
        case .byteLengthMismatch(let tensor, let expected, let actual):
            "byte length mismatch for tensor \(quoted(tensor)): shape × dtype size is \(expected) bytes but data_offsets span \(actual) bytes"
        case .offsetsOutOfBounds(let tensor, let end, let bufferSize):
            "data_offsets of tensor \(quoted(tensor)) are out of bounds: end \(end) is past the data buffer of \(bufferSize) bytes (file truncated?)"
        case .overlappingTensors(let tensor, let other):
            "overlapping data_offsets: tensor \(quoted(tensor)) overlaps tensor \(quoted(other))"
        case .gapBeforeTensor(let tensor, let gap):
            "gap in data_offsets: bytes \(gap.lowerBound)..<\(gap.upperBound) of the data buffer before tensor \(quoted(tensor)) belong to no tensor"
        case .trailingBytes(let count): "\(count) trailing bytes after the last tensor belong to no tensor"
        case .tensorNotFound(let name): "no tensor named \(quoted(name))"
        case .invalidTensorName(let name, let reason): "invalid tensor name \(quoted(name)): \(reason)"
        case .duplicateTensor(let name): "duplicate tensor name \(quoted(name))"
        case .invalidTensor(let name, let reason): "invalid tensor \(quoted(name)): \(reason)"
        case .writeFailed(let reason): "cannot write the file: \(reason)"
        }
    }
}

/// A name in double quotes with control characters, quotes and backslashes escaped, so a message stays
/// on one line whatever the file contains; very long names are shortened.
func quoted(_ s: String) -> String {
    var out = "\""
    var count = 0
    for scalar in s.unicodeScalars {
        if count == 200 {
            out += "…"
            break
        }
        count += 1
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F || (0x80..<0xA0).contains(scalar.value)
                || scalar.value == 0x2028 || scalar.value == 0x2029
            {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}
