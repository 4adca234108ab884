import Foundation

/// Where one tensor lies in a safetensors file and how to read it.
public struct SafetensorsTensorInfo: Sendable, Equatable, Hashable {
    public let name: String
    public let dtype: SafetensorsDType
    /// Dimensions, outermost first; `[]` is a scalar (one element); a 0 anywhere means no elements.
    public let shape: [Int]
    /// The tensor's bytes within the data buffer (the `data_offsets` of the header).
    public let byteRange: Range<Int>
    /// The offset of the tensor's first byte from the start of the file: header size + `byteRange.lowerBound`.
    public let fileOffset: Int

    public init(name: String, dtype: SafetensorsDType, shape: [Int], byteRange: Range<Int>, fileOffset: Int) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.byteRange = byteRange
        self.fileOffset = fileOffset
    }

    public var elementCount: Int { shape.reduce(1, *) }
    public var byteCount: Int { byteRange.count }

    /// Whether the data's address is a multiple of the element size once the file is mapped at a
    /// page-aligned address (as `SafetensorsFile` does). Zero-copy views with typed access are only safe
    /// when this is true; otherwise copy the bytes out first. Files written by the reference library and by
    /// `SafetensorsWriter` are always aligned.
    public var isAligned: Bool { fileOffset % dtype.byteSize == 0 }
}

/// The parsed, fully validated header of a safetensors file.
public struct SafetensorsHeader: Sendable, Equatable {
    /// Headers longer than this are refused (the reference implementation's limit).
    public static let maxHeaderLength = 100_000_000

    /// N, the length of the JSON header (including any trailing padding) that follows the 8-byte prefix.
    public let headerLength: Int
    /// `8 + headerLength`: where the data buffer starts in the file.
    public var dataOffset: Int { 8 + headerLength }
    /// Size of the data buffer (the bytes after the header); the tensors cover it exactly.
    public let dataLength: Int
    /// The `__metadata__` string map; empty when the file has none.
    public let metadata: [String: String]
    /// Whether the header has a `__metadata__` entry at all (even an empty one).
    public let hasMetadataEntry: Bool
    /// Tensors in file order: by offset; empty tensors sharing an offset as the writers order them
    /// (descending dtype alignment, then name), so files from `SafetensorsWriter` or the reference library
    /// list their tensors exactly in write order.
    public let tensors: [SafetensorsTensorInfo]

    /// Parses and validates the header of a whole safetensors file held in memory. Every check of the
    /// format is made here: length prefix, size limit, UTF-8, JSON syntax, keys, dtypes, shapes, offsets
    /// and their layout, and that the file ends exactly where the last tensor does.
    /// - Parameter file: the name to report in errors.
    public static func parse(fileBytes: UnsafeRawBufferPointer, file: String) throws(SafetensorsError) -> SafetensorsHeader {
        func fail(_ problem: SafetensorsError.Problem) -> SafetensorsError {
            SafetensorsError(file: file, problem: problem)
        }
        let size = fileBytes.count
        guard size >= 8 else { throw fail(.fileTooSmall(size: size)) }
        var rawLength: UInt64 = 0
        for k in 0..<8 { rawLength |= UInt64(fileBytes[k]) << (8 * UInt64(k)) }
        guard rawLength <= UInt64(maxHeaderLength) else {
            throw fail(.headerTooLarge(length: rawLength, limit: maxHeaderLength))
        }
        let n = Int(rawLength)
        guard n <= size - 8 else { throw fail(.headerTruncated(length: n, available: size - 8)) }
        let headerBytes = UnsafeRawBufferPointer(rebasing: fileBytes[8..<(8 + n)])

        if let bad = SafetensorsJSON.firstInvalidUTF8Offset(headerBytes) { throw fail(.headerNotUTF8(offset: bad)) }
        let root: JSONValue
        do {
            root = try SafetensorsJSON.parse(headerBytes)
        } catch {
            switch error {
            case .syntax(let what, let offset): throw fail(.headerNotJSON(detail: "\(what) at header byte \(offset)"))
            case .duplicateKey(let key, let path):
                let context: String
                if path.isEmpty {
                    context = "the header (a tensor name or __metadata__ appears twice)"
                } else if path == ["__metadata__"] {
                    context = "__metadata__"
                } else {
                    context = "the entry of tensor \(quoted(path[0]))"
                }
                throw fail(.duplicateKey(key: key, context: context))
            }
        }
        guard case .object(let members) = root else { throw fail(.headerNotObject(found: root.kindDescription)) }
        guard n > 0, headerBytes[0] == UInt8(ascii: "{") else { throw fail(.headerDoesNotStartWithBrace) }

        let dataLength = size - 8 - n
        var metadata: [String: String] = [:]
        var hasMetadataEntry = false
        var tensors: [SafetensorsTensorInfo] = []
        tensors.reserveCapacity(members.count)
        for member in members {
            let (name, value) = (member.key, member.value)
            if name == "__metadata__" {
                hasMetadataEntry = true
                guard case .object(let entries) = value else { throw fail(.metadataNotObject(found: value.kindDescription)) }
                for entry in entries {
                    let (key, v) = (entry.key, entry.value)
                    guard case .string(let s) = v else {
                        throw fail(.metadataValueNotString(key: key, found: v.kindDescription))
                    }
                    metadata[key] = s
                }
                continue
            }
            tensors.append(try parseTensor(name: name, value: value, dataOffset: 8 + n, fail: fail))
        }

        // Every tensor inside the buffer...
        for t in tensors where t.byteRange.upperBound > dataLength {
            throw fail(.offsetsOutOfBounds(tensor: t.name, end: t.byteRange.upperBound, bufferSize: dataLength))
        }
        // ...and together they tile it: contiguous, no overlap, no gap, nothing after the last.
        tensors.sort { a, b in
            if a.byteRange.lowerBound != b.byteRange.lowerBound { return a.byteRange.lowerBound < b.byteRange.lowerBound }
            if a.byteRange.upperBound != b.byteRange.upperBound { return a.byteRange.upperBound < b.byteRange.upperBound }
            // Only empty tensors tie; order them as the writers do (descending alignment, then name).
            if a.dtype.layoutRank != b.dtype.layoutRank { return a.dtype.layoutRank > b.dtype.layoutRank }
            return a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
        }
        var end = 0
        var lastNonEmpty: String? = nil
        for t in tensors {
            if t.byteRange.lowerBound < end {
                throw fail(.overlappingTensors(tensor: t.name, other: lastNonEmpty ?? ""))
            }
            if t.byteRange.lowerBound > end {
                throw fail(.gapBeforeTensor(tensor: t.name, gap: end..<t.byteRange.lowerBound))
            }
            if !t.byteRange.isEmpty {
                end = t.byteRange.upperBound
                lastNonEmpty = t.name
            }
        }
        if end != dataLength { throw fail(.trailingBytes(count: dataLength - end)) }

        return SafetensorsHeader(
            headerLength: n, dataLength: dataLength, metadata: metadata, hasMetadataEntry: hasMetadataEntry,
            tensors: tensors)
    }

    private static func parseTensor(
        name: String, value: JSONValue, dataOffset: Int, fail: (SafetensorsError.Problem) -> SafetensorsError
    ) throws(SafetensorsError) -> SafetensorsTensorInfo {
        guard case .object(let fields) = value else {
            throw fail(.tensorEntryNotObject(tensor: name, found: value.kindDescription))
        }
        var dtypeValue: JSONValue?
        var shapeValue: JSONValue?
        var offsetsValue: JSONValue?
        for field in fields {
            let (key, v) = (field.key, field.value)
            switch key {
            case "dtype": dtypeValue = v
            case "shape": shapeValue = v
            case "data_offsets": offsetsValue = v
            default: throw fail(.unexpectedField(tensor: name, field: key))
            }
        }
        guard let dtypeValue else { throw fail(.missingField(tensor: name, field: "dtype")) }
        guard let shapeValue else { throw fail(.missingField(tensor: name, field: "shape")) }
        guard let offsetsValue else { throw fail(.missingField(tensor: name, field: "data_offsets")) }

        guard case .string(let dtypeName) = dtypeValue else {
            throw fail(.dtypeNotString(tensor: name, found: dtypeValue.kindDescription))
        }
        guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
            if SafetensorsDType.knownUnsupportedNames.contains(dtypeName) {
                throw fail(.unsupportedDType(tensor: name, dtype: dtypeName))
            }
            throw fail(.unknownDType(tensor: name, dtype: dtypeName))
        }

        guard case .array(let dims) = shapeValue else {
            throw fail(.invalidShape(tensor: name, reason: "expected an array of non-negative integers, found \(shapeValue.kindDescription)"))
        }
        var shape: [Int] = []
        shape.reserveCapacity(dims.count)
        for d in dims {
            switch nonNegativeInteger(d) {
            case .success(let v): shape.append(v)
            case .failure(let reason): throw fail(.invalidShape(tensor: name, reason: "dimension \(shape.count) is \(reason)"))
            }
        }

        guard case .array(let offsets) = offsetsValue else {
            throw fail(.invalidDataOffsets(tensor: name, reason: "expected an array of two non-negative integers, found \(offsetsValue.kindDescription)"))
        }
        guard offsets.count == 2 else {
            throw fail(.invalidDataOffsets(tensor: name, reason: "expected two integers [begin, end], found \(offsets.count)"))
        }
        var bounds: [Int] = []
        for (k, o) in offsets.enumerated() {
            switch nonNegativeInteger(o) {
            case .success(let v): bounds.append(v)
            case .failure(let reason):
                throw fail(.invalidDataOffsets(tensor: name, reason: "\(k == 0 ? "begin" : "end") is \(reason)"))
            }
        }
        let (begin, end) = (bounds[0], bounds[1])
        guard begin <= end else {
            throw fail(.invalidDataOffsets(tensor: name, reason: "end \(end) is before begin \(begin)"))
        }

        var count = 1
        for d in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else { throw fail(.sizeOverflow(tensor: name)) }
            count = product
        }
        let (expected, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else { throw fail(.sizeOverflow(tensor: name)) }
        guard expected == end - begin else {
            throw fail(.byteLengthMismatch(tensor: name, expected: expected, actual: end - begin))
        }
        let (fileOffset, offsetOverflow) = dataOffset.addingReportingOverflow(begin)
        guard !offsetOverflow else { throw fail(.sizeOverflow(tensor: name)) }
        return SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, byteRange: begin..<end, fileOffset: fileOffset)
    }

    private enum IntegerResult {
        case success(Int)
        case failure(String)
    }

    /// A JSON value that must be a plain non-negative integer literal fitting in Int (no sign, fraction
    /// or exponent, as serde's `usize` demands).
    private static func nonNegativeInteger(_ value: JSONValue) -> IntegerResult {
        guard case .number(let text) = value else { return .failure("not an integer (found \(value.kindDescription))") }
        if text.hasPrefix("-") { return .failure("negative (\(text.prefix(40)))") }
        if text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) {
            return .failure("not an integer (\(text.prefix(40)))")
        }
        guard let v = Int(text) else { return .failure("too large (\(text.prefix(40)))") }
        return .success(v)
    }
}
