// libFuzzer target: the safetensors header parser, the first thing Prism runs on a downloaded weight file.
//
// The input is a whole file (8-byte length, JSON header, data buffer). scripts/fuzz compiles the pure-Swift part of
// Sources/Torch/Safetensors (every file there but the mmap/libtorch one) as a module named Torch, so no libtorch is
// needed. Checked on every input:
// - parsing never traps, and every failure is a one-line SafetensorsError naming the file;
// - an accepted header is consistent (tensors tile the data buffer, sizes match shapes and dtypes);
// - writing the accepted tensors again with SafetensorsWriter gives a file that parses to the same tensors, bytes
//   and metadata, and writing that one gives the identical file (the writer is deterministic).
import Foundation
import Torch

private let fileName = "fuzz.safetensors"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let header: SafetensorsHeader
    do {
        header = try SafetensorsHeader.parse(fileBytes: bytes, file: fileName)
    } catch {
        check(error.file == fileName, "the error names \(error.file), not the file")
        check(!error.message.isEmpty && !error.description.contains("\n"), "not a one-line message: \(error)")
        return 0
    }

    // The header as parsed is consistent.
    check(header.dataOffset + header.dataLength == size, "data offset + length != file size")
    var end = 0
    for t in header.tensors {
        check(t.byteRange.lowerBound == end || t.byteRange.isEmpty, "tensors do not tile the buffer")
        check(t.byteCount == t.elementCount * t.dtype.byteSize, "size does not match the shape")
        check(t.fileOffset == header.dataOffset + t.byteRange.lowerBound, "file offset")
        end = max(end, t.byteRange.upperBound)
    }
    check(end == header.dataLength, "tensors do not cover the buffer")

    // Round trip through the writer.
    var writer = SafetensorsWriter(metadata: header.hasMetadataEntry ? header.metadata : nil)
    var original: [String: (SafetensorsTensorInfo, Data)] = [:]
    for t in header.tensors {
        let content = Data(bytes[t.fileOffset..<(t.fileOffset + t.byteCount)])
        original[t.name] = (t, content)
        do {
            try writer.add(t.name, dtype: t.dtype, shape: t.shape, bytes: content)
        } catch {
            fail("the writer refuses tensor \(t.name) that the parser accepted: \(error)")
        }
    }
    let written: Data
    do { written = try writer.serialized() } catch { fail("the writer fails on an accepted file: \(error)") }
    let reparsed = written.withUnsafeBytes { raw -> SafetensorsHeader in
        do { return try SafetensorsHeader.parse(fileBytes: raw, file: fileName) } catch {
            fail("the writer's output does not parse: \(error)")
        }
    }
    check(reparsed.metadata == header.metadata && reparsed.hasMetadataEntry == header.hasMetadataEntry, "metadata differs")
    check(reparsed.tensors.count == header.tensors.count, "tensor count differs")
    written.withUnsafeBytes { raw in
        for t in reparsed.tensors {
            guard let (old, content) = original[t.name] else { fail("tensor \(t.name) appeared") }
            check(old.dtype == t.dtype && old.shape == t.shape, "tensor \(t.name) changed")
            check(Data(raw[t.fileOffset..<(t.fileOffset + t.byteCount)]) == content, "tensor \(t.name)'s bytes changed")
            check(t.isAligned, "the writer left \(t.name) unaligned")
        }
    }
    var again = SafetensorsWriter(metadata: reparsed.hasMetadataEntry ? reparsed.metadata : nil)
    written.withUnsafeBytes { raw in
        for t in reparsed.tensors {
            try! again.add(t.name, dtype: t.dtype, shape: t.shape, bytes: Data(raw[t.fileOffset..<(t.fileOffset + t.byteCount)]))
        }
    }
    check((try? again.serialized()) == written, "writing the written file again changes it")
    return 0
}

private func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fail(message()) }
}

private func fail(_ message: String) -> Never {
    fatalError("safetensors fuzz: \(message)")
}
