import Foundation
import Testing

@testable import Torch

// MARK: - Helpers

private let fixturesFolder = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    .appendingPathComponent("safetensors")

private func fixture(_ name: String) -> URL { fixturesFolder.appendingPathComponent(name) }

/// A fresh temporary folder, removed after `body`.
private func withTemporaryFolder<R>(_ body: (URL) throws -> R) throws -> R {
    let folder = FileManager.default.temporaryDirectory
        .appendingPathComponent("prism-safetensors-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    return try body(folder)
}

/// A safetensors file from a header string and data bytes; the length prefix is the header's byte
/// count unless `length` overrides it. `pad` adds spaces up to a multiple of 8 as writers do.
private func fileBytes(_ header: String, data: [UInt8] = [], length: UInt64? = nil, pad: Bool = true) -> [UInt8] {
    var h = Array(header.utf8)
    if pad { h += [UInt8](repeating: 0x20, count: (8 - h.count % 8) % 8) }
    let n = length ?? UInt64(h.count)
    return (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) } + h + data
}

/// Writes `bytes` to a file called `name`, opens it and returns the error it must raise. Checks that
/// the error names the file, is one line, and that its message contains `phrase`.
@discardableResult
private func expectFailure(
    _ bytes: [UInt8], name: String, phrase: String, sourceLocation: SourceLocation = #_sourceLocation
) throws -> SafetensorsError.Problem? {
    try withTemporaryFolder { folder in
        let url = folder.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        let error = #expect(throws: SafetensorsError.self, sourceLocation: sourceLocation) {
            _ = try SafetensorsFile(url: url)
        }
        guard let error else { return nil }
        #expect(error.file == url.path, sourceLocation: sourceLocation)
        #expect(error.description.hasPrefix(url.path + ": "), sourceLocation: sourceLocation)
        #expect(error.description.contains(name), sourceLocation: sourceLocation)
        #expect(error.description.contains(phrase), "\(error.description)", sourceLocation: sourceLocation)
        #expect(!error.description.contains("\n"), sourceLocation: sourceLocation)
        // The same bytes in memory fail the same way.
        let inMemory = bytes.withUnsafeBytes { buffer in
            Result { () throws(SafetensorsError) in try SafetensorsHeader.parse(fileBytes: buffer, file: url.path) }
        }
        if case .failure(let other) = inMemory {
            #expect(other == error, sourceLocation: sourceLocation)
        } else {
            Issue.record("in-memory parse accepted what the file reader refused", sourceLocation: sourceLocation)
        }
        return error.problem
    }
}

private func hex(_ bytes: some Sequence<UInt8>) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

private func littleEndian(_ bytes: UnsafeRawBufferPointer, at offset: Int, count: Int) -> UInt64 {
    var v: UInt64 = 0
    for k in 0..<count { v |= UInt64(bytes[offset + k]) << (8 * UInt64(k)) }
    return v
}

private func halfToDouble(_ h: UInt16) -> Double {
    let sign = (h >> 15) != 0 ? -1.0 : 1.0
    let exponent = Int((h >> 10) & 0x1F)
    let fraction = Double(h & 0x3FF)
    switch exponent {
    case 0: return sign * fraction * 0x1p-24
    case 31: return fraction == 0 ? sign * .infinity : .nan
    default: return sign * (1 + fraction / 1024) * Double(sign: .plus, exponent: exponent - 15, significand: 1)
    }
}

/// Element `i` of a tensor as a Double (floating dtypes) or its exact integer text (integer dtypes).
private enum Element: Equatable {
    case real(Double)
    case integer(String)
}

private func element(_ bytes: UnsafeRawBufferPointer, _ dtype: SafetensorsDType, _ i: Int) -> Element {
    let size = dtype.byteSize
    let raw = littleEndian(bytes, at: i * size, count: size)
    switch dtype {
    case .F64: return .real(Double(bitPattern: raw))
    case .F32: return .real(Double(Float(bitPattern: UInt32(raw))))
    case .F16: return .real(halfToDouble(UInt16(raw)))
    case .BF16: return .real(Double(Float(bitPattern: UInt32(raw) << 16)))
    case .I64: return .integer(String(Int64(bitPattern: raw)))
    case .I32: return .integer(String(Int32(bitPattern: UInt32(raw))))
    case .I16: return .integer(String(Int16(bitPattern: UInt16(raw))))
    case .I8: return .integer(String(Int8(bitPattern: UInt8(raw))))
    case .U8, .BOOL: return .integer(String(raw))
    }
}

private func expectSameElement(_ actual: Element, _ expectedText: String, _ context: String) {
    switch actual {
    case .integer(let text):
        #expect(text == expectedText, "\(context)")
    case .real(let value):
        guard let expected = Double(expectedText) else {
            Issue.record("cannot parse \(expectedText) (\(context))")
            return
        }
        if expected.isNaN {
            #expect(value.isNaN, "\(context)")
        } else {
            #expect(value == expected && value.sign == expected.sign, "\(context): \(value) vs \(expected)")
        }
    }
}

/// The sidecar written by scripts/make_safetensors_fixtures.py.
private struct Sidecar: Decodable {
    struct Tensor: Decodable {
        let name: String
        let dtype: String
        let shape: [Int]
        let data_offsets: [Int]
        let hex: String
        let values: [String]
    }
    struct File: Decodable {
        let header_length: Int
        let file_size: Int
        let metadata: [String: String]?
        let tensors: [Tensor]
    }
    static func load() throws -> [String: File] {
        try JSONDecoder().decode([String: File].self, from: Data(contentsOf: fixture("fixtures.json")))
    }
}

/// Deterministic, distinctive bytes.
private func pattern(_ count: Int, seed: UInt8) -> Data {
    Data((0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ Int(seed) &* 11 &+ 1) })
}

// MARK: - Reading the reference library's files

@Suite("SafetensorsTests") struct SafetensorsTests {
    @Test func dtypeNamesAndSizes() {
        #expect(SafetensorsDType.allCases.count == 10)
        let sizes = Dictionary(uniqueKeysWithValues: SafetensorsDType.allCases.map { ($0.rawValue, $0.byteSize) })
        #expect(sizes == ["F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1])
    }

    @Test func readsPythonFixturesAgainstSidecar() throws {
        let sidecar = try Sidecar.load()
        #expect(Set(sidecar.keys) == ["all_dtypes.safetensors", "special.safetensors", "no_tensors.safetensors"])
        for (name, expected) in sidecar {
            let file = try SafetensorsFile(url: fixture(name))
            #expect(file.fileSize == expected.file_size, "\(name)")
            #expect(file.header.headerLength == expected.header_length, "\(name)")
            #expect(file.dataOffset % 8 == 0, "\(name)")
            #expect(file.metadata == (expected.metadata ?? [:]), "\(name)")
            #expect(file.header.hasMetadataEntry == (expected.metadata != nil), "\(name)")
            #expect(file.tensors.map(\.name) == expected.tensors.map(\.name), "\(name)")
            for (info, want) in zip(file.tensors, expected.tensors) {
                let context = "\(name) \(info.name)"
                #expect(info.dtype.rawValue == want.dtype, "\(context)")
                #expect(info.shape == want.shape, "\(context)")
                #expect(info.byteRange == want.data_offsets[0]..<want.data_offsets[1], "\(context)")
                #expect(info.fileOffset == 8 + expected.header_length + want.data_offsets[0], "\(context)")
                #expect(info.elementCount == want.values.count, "\(context)")
                #expect(file.info(info.name) == info, "\(context)")
                let bytes = file.bytes(of: info)
                #expect(hex(bytes) == want.hex, "\(context)")
                for (i, text) in want.values.enumerated() {
                    expectSameElement(element(bytes, info.dtype, i), text, "\(context)[\(i)]")
                }
            }
        }
    }

    @Test func pythonFixtureCoversEveryDTypeWithMetadata() throws {
        let file = try SafetensorsFile(url: fixture("all_dtypes.safetensors"))
        #expect(Set(file.tensors.map(\.dtype)) == Set(SafetensorsDType.allCases))
        #expect(file.metadata["format"] == "pt")
        #expect(file.metadata["note"] == "Prism fixture é \"quoted\" back\\slash\nnew line\u{1}")
        #expect(file.metadata["a"] == "")
        #expect(file.tensors.allSatisfy { $0.isAligned })
        // Byte order of names within a dtype, as the reference writes them.
        let f32 = file.tensors.filter { $0.dtype == .F32 }.map(\.name)
        #expect(f32 == ["Z", "a.10", "a.9", "f32", "é"])
    }

    @Test func pythonScalarAndEmptyTensors() throws {
        let file = try SafetensorsFile(url: fixture("special.safetensors"))
        #expect(file.header.hasMetadataEntry)
        #expect(file.metadata.isEmpty)
        let scalar = try #require(file.info("scalar"))
        #expect(scalar.shape == [])
        #expect(scalar.elementCount == 1)
        #expect(try file.withBytes(of: "scalar") { element($0, .F32, 0) } == .real(3.25))
        for name in ["empty", "empty_3d"] {
            let info = try #require(file.info(name))
            #expect(info.elementCount == 0)
            #expect(info.byteCount == 0)
            #expect(try file.withBytes(of: name) { $0.count } == 0)
        }
        #expect(file.info("empty_3d")?.shape == [2, 0, 3])
        // "odd" (3 bytes of U8) leaves the BOOL after it at an odd offset: still aligned for 1-byte elements.
        #expect(file.info("after_odd")?.fileOffset == file.dataOffset + 7)
        #expect(file.info("after_odd")?.isAligned == true)
        #expect(try file.data(of: "odd") == Data([1, 2, 3]))
    }

    @Test func pythonFileWithNoTensors() throws {
        let file = try SafetensorsFile(url: fixture("no_tensors.safetensors"))
        #expect(file.tensors.isEmpty)
        #expect(file.metadata.isEmpty)
        #expect(!file.header.hasMetadataEntry)
        #expect(file.fileSize == 16)
        #expect(file.dataBuffer.count == 0)
    }

    // MARK: - Writing

    @Test func swiftWritesByteIdenticalFilesToPython() throws {
        for name in ["all_dtypes.safetensors", "special.safetensors", "no_tensors.safetensors"] {
            let original = try SafetensorsFile(url: fixture(name))
            var writer = SafetensorsWriter(metadata: original.header.hasMetadataEntry ? original.metadata : nil)
            // Added in reverse order: the writer must restore the reference layout on its own.
            for info in original.tensors.reversed() {
                try writer.add(info.name, dtype: info.dtype, shape: info.shape, bytes: Data(original.bytes(of: info)))
            }
            let written = try writer.serialized()
            let expected = try Data(contentsOf: fixture(name))
            #expect(written == expected, "\(name)")
            #expect(writer.layout == original.tensors, "\(name)")
        }
    }

    @Test func roundTripOfEveryDType() throws {
        try withTemporaryFolder { folder in
            let url = folder.appendingPathComponent("round trip.safetensors")
            var writer = SafetensorsWriter(metadata: ["framework": "prism", "unicode": "Ω ✓ \u{1F600}", "empty": ""])
            var expected: [String: (SafetensorsDType, [Int], Data)] = [:]
            for (k, dtype) in SafetensorsDType.allCases.enumerated() {
                let shapes: [[Int]] = [[3, 5], [], [0], [7]]
                for (j, shape) in shapes.enumerated() {
                    let name = "layer.\(k).\(dtype.rawValue.lowercased()).\(j)"
                    var bytes = pattern(shape.reduce(1, *) * dtype.byteSize, seed: UInt8(k * 4 + j))
                    if dtype == .BOOL { bytes = Data(bytes.map { $0 & 1 }) }  // only 0 and 1 are valid bools
                    try writer.add(name, dtype: dtype, shape: shape, bytes: bytes)
                    expected[name] = (dtype, shape, bytes)
                }
            }
            try writer.write(to: url)
            // Development hook: `PRISM_SAFETENSORS_EXPORT=/some/folder swift test ...` keeps a copy, for
            // `scripts/make_safetensors_fixtures.py --verify` to load with the reference library.
            if let export = ProcessInfo.processInfo.environment["PRISM_SAFETENSORS_EXPORT"] {
                try? FileManager.default.removeItem(atPath: export + "/swift_round_trip.safetensors")
                try FileManager.default.copyItem(atPath: url.path, toPath: export + "/swift_round_trip.safetensors")
            }

            let file = try SafetensorsFile(url: url)
            #expect(file.metadata == writer.metadata)
            #expect(file.tensors.count == expected.count)
            #expect(file.dataOffset % 8 == 0)
            for info in file.tensors {
                let (dtype, shape, bytes) = try #require(expected[info.name])
                #expect(info.dtype == dtype)
                #expect(info.shape == shape)
                #expect(info.isAligned, "\(info.name)")
                #expect(try file.data(of: info.name) == bytes, "\(info.name)")
            }
            #expect(file.tensors == writer.layout)
        }
    }

    @Test func byteProviderStreamsChunks() throws {
        var writer = SafetensorsWriter()
        let values: [Float] = (0..<10).map { Float($0) * 0.5 }
        try writer.add("w", dtype: .F32, shape: [2, 5], byteCount: 40) { emit in
            try values.withUnsafeBytes { all in
                try emit(UnsafeRawBufferPointer(rebasing: all[0..<12]))
                try emit(UnsafeRawBufferPointer(rebasing: all[12..<40]))
            }
        }
        let data = try writer.serialized()
        let header = try data.withUnsafeBytes { try SafetensorsHeader.parse(fileBytes: $0, file: "memory") }
        let info = try #require(header.tensors.first)
        #expect(data.subdata(in: info.fileOffset..<(info.fileOffset + 40)) == values.withUnsafeBytes { Data($0) })

        var short = SafetensorsWriter()
        try short.add("w", dtype: .F32, shape: [2], byteCount: 8) { emit in
            try emit(UnsafeRawBufferPointer(start: nil, count: 0))
        }
        let error = #expect(throws: SafetensorsError.self) { _ = try short.serialized() }
        #expect(error?.description.contains("supplied 0 bytes, expected 8") == true)
    }

    @Test func writerReplacesExistingFileAtomically() throws {
        try withTemporaryFolder { folder in
            let url = folder.appendingPathComponent("model.safetensors")
            var first = SafetensorsWriter(metadata: ["version": "1"])
            try first.add("x", dtype: .I32, shape: [2], bytes: Data([1, 0, 0, 0, 2, 0, 0, 0]))
            try first.write(to: url)
            let old = try SafetensorsFile(url: url)  // maps the first file
            var second = SafetensorsWriter(metadata: ["version": "2"])
            try second.add("y", dtype: .U8, shape: [3], bytes: Data([7, 8, 9]))
            try second.write(to: url)

            let reread = try SafetensorsFile(url: url)
            #expect(reread.metadata == ["version": "2"])
            #expect(try reread.data(of: "y") == Data([7, 8, 9]))
            #expect(reread.info("x") == nil)
            // The mapping of the replaced file is unaffected by the rename.
            #expect(try old.data(of: "x") == Data([1, 0, 0, 0, 2, 0, 0, 0]))
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["model.safetensors"])
        }
    }

    @Test func failedWriteLeavesDestinationAndNoTemporaryFile() throws {
        struct ProviderFailure: Error {}
        try withTemporaryFolder { folder in
            let url = folder.appendingPathComponent("keep.safetensors")
            var good = SafetensorsWriter()
            try good.add("a", dtype: .U8, shape: [1], bytes: Data([42]))
            try good.write(to: url)
            let before = try Data(contentsOf: url)

            var bad = SafetensorsWriter()
            try bad.add("a", dtype: .F64, shape: [1], byteCount: 8) { _ in throw ProviderFailure() }
            #expect(throws: ProviderFailure.self) { try bad.write(to: url) }
            #expect(try Data(contentsOf: url) == before)
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["keep.safetensors"])

            let missing = folder.appendingPathComponent("no such folder/x.safetensors")
            let error = #expect(throws: SafetensorsError.self) { try good.write(to: missing) }
            #expect(error?.description.hasPrefix(missing.path) == true)
        }
    }

    @Test func writerRejectsInvalidTensors() throws {
        var writer = SafetensorsWriter()
        try writer.add("a", dtype: .F32, shape: [1], bytes: Data(count: 4))
        let duplicate = #expect(throws: SafetensorsError.self) {
            try writer.add("a", dtype: .F32, shape: [1], bytes: Data(count: 4))
        }
        #expect(duplicate?.problem == .duplicateTensor(name: "a"))
        let wrongSize = #expect(throws: SafetensorsError.self) {
            try writer.add("b", dtype: .F32, shape: [2, 2], bytes: Data(count: 15))
        }
        #expect(wrongSize?.description.contains("needs 16 bytes but 15 were given") == true)
        let negative = #expect(throws: SafetensorsError.self) {
            try writer.add("c", dtype: .U8, shape: [-1], bytes: Data())
        }
        #expect(negative?.description.contains("negative dimension") == true)
        let reserved = #expect(throws: SafetensorsError.self) {
            try writer.add("__metadata__", dtype: .U8, shape: [0], bytes: Data())
        }
        #expect(reserved?.description.contains("reserved") == true)
        let overflow = #expect(throws: SafetensorsError.self) {
            try writer.add("d", dtype: .F64, shape: [1 << 40, 1 << 30], bytes: Data())
        }
        #expect(overflow?.problem == .sizeOverflow(tensor: "d"))
        #expect(writer.tensorNames == ["a"])
    }

    // MARK: - Zero-copy access

    @Test func viewsPointIntoTheMapping() throws {
        let file = try SafetensorsFile(url: fixture("all_dtypes.safetensors"))
        let base = UInt(bitPattern: file.baseAddress)
        #expect(base % 4096 == 0)
        for info in file.tensors {
            let view = file.bytes(of: info)
            #expect(view.baseAddress == file.baseAddress + info.fileOffset)
            #expect(UInt(bitPattern: view.baseAddress!) % UInt(info.dtype.byteSize) == 0, "\(info.name)")
            try file.withBytes(of: info.name) { #expect($0.baseAddress == view.baseAddress) }
        }
        #expect(file.dataBuffer.baseAddress == file.baseAddress + file.dataOffset)
        #expect(file.dataBuffer.count == file.fileSize - file.dataOffset)
    }

    @Test func copyOnWriteMappingNeverTouchesTheFile() throws {
        try withTemporaryFolder { folder in
            let url = folder.appendingPathComponent("cow.safetensors")
            var writer = SafetensorsWriter()
            try writer.add("v", dtype: .U8, shape: [4], bytes: Data([1, 2, 3, 4]))
            try writer.write(to: url)
            let before = try Data(contentsOf: url)
            let file = try SafetensorsFile(url: url, mode: .copyOnWrite)
            let view = file.bytes(of: try file.requireInfo("v"))
            UnsafeMutableRawPointer(mutating: view.baseAddress!).storeBytes(of: 99, as: UInt8.self)
            #expect(try file.data(of: "v") == Data([99, 2, 3, 4]))
            #expect(try Data(contentsOf: url) == before)
            #expect(try SafetensorsFile(url: url).data(of: "v") == Data([1, 2, 3, 4]))
        }
    }

    @Test func missingTensorNamesTheFile() throws {
        let file = try SafetensorsFile(url: fixture("special.safetensors"))
        let error = #expect(throws: SafetensorsError.self) { try file.withBytes(of: "nope") { $0.count } }
        #expect(error?.problem == .tensorNotFound(name: "nope"))
        #expect(error?.description.contains("special.safetensors: no tensor named \"nope\"") == true)
    }

    @Test func missingFileAndFolder() throws {
        let missing = fixture("does-not-exist.safetensors")
        let error = #expect(throws: SafetensorsError.self) { _ = try SafetensorsFile(url: missing) }
        #expect(error?.description.contains("does-not-exist.safetensors: cannot open the file") == true)
        let folder = #expect(throws: SafetensorsError.self) { _ = try SafetensorsFile(url: fixturesFolder) }
        #expect(folder?.problem == .notARegularFile)
    }

    // MARK: - Malformed files: each a distinct, named error

    @Test func emptyFile() throws {
        let p = try expectFailure([], name: "empty.safetensors", phrase: "truncated: 0 bytes is too small")
        #expect(p == .fileTooSmall(size: 0))
    }

    @Test func truncatedBelowEightBytes() throws {
        let p = try expectFailure([8, 0, 0, 0, 0], name: "tiny.safetensors", phrase: "5 bytes is too small to hold the 8-byte header length")
        #expect(p == .fileTooSmall(size: 5))
    }

    @Test func truncatedHeader() throws {
        let full = fileBytes(#"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}"#, data: [1, 2])
        let p = try expectFailure(Array(full.prefix(30)), name: "cut-header.safetensors", phrase: "file is truncated: header length is 56 bytes but only 22 bytes follow")
        #expect(p == .headerTruncated(length: 56, available: 22))
    }

    @Test func truncatedData() throws {
        let full = fileBytes(#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: [UInt8](repeating: 1, count: 16))
        let p = try expectFailure(Array(full.dropLast(3)), name: "cut-data.safetensors", phrase: "out of bounds: end 16 is past the data buffer of 13 bytes")
        #expect(p == .offsetsOutOfBounds(tensor: "a", end: 16, bufferSize: 13))
    }

    @Test func everyPrefixOfAValidFileIsRejected() throws {
        let bytes = try [UInt8](Data(contentsOf: fixture("all_dtypes.safetensors")))
        bytes.withUnsafeBytes { all in
            for length in 0..<all.count {
                let prefix = UnsafeRawBufferPointer(rebasing: all[0..<length])
                #expect(throws: SafetensorsError.self) { try SafetensorsHeader.parse(fileBytes: prefix, file: "p") }
            }
        }
    }

    @Test func mutatedHeadersNeverCrash() throws {
        var bytes = try [UInt8](Data(contentsOf: fixture("special.safetensors")))
        let headerEnd = 8 + 320
        var accepted = 0
        for position in 0..<headerEnd {
            let original = bytes[position]
            for replacement: UInt8 in [0x00, 0x22, 0x2D, 0x30, 0x39, 0x5B, 0x7B, 0x7D, 0xFF, original ^ 0x01] {
                bytes[position] = replacement
                let ok = bytes.withUnsafeBytes { (try? SafetensorsHeader.parse(fileBytes: $0, file: "m")) != nil }
                if ok { accepted += 1 }
            }
            bytes[position] = original
        }
        // Some mutations are harmless (inside names or the padding); most must be refused.
        #expect(accepted < headerEnd * 10 / 4)
    }

    @Test func hugeHeaderLength() throws {
        let p = try expectFailure(fileBytes("{}", length: 1 << 62), name: "huge.safetensors", phrase: "header length 4611686018427387904 exceeds the limit of 100000000 bytes")
        #expect(p == .headerTooLarge(length: 1 << 62, limit: 100_000_000))
    }

    @Test func headerLengthJustOverTheLimit() throws {
        let p = try expectFailure(fileBytes("{}", length: 100_000_001), name: "over.safetensors", phrase: "exceeds the limit")
        #expect(p == .headerTooLarge(length: 100_000_001, limit: 100_000_000))
    }

    @Test func maximalHeaderLength() throws {
        // u64 max must not overflow anywhere.
        try expectFailure(fileBytes("{}", length: .max), name: "max.safetensors", phrase: "header length 18446744073709551615 exceeds")
    }

    @Test func headerNotUTF8() throws {
        var bytes = fileBytes(#"{"__metadata__":{"k":"v"}}"#)
        bytes[8 + 22] = 0xC3  // a lead byte followed by '"'
        let p = try expectFailure(bytes, name: "utf8.safetensors", phrase: "header is not valid UTF-8 (at header byte 22)")
        #expect(p == .headerNotUTF8(offset: 22))
    }

    @Test func headerNotJSON() throws {
        let p = try expectFailure(fileBytes("{this is not json}"), name: "notjson.safetensors", phrase: "header is not valid JSON: expected a string key")
        guard case .headerNotJSON = p else { Issue.record("\(String(describing: p))"); return }
    }

    @Test func headerWithTrailingGarbage() throws {
        try expectFailure(fileBytes("{} x"), name: "garbage.safetensors", phrase: "unexpected content after the JSON value at header byte 3")
    }

    @Test func headerPaddedWithSpacesIsAccepted() throws {
        try withTemporaryFolder { folder in
            let url = folder.appendingPathComponent("padded.safetensors")
            try Data(fileBytes("{}" + String(repeating: " ", count: 14), pad: false)).write(to: url)
            #expect(try SafetensorsFile(url: url).tensors.isEmpty)
        }
    }

    @Test func headerJSONNotAnObject() throws {
        let p = try expectFailure(fileBytes("[1, 2]"), name: "array.safetensors", phrase: "header JSON is not an object (found an array)")
        #expect(p == .headerNotObject(found: "an array"))
    }

    @Test func headerNotStartingWithBrace() throws {
        let p = try expectFailure(fileBytes(" {}"), name: "space.safetensors", phrase: "header does not start with '{'")
        #expect(p == .headerDoesNotStartWithBrace)
    }

    @Test func emptyHeader() throws {
        try expectFailure(fileBytes("", pad: false), name: "nohdr.safetensors", phrase: "header is not valid JSON: unexpected end of header")
    }

    @Test func deeplyNestedHeaderDoesNotOverflowTheStack() throws {
        let header = #"{"__metadata__":"# + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}"
        try expectFailure(fileBytes(header), name: "deep.safetensors", phrase: "nesting deeper than 64 levels")
    }

    @Test func invalidStringEscape() throws {
        try expectFailure(fileBytes(#"{"__metadata__":{"k":"\x"}}"#), name: "escape.safetensors", phrase: "invalid escape sequence")
    }

    @Test func loneSurrogateEscape() throws {
        try expectFailure(fileBytes(#"{"__metadata__":{"k":"\ud800"}}"#), name: "surrogate.safetensors", phrase: "lone high surrogate")
    }

    @Test func unknownDType() throws {
        let p = try expectFailure(
            fileBytes(#"{"w":{"dtype":"F8_E9","shape":[1],"data_offsets":[0,1]}}"#, data: [0]),
            name: "dtype.safetensors", phrase: "tensor \"w\" has unknown dtype \"F8_E9\"")
        #expect(p == .unknownDType(tensor: "w", dtype: "F8_E9"))
    }

    @Test func unsupportedDType() throws {
        let p = try expectFailure(
            fileBytes(#"{"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}"#, data: [0]),
            name: "fp8.safetensors", phrase: "tensor \"w\" has unsupported dtype \"F8_E4M3\" (supported: F64, F32")
        #expect(p == .unsupportedDType(tensor: "w", dtype: "F8_E4M3"))
    }

    @Test func dtypeNotAString() throws {
        let p = try expectFailure(
            fileBytes(#"{"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
            name: "dtypenum.safetensors", phrase: "dtype of tensor \"w\" is not a string (found the number 4)")
        #expect(p == .dtypeNotString(tensor: "w", found: "the number 4"))
    }

    @Test func shapeTimesDTypeSizeDiffersFromByteLength() throws {
        let p = try expectFailure(
            fileBytes(#"{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}"#, data: [UInt8](repeating: 0, count: 20)),
            name: "mismatch.safetensors", phrase: "byte length mismatch for tensor \"w\": shape × dtype size is 24 bytes but data_offsets span 20 bytes")
        #expect(p == .byteLengthMismatch(tensor: "w", expected: 24, actual: 20))
    }

    @Test func shapeProductOverflows() throws {
        let p = try expectFailure(
            fileBytes(#"{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}"#),
            name: "overflow.safetensors", phrase: "overflows")
        #expect(p == .sizeOverflow(tensor: "w"))
    }

    @Test func offsetsOutOfBounds() throws {
        let header = #"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[100,104]}}"#
        let p = try expectFailure(fileBytes(header, data: [1, 2, 3, 4]), name: "bounds.safetensors", phrase: "data_offsets of tensor \"b\" are out of bounds: end 104")
        #expect(p == .offsetsOutOfBounds(tensor: "b", end: 104, bufferSize: 4))
    }

    @Test func overlappingOffsets() throws {
        let header = #"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}"#
        let p = try expectFailure(fileBytes(header, data: [UInt8](repeating: 0, count: 6)), name: "overlap.safetensors", phrase: "overlapping data_offsets: tensor \"b\" overlaps tensor \"a\"")
        #expect(p == .overlappingTensors(tensor: "b", other: "a"))
    }

    @Test func identicalOffsetsOverlap() throws {
        let header = #"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}"#
        let p = try expectFailure(fileBytes(header, data: [0, 0, 0, 0]), name: "alias.safetensors", phrase: "overlapping data_offsets")
        #expect(p == .overlappingTensors(tensor: "a", other: "b"))
    }

    @Test func emptyTensorInsideAnotherOverlaps() throws {
        let header = #"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"e":{"dtype":"U8","shape":[0],"data_offsets":[2,2]}}"#
        let p = try expectFailure(fileBytes(header, data: [0, 0, 0, 0]), name: "inside.safetensors", phrase: "overlapping data_offsets")
        #expect(p == .overlappingTensors(tensor: "e", other: "a"))
    }

    @Test func gapInOffsets() throws {
        let header = #"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}}"#
        let p = try expectFailure(fileBytes(header, data: [UInt8](repeating: 0, count: 8)), name: "gap.safetensors", phrase: "gap in data_offsets: bytes 4..<6 of the data buffer before tensor \"b\"")
        #expect(p == .gapBeforeTensor(tensor: "b", gap: 4..<6))
    }

    @Test func firstTensorNotAtZero() throws {
        let header = #"{"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}"#
        let p = try expectFailure(fileBytes(header, data: [0, 0, 0, 0]), name: "start.safetensors", phrase: "gap in data_offsets: bytes 0..<2")
        #expect(p == .gapBeforeTensor(tensor: "a", gap: 0..<2))
    }

    @Test func trailingBytesAfterLastTensor() throws {
        let header = #"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}"#
        let p = try expectFailure(fileBytes(header, data: [0, 0, 9, 9, 9]), name: "trailing.safetensors", phrase: "3 trailing bytes after the last tensor")
        #expect(p == .trailingBytes(count: 3))
    }

    @Test func dataWithoutTensors() throws {
        let p = try expectFailure(fileBytes("{}", data: [1]), name: "orphan.safetensors", phrase: "1 trailing bytes")
        #expect(p == .trailingBytes(count: 1))
    }

    @Test func endBeforeBegin() throws {
        let header = #"{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}"#
        let p = try expectFailure(fileBytes(header, data: [0, 0, 0, 0]), name: "reversed.safetensors", phrase: "invalid data_offsets for tensor \"a\": end 0 is before begin 4")
        #expect(p == .invalidDataOffsets(tensor: "a", reason: "end 0 is before begin 4"))
    }

    @Test func dataOffsetsNotAPair() throws {
        let header = #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}}"#
        try expectFailure(fileBytes(header, data: [0]), name: "triple.safetensors", phrase: "expected two integers [begin, end], found 3")
    }

    @Test func negativeDataOffset() throws {
        let header = #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}}"#
        try expectFailure(fileBytes(header, data: [0]), name: "negoffset.safetensors", phrase: "invalid data_offsets for tensor \"a\": begin is negative (-1)")
    }

    @Test func negativeShape() throws {
        let header = #"{"a":{"dtype":"U8","shape":[-2],"data_offsets":[0,0]}}"#
        let p = try expectFailure(fileBytes(header), name: "negshape.safetensors", phrase: "invalid shape for tensor \"a\": dimension 0 is negative (-2)")
        #expect(p == .invalidShape(tensor: "a", reason: "dimension 0 is negative (-2)"))
    }

    @Test func nonIntegerShape() throws {
        let header = #"{"a":{"dtype":"U8","shape":[2.0],"data_offsets":[0,2]}}"#
        let p = try expectFailure(fileBytes(header, data: [0, 0]), name: "floatshape.safetensors", phrase: "dimension 0 is not an integer (2.0)")
        #expect(p == .invalidShape(tensor: "a", reason: "dimension 0 is not an integer (2.0)"))
    }

    @Test func shapeDimensionTooLarge() throws {
        let header = #"{"a":{"dtype":"U8","shape":[99999999999999999999],"data_offsets":[0,2]}}"#
        try expectFailure(fileBytes(header, data: [0, 0]), name: "bigdim.safetensors", phrase: "dimension 0 is too large")
    }

    @Test func shapeNotAnArray() throws {
        let header = #"{"a":{"dtype":"U8","shape":"2","data_offsets":[0,2]}}"#
        try expectFailure(fileBytes(header, data: [0, 0]), name: "strshape.safetensors", phrase: "expected an array of non-negative integers, found a string")
    }

    @Test func metadataValueNotAString() throws {
        let p = try expectFailure(fileBytes(#"{"__metadata__":{"epoch":3}}"#), name: "meta.safetensors", phrase: "metadata value for key \"epoch\" is not a string (found the number 3)")
        #expect(p == .metadataValueNotString(key: "epoch", found: "the number 3"))
    }

    @Test func metadataNotAnObject() throws {
        let p = try expectFailure(fileBytes(#"{"__metadata__":null}"#), name: "metanull.safetensors", phrase: "__metadata__ is not an object (found null)")
        #expect(p == .metadataNotObject(found: "null"))
    }

    @Test func duplicateTensorName() throws {
        let entry = #""a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}"#
        let p = try expectFailure(fileBytes("{\(entry),\(entry)}", data: [0]), name: "dup.safetensors", phrase: "duplicate key \"a\" in the header")
        #expect(p == .duplicateKey(key: "a", context: "the header (a tensor name or __metadata__ appears twice)"))
    }

    @Test func duplicateFieldInTensorEntry() throws {
        let header = #"{"a":{"dtype":"U8","dtype":"I8","shape":[1],"data_offsets":[0,1]}}"#
        let p = try expectFailure(fileBytes(header, data: [0]), name: "dupfield.safetensors", phrase: "duplicate key \"dtype\" in the entry of tensor \"a\"")
        #expect(p == .duplicateKey(key: "dtype", context: "the entry of tensor \"a\""))
    }

    @Test func duplicateMetadataKey() throws {
        try expectFailure(fileBytes(#"{"__metadata__":{"k":"1","k":"2"}}"#), name: "dupmeta.safetensors", phrase: "duplicate key \"k\" in __metadata__")
    }

    @Test func missingField() throws {
        let p = try expectFailure(fileBytes(#"{"a":{"dtype":"U8","shape":[1]}}"#), name: "missing.safetensors", phrase: "tensor \"a\" is missing the field \"data_offsets\"")
        #expect(p == .missingField(tensor: "a", field: "data_offsets"))
    }

    @Test func unexpectedField() throws {
        let header = #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"stride":[1]}}"#
        let p = try expectFailure(fileBytes(header, data: [0]), name: "extra.safetensors", phrase: "tensor \"a\" has an unexpected field \"stride\"")
        #expect(p == .unexpectedField(tensor: "a", field: "stride"))
    }

    @Test func tensorEntryNotAnObject() throws {
        let p = try expectFailure(fileBytes(#"{"a":[0,1]}"#), name: "entry.safetensors", phrase: "entry for tensor \"a\" is not an object (found an array)")
        #expect(p == .tensorEntryNotObject(tensor: "a", found: "an array"))
    }

    @Test func hostileNamesStayOnOneLine() throws {
        let header = #"{"evil\nname\u0000":{"dtype":"Q","shape":[],"data_offsets":[0,0]}}"#
        try expectFailure(fileBytes(header), name: "evil.safetensors", phrase: #"tensor "evil\nname\u{0}" has unknown dtype "Q""#)
    }
}
