// libFuzzer target: Prism's own PNG decoder (Sources/Imaging/PNG.swift, zlib through CZlib), which reads every
// PNG of a dataset (NIH ChestX-ray14 ships PNGs, some of them RGBA).
//
// Each input is decoded twice: as it is, and with its checksums repaired (every chunk CRC, and the zlib stream's
// header check and Adler-32), so that mutated pixel data and chunk fields reach the filters and the unpacking instead
// of stopping at the first checksum. Checked on every input:
// - decoding never traps and never allocates without bound, and every failure is an ImagingError naming the file;
// - a decoded image is consistent (size, channels, depth, samples within range);
// - it is the image libpng decodes from the same bytes, when libpng reads them too (Fuzz/png_reference.c);
// - it survives the encoder: PNG.encode then PNG.decode gives back the same image.
import CZlib
import Foundation
import Imaging
import PNGReference

private let fileName = "fuzz.png"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    check(input)
    if let fixed = withRepairedChecksums(input), fixed != input { check(fixed) }
    return 0
}

private func check(_ input: [UInt8]) {
    let image: Image
    do {
        image = try PNG.decode(Data(input), name: fileName)
    } catch let error as ImagingError {
        check(error.file == fileName, "the error names \(error.file), not the file")
        check(!error.description.contains("\n"), "not a one-line message: \(error)")
        return
    } catch {
        fail("PNG.decode threw \(type(of: error)), not an ImagingError: \(error)")
    }
    check(image.samples.count == image.width * image.height * image.channels, "sample count")
    let maximum = UInt16(image.maxValue)
    check(image.samples.allSatisfy { $0 <= maximum }, "a sample above \(maximum) at bit depth \(image.bitDepth)")

    // libpng is stricter in places (chunk order) and more lenient in others (ancillary CRCs, extra data): images
    // are compared only when both read the file.
    var reference = png_reference_image()
    if png_reference_decode(input, input.count, &reference) == 0 {
        defer { png_reference_free(&reference) }
        check(Int(reference.width) == image.width && Int(reference.height) == image.height
              && Int(reference.channels) == image.channels && Int(reference.bit_depth) == image.bitDepth,
              "libpng reads \(reference.width)x\(reference.height)x\(reference.channels) at \(reference.bit_depth) bits, "
                  + "Prism \(image.width)x\(image.height)x\(image.channels) at \(image.bitDepth)")
        let samples = UnsafeBufferPointer(start: reference.samples, count: image.samples.count)
        if let i = (0..<samples.count).first(where: { samples[$0] != image.samples[$0] }) {
            fail("sample \(i) is \(image.samples[i]), libpng's is \(samples[i])")
        }
    }

    // Round trip (at the fastest compression level: this checks the codec, not zlib's effort); large images are
    // left out to keep the executions fast.
    guard image.samples.count <= 1 << 22 else { return }
    do {
        let again = try PNG.decode(PNG.encode(image, compressionLevel: 1), name: "re-encoded")
        check(again == image, "encode + decode changes the image")
    } catch {
        fail("the encoder's PNG does not decode: \(error)")
    }
}

/// The input with the checksums a mutation breaks put right: the zlib header's check bits and Adler-32 of the
/// IDAT stream (when it inflates, to at most 64 MiB), then every chunk's CRC. Nil for what is not a PNG.
private func withRepairedChecksums(_ input: [UInt8]) -> [UInt8]? {
    guard input.count >= 8, input[0..<8].elementsEqual([137, 80, 78, 71, 13, 10, 26, 10]) else { return nil }
    var out = input
    func be32(_ at: Int) -> Int { Int(out[at]) << 24 | Int(out[at + 1]) << 16 | Int(out[at + 2]) << 8 | Int(out[at + 3]) }
    func put32(_ v: UInt32, at: Int) { for k in 0..<4 { out[at + k] = UInt8(truncatingIfNeeded: v >> (24 - 8 * UInt32(k))) } }
    var chunks: [(start: Int, length: Int)] = []
    var idat: [Int] = []  // the file offset of each byte of the IDAT stream
    var pos = 8
    while pos + 12 <= out.count {
        let length = be32(pos)
        guard length <= out.count - pos - 12 else { break }
        chunks.append((pos, length))
        if out[(pos + 4)..<(pos + 8)].elementsEqual(Array("IDAT".utf8)) { idat += (pos + 8)..<(pos + 8 + length) }
        pos += 12 + length
    }
    if idat.count >= 6 {
        // CMF, FLG: compression method 8, no preset dictionary, FCHECK making the pair a multiple of 31.
        out[idat[0]] = (out[idat[0]] & 0x70) | 0x08
        out[idat[1]] &= 0xC0
        out[idat[1]] |= UInt8(31 - (Int(out[idat[0]]) * 256 + Int(out[idat[1]])) % 31) % 31
        let stream = idat.map { out[$0] }
        if let (consumed, adler) = rawInflate(Array(stream[2...])), 2 + consumed + 4 <= stream.count {
            for k in 0..<4 { out[idat[2 + consumed + k]] = UInt8(truncatingIfNeeded: adler >> (24 - 8 * UInt32(k))) }
        }
    }
    for (start, length) in chunks {
        let crc = out.withUnsafeBufferPointer { crc32(0, $0.baseAddress! + start + 4, uInt(length + 4)) }
        put32(UInt32(crc), at: start + 8 + length)
    }
    return out
}

/// Inflates a raw deflate stream; the bytes it used and the Adler-32 of what it produced, or nil when it is not a
/// complete stream or inflates to more than 64 MiB.
private func rawInflate(_ input: [UInt8]) -> (Int, UInt32)? {
    var stream = z_stream()
    guard inflateInit2_(&stream, -15, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
    defer { inflateEnd(&stream) }
    var adler = adler32(0, nil, 0)
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    var produced = 0
    return input.withUnsafeBufferPointer { inp -> (Int, UInt32)? in
        stream.next_in = UnsafeMutablePointer(mutating: inp.baseAddress!)
        stream.avail_in = uInt(inp.count)
        while true {
            let status: Int32 = buffer.withUnsafeMutableBufferPointer { b in
                stream.next_out = b.baseAddress!
                stream.avail_out = uInt(b.count)
                return inflate(&stream, Z_NO_FLUSH)
            }
            let n = buffer.count - Int(stream.avail_out)
            produced += n
            adler = buffer.withUnsafeBufferPointer { adler32(adler, $0.baseAddress!, uInt(n)) }
            if status == Z_STREAM_END { return (Int(stream.total_in), UInt32(adler)) }
            if status != Z_OK || produced > 64 << 20 { return nil }
        }
    }
}

private func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fail(message()) }
}

private func fail(_ message: String) -> Never {
    fatalError("png fuzz: \(message)")
}
