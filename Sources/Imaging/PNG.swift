import Core
import CZlib
import Foundation

/// PNG decoding and encoding (ISO/IEC 15948), with every chunk CRC and the zlib stream checked.
///
/// Decoding reads all colour types and bit depths: gray 1/2/4/8/16, gray + alpha 8/16, RGB 8/16,
/// palette 1/2/4/8 (expanded to RGB, or RGBA when a `tRNS` chunk gives alpha), RGBA 8/16, interlaced
/// (Adam7) or not. Gray below 8 bits is scaled to 8 bits. A `tRNS` colour key on gray or RGB images is
/// ignored (no alpha channel is synthesised). Ancillary chunks (gAMA, text, ...) are skipped.
///
/// Encoding writes 8/16-bit gray, gray + alpha, RGB and RGBA, non-interlaced, with the usual adaptive
/// per-row filter choice (minimum sum of absolute differences).
public enum PNG {
    static let signature: [UInt8] = [137, 80, 78, 71, 13, 10, 26, 10]

    /// Decodes PNG bytes. `name` is used in error messages (pass the file path).
    public static func decode(_ data: Data, name: String = "PNG data") throws -> Image {
        try data.withUnsafeBytes { raw in
            try Decoder(bytes: raw.bindMemory(to: UInt8.self), name: name).decode()
        }
    }

    /// Encodes an image. `compressionLevel` is zlib's 0 (store) ... 9 (smallest).
    public static func encode(_ image: Image, compressionLevel: Int = 6) -> Data {
        Encoder.encode(image, level: compressionLevel)
    }
}

extension Image {
    /// Reads a PNG file; errors name the file.
    public init(contentsOfPNG url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ImagingError.io(file: url.path, detail: "cannot read (\(error.localizedDescription))")
        }
        self = try PNG.decode(data, name: url.path)
    }

    /// The image as PNG bytes.
    public func pngData(compressionLevel: Int = 6) -> Data {
        PNG.encode(self, compressionLevel: compressionLevel)
    }

    /// Writes the image as a PNG, atomically (temporary name in the same folder, then rename).
    public func writePNG(to url: URL, compressionLevel: Int = 6) throws {
        try writeImageFile(pngData(compressionLevel: compressionLevel), to: url)
    }

    /// Writes the image as PNG or JPEG (quality 95) by the file's extension, atomically.
    public func write(to url: URL) throws {
        switch ImageFileFormat(extensionOf: url) {
        case .png: try writePNG(to: url)
        case .jpeg: try writeImageFile(JPEG.encode(self), to: url)
        case nil: throw ImagingError.unsupported(file: url.path, detail: "unknown image extension (use .png, .jpg or .jpeg)")
        }
    }

    /// Core's atomic writer; a failure stays an ImagingError, the one error every image read and write throws.
    private func writeImageFile(_ data: Data, to url: URL) throws {
        do { try writeAtomically(data, to: url) } catch let error as FileSystemError {
            throw ImagingError.io(file: error.path, detail: error.reason)
        }
    }
}

/// The formats `Image.write(to:)` writes, told by the file's extension.
public enum ImageFileFormat: Sendable {
    case png, jpeg

    /// .png (or no extension) and .jpg/.jpeg, any case; nil for anything else.
    public init?(extensionOf url: URL) {
        switch url.pathExtension.lowercased() {
        case "png", "": self = .png
        case "jpg", "jpeg": self = .jpeg
        default: return nil
        }
    }
}

// MARK: - Decoder

private struct Header {
    var width: Int, height: Int, bitDepth: Int, colorType: Int, interlaced: Bool

    /// Samples per pixel in the file.
    var fileChannels: Int {
        switch colorType { case 0, 3: return 1; case 4: return 2; case 2: return 3; default: return 4 }
    }
    var bitsPerPixel: Int { fileChannels * bitDepth }
    func rowBytes(_ w: Int) -> Int { (w * bitsPerPixel + 7) / 8 }
}

/// Adam7 passes: (x0, y0, dx, dy).
private let adam7: [(Int, Int, Int, Int)] = [
    (0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2),
]

private struct Decoder {
    let bytes: UnsafeBufferPointer<UInt8>
    let name: String

    func truncated(_ d: String) -> ImagingError { .truncated(file: name, detail: d) }
    func corrupt(_ d: String) -> ImagingError { .corrupt(file: name, detail: d) }
    func unsupported(_ d: String) -> ImagingError { .unsupported(file: name, detail: d) }

    func be32(_ at: Int) -> UInt32 {
        UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
    }

    func decode() throws -> Image {
        guard bytes.count >= 8 else { throw truncated("\(bytes.count) bytes, shorter than the PNG signature") }
        guard Array(bytes[0..<8]) == PNG.signature else { throw corrupt("not a PNG file (bad signature)") }

        var header: Header?
        var palette: [UInt8] = []
        var paletteAlpha: [UInt8] = []
        var idat: [UInt8] = []
        var sawEnd = false
        var pos = 8
        while pos < bytes.count {
            guard pos + 8 <= bytes.count else { throw truncated("incomplete chunk header at byte \(pos)") }
            let length = Int(be32(pos))
            let typeBytes = Array(bytes[(pos + 4)..<(pos + 8)])
            let type = String(decoding: typeBytes, as: UTF8.self)
            let shown = chunkName(typeBytes)
            guard length <= 0x7FFF_FFFF else { throw corrupt("chunk \(shown) at byte \(pos) has length \(length)") }
            guard pos + 12 + length <= bytes.count else {
                throw truncated("chunk \(shown) at byte \(pos) needs \(length + 12) bytes, only \(bytes.count - pos) left")
            }
            let dataStart = pos + 8
            let stored = be32(dataStart + length)
            let computed = UInt32(crc32(0, bytes.baseAddress! + pos + 4, uInt(length + 4)))
            guard stored == computed else {
                throw corrupt("CRC mismatch in chunk \(shown) at byte \(pos) (stored \(hex(stored)), computed \(hex(computed)))")
            }
            let body = UnsafeBufferPointer(rebasing: bytes[dataStart..<(dataStart + length)])
            if header == nil && type != "IHDR" { throw corrupt("first chunk is \(shown), expected IHDR") }
            switch type {
            case "IHDR": header = try parseHeader(body)
            case "PLTE":
                guard length % 3 == 0, length > 0, length <= 768 else { throw corrupt("PLTE length \(length)") }
                palette = Array(body)
            case "tRNS": if header?.colorType == 3 { paletteAlpha = Array(body) }
            case "IDAT": idat.append(contentsOf: body)
            case "IEND": sawEnd = true
            default:
                // Bit 5 of the first type byte clear = critical chunk: we must not ignore it.
                if typeBytes[0] & 0x20 == 0 { throw unsupported("unknown critical chunk \(shown)") }
            }
            pos += 12 + length
            if sawEnd { break }
        }
        guard let h = header else { throw truncated("no IHDR chunk") }
        guard sawEnd else { throw truncated("no IEND chunk (the file ends at byte \(bytes.count))") }
        guard !idat.isEmpty else { throw corrupt("no IDAT chunk") }
        if h.colorType == 3 && palette.isEmpty { throw corrupt("palette image without PLTE chunk") }

        let passes: [(x0: Int, y0: Int, dx: Int, dy: Int, w: Int, h: Int)] = (h.interlaced ? adam7 : [(0, 0, 1, 1)])
            .map { p in (p.0, p.1, p.2, p.3, (h.width - p.0 + p.2 - 1) / p.2, (h.height - p.1 + p.3 - 1) / p.3) }
            .map { p in (p.0, p.1, p.2, p.3, max(p.4, 0), max(p.5, 0)) }
        let expected = passes.reduce(0) { $0 + ($1.w == 0 ? 0 : $1.h * (1 + h.rowBytes($1.w))) }
        var raw = try inflate(idat, expected: expected)

        let outChannels = h.colorType == 3 ? (paletteAlpha.isEmpty ? 3 : 4) : h.fileChannels
        let outDepth = h.bitDepth == 16 ? 16 : 8
        var samples = [UInt16](repeating: 0, count: h.width * h.height * outChannels)
        var offset = 0
        for p in passes where p.w > 0 && p.h > 0 {
            let rb = h.rowBytes(p.w)
            try unfilter(&raw, offset: offset, rowBytes: rb, rows: p.h, bpp: max(1, h.bitsPerPixel / 8))
            try raw.withUnsafeBufferPointer { r in
                try samples.withUnsafeMutableBufferPointer { s in
                    for row in 0..<p.h {
                        let line = UnsafeBufferPointer(rebasing: r[(offset + row * (rb + 1) + 1)..<(offset + (row + 1) * (rb + 1))])
                        let y = p.y0 + row * p.dy
                        try unpack(line, header: h, count: p.w, palette: palette, alpha: paletteAlpha,
                                   into: s, start: (y * h.width + p.x0) * outChannels,
                                   stride: p.dx * outChannels, channels: outChannels)
                    }
                }
            }
            offset += p.h * (rb + 1)
        }
        return Image(width: h.width, height: h.height, channels: outChannels, bitDepth: outDepth, samples: samples)
    }

    func parseHeader(_ b: UnsafeBufferPointer<UInt8>) throws -> Header {
        guard b.count == 13 else { throw corrupt("IHDR length \(b.count), expected 13") }
        let w = Int(UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3]))
        let hgt = Int(UInt32(b[4]) << 24 | UInt32(b[5]) << 16 | UInt32(b[6]) << 8 | UInt32(b[7]))
        let depth = Int(b[8]), color = Int(b[9])
        guard w > 0, hgt > 0, w <= 1 << 16, hgt <= 1 << 16 else { throw unsupported("image size \(w)x\(hgt)") }
        guard w * hgt <= Image.maxDecodedPixels else {
            throw unsupported("image size \(w)x\(hgt) is more than the \(Image.maxDecodedPixels) pixels Prism decodes")
        }
        let allowed: [Int: [Int]] = [0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]]
        guard let depths = allowed[color] else { throw corrupt("colour type \(color) does not exist") }
        guard depths.contains(depth) else { throw corrupt("bit depth \(depth) is invalid for colour type \(color)") }
        guard b[10] == 0 else { throw corrupt("compression method \(b[10])") }
        guard b[11] == 0 else { throw corrupt("filter method \(b[11])") }
        guard b[12] <= 1 else { throw corrupt("interlace method \(b[12])") }
        return Header(width: w, height: hgt, bitDepth: depth, colorType: color, interlaced: b[12] == 1)
    }

    func inflate(_ input: [UInt8], expected: Int) throws -> [UInt8] {
        // The output grows with what the stream holds, up to what the header implies plus one spare byte (filling it
        // means more data than the header allows): a small file claiming a large image costs no more than its data.
        let capacity = expected + 1
        var out = [UInt8](repeating: 0, count: min(capacity, 1 << 20))
        var stream = z_stream()
        guard inflateInit_(&stream, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw corrupt("zlib initialisation failed")
        }
        defer { inflateEnd(&stream) }
        var status: Int32 = Z_OK
        input.withUnsafeBufferPointer { inp in
            stream.next_in = UnsafeMutablePointer(mutating: inp.baseAddress!)
            stream.avail_in = uInt(inp.count)
            while true {
                let produced = Int(stream.total_out)
                if produced == out.count {
                    if out.count == capacity { break }
                    out.append(contentsOf: repeatElement(0, count: min(out.count, capacity - out.count)))
                }
                status = out.withUnsafeMutableBufferPointer { o in
                    stream.next_out = o.baseAddress! + produced
                    stream.avail_out = uInt(o.count - produced)
                    return CZlib.inflate(&stream, Z_NO_FLUSH)
                }
                // Z_BUF_ERROR with room left in the output: the input ran out.
                if status != Z_OK && !(status == Z_BUF_ERROR && stream.avail_out == 0) { break }
            }
        }
        let produced = Int(stream.total_out)
        switch status {
        case Z_STREAM_END:
            guard produced == expected else {
                throw corrupt("image data inflates to \(produced) bytes, the header needs \(expected)")
            }
        case Z_OK, Z_BUF_ERROR where produced == capacity:
            throw corrupt("image data inflates to more than the \(expected) bytes the header allows")
        case Z_BUF_ERROR:
            throw truncated("compressed image data ends early (\(produced) of \(expected) bytes)")
        default:
            let msg = stream.msg.map { String(cString: $0) } ?? "error \(status)"
            throw corrupt("compressed image data: \(msg)")
        }
        out.removeSubrange(expected...)
        return out
    }

    func unfilter(_ raw: inout [UInt8], offset: Int, rowBytes rb: Int, rows: Int, bpp: Int) throws {
        try raw.withUnsafeMutableBufferPointer { r in
            for row in 0..<rows {
                let start = offset + row * (rb + 1)
                let filter = r[start]
                let cur = start + 1
                let prev = cur - (rb + 1)   // only read when row > 0
                switch filter {
                case 0: break
                case 1:
                    for i in bpp..<max(rb, bpp) where i < rb { r[cur + i] = r[cur + i] &+ r[cur + i - bpp] }
                case 2:
                    if row > 0 { for i in 0..<rb { r[cur + i] = r[cur + i] &+ r[prev + i] } }
                case 3:
                    for i in 0..<rb {
                        let a = i >= bpp ? Int(r[cur + i - bpp]) : 0
                        let b = row > 0 ? Int(r[prev + i]) : 0
                        r[cur + i] = r[cur + i] &+ UInt8((a + b) >> 1)
                    }
                case 4:
                    for i in 0..<rb {
                        let a = i >= bpp ? Int(r[cur + i - bpp]) : 0
                        let b = row > 0 ? Int(r[prev + i]) : 0
                        let c = (i >= bpp && row > 0) ? Int(r[prev + i - bpp]) : 0
                        r[cur + i] = r[cur + i] &+ UInt8(paeth(a, b, c))
                    }
                default:
                    throw corrupt("unknown filter type \(filter) on row \(row)")
                }
            }
        }
    }

    func unpack(_ line: UnsafeBufferPointer<UInt8>, header h: Header, count: Int, palette: [UInt8],
                alpha: [UInt8], into s: UnsafeMutableBufferPointer<UInt16>, start: Int, stride: Int,
                channels: Int) throws {
        var o = start
        if h.bitDepth == 16 {
            let n = h.fileChannels
            for x in 0..<count {
                for c in 0..<n {
                    let i = (x * n + c) * 2
                    s[o + c] = UInt16(line[i]) << 8 | UInt16(line[i + 1])
                }
                o += stride
            }
        } else if h.bitDepth == 8 && h.colorType != 3 {
            let n = h.fileChannels
            for x in 0..<count {
                for c in 0..<n { s[o + c] = UInt16(line[x * n + c]) }
                o += stride
            }
        } else {
            // Packed (1/2/4-bit) gray, or palette at any depth.
            let d = h.bitDepth, mask = (1 << d) - 1
            let colours = palette.count / 3
            for x in 0..<count {
                let bit = x * d
                let v = (Int(line[bit >> 3]) >> (8 - d - (bit & 7))) & mask
                if h.colorType == 3 {
                    guard v < colours else { throw corrupt("palette index \(v) with \(colours) colours") }
                    s[o] = UInt16(palette[v * 3]); s[o + 1] = UInt16(palette[v * 3 + 1]); s[o + 2] = UInt16(palette[v * 3 + 2])
                    if channels == 4 { s[o + 3] = v < alpha.count ? UInt16(alpha[v]) : 255 }
                } else {
                    s[o] = UInt16(v * 255 / mask)
                }
                o += stride
            }
        }
    }
}

@inline(__always) private func paeth(_ a: Int, _ b: Int, _ c: Int) -> Int {
    let p = a + b - c
    let pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
    return (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c)
}

private func hex(_ v: UInt32) -> String { "0x" + String(v, radix: 16, uppercase: false) }

/// A chunk type for messages: its four letters, or its bytes in hex when they are not all ASCII letters (the type
/// of a corrupt chunk can hold a line break or invalid UTF-8).
private func chunkName(_ type: [UInt8]) -> String {
    if type.allSatisfy({ (65...90).contains($0) || (97...122).contains($0) }) { return String(decoding: type, as: UTF8.self) }
    return "0x" + type.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

// MARK: - Encoder

private enum Encoder {
    static func encode(_ image: Image, level: Int) -> Data {
        let colorType: UInt8 = [1: 0, 2: 4, 3: 2, 4: 6][image.channels]!
        let bytesPerSample = image.bitDepth / 8
        let bpp = image.channels * bytesPerSample
        let rb = image.width * bpp
        var raw = [UInt8](repeating: 0, count: image.height * (rb + 1))
        var line = [UInt8](repeating: 0, count: rb)
        var prevLine = [UInt8](repeating: 0, count: rb)
        var candidate = [UInt8](repeating: 0, count: rb)
        var best = [UInt8](repeating: 0, count: rb)
        image.samples.withUnsafeBufferPointer { s in
            for y in 0..<image.height {
                let base = y * image.width * image.channels
                if bytesPerSample == 1 {
                    for i in 0..<rb { line[i] = UInt8(truncatingIfNeeded: s[base + i]) }
                } else {
                    for i in 0..<(rb / 2) {
                        line[2 * i] = UInt8(s[base + i] >> 8); line[2 * i + 1] = UInt8(s[base + i] & 0xFF)
                    }
                }
                var bestFilter: UInt8 = 0, bestScore = Int.max
                for f in UInt8(0)...4 {
                    var score = 0
                    for i in 0..<rb {
                        let a = i >= bpp ? Int(line[i - bpp]) : 0
                        let b = y > 0 ? Int(prevLine[i]) : 0
                        let c = (i >= bpp && y > 0) ? Int(prevLine[i - bpp]) : 0
                        let predicted: Int
                        switch f {
                        case 0: predicted = 0
                        case 1: predicted = a
                        case 2: predicted = b
                        case 3: predicted = (a + b) >> 1
                        default: predicted = paeth(a, b, c)
                        }
                        let v = UInt8(truncatingIfNeeded: Int(line[i]) - predicted)
                        candidate[i] = v
                        score += v < 128 ? Int(v) : 256 - Int(v)
                    }
                    if score < bestScore { bestScore = score; bestFilter = f; swap(&best, &candidate) }
                }
                let at = y * (rb + 1)
                raw[at] = bestFilter
                for i in 0..<rb { raw[at + 1 + i] = best[i] }
                swap(&prevLine, &line)
            }
        }
        var bound = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(bound))
        let status = compressed.withUnsafeMutableBufferPointer { c in
            raw.withUnsafeBufferPointer { r in
                compress2(c.baseAddress!, &bound, r.baseAddress!, uLong(r.count), Int32(min(max(level, 0), 9)))
            }
        }
        precondition(status == Z_OK, "PNG.encode: zlib compress2 failed with status \(status)")
        compressed.removeSubrange(Int(bound)...)

        var out = Data(PNG.signature)
        var ihdr = [UInt8]()
        ihdr.append(contentsOf: be(UInt32(image.width)))
        ihdr.append(contentsOf: be(UInt32(image.height)))
        ihdr.append(contentsOf: [UInt8(image.bitDepth), colorType, 0, 0, 0])
        appendChunk("IHDR", ihdr, to: &out)
        appendChunk("IDAT", compressed, to: &out)
        appendChunk("IEND", [], to: &out)
        return out
    }

    static func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    static func appendChunk(_ type: String, _ body: [UInt8], to out: inout Data) {
        let typeAndBody = Array(type.utf8) + body
        out.append(contentsOf: be(UInt32(body.count)))
        out.append(contentsOf: typeAndBody)
        let crc = typeAndBody.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
        out.append(contentsOf: be(UInt32(crc)))
    }
}
