import Foundation
import Testing
@testable import Imaging

/// Inputs found by fuzzing the decoders (scripts/fuzz png|jpeg, docs/reliability.md), kept so that the fixes stay.
@Suite struct ImagingFuzzRegressionTests {
    /// The error decoding fails with; an image decoded instead is an issue reported by its size alone (the
    /// expectation macros would print millions of samples).
    static func failure(_ decode: () throws -> Image) -> ImagingError? {
        do {
            let image = try decode()
            Issue.record("decoded a \(image.width)x\(image.height) image instead of failing")
            return nil
        } catch {
            guard let error = error as? ImagingError else { Issue.record("threw \(error)"); return nil }
            return error
        }
    }

    /// A PNG chunk: length, type, body, CRC.
    static func chunk(_ type: [UInt8], _ body: [UInt8]) -> [UInt8] {
        let length = UInt32(body.count)
        return [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
            + type + body + bigEndian(crc32(type + body))
    }

    static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        return ~c
    }

    /// A PNG whose header claims `width` x `height` (1-bit gray) and whose image data is an empty zlib stream.
    static func emptyPNG(width: UInt32, height: UInt32) -> Data {
        let signature: [UInt8] = [137, 80, 78, 71, 13, 10, 26, 10]
        let ihdr = bigEndian(width) + bigEndian(height) + [1, 0, 0, 0, 0]
        let emptyZlib: [UInt8] = [0x78, 0x01, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01]
        return Data(signature + chunk(Array("IHDR".utf8), ihdr) + chunk(Array("IDAT".utf8), emptyZlib)
                    + chunk(Array("IEND".utf8), []))
    }

    /// A chunk type holding a line break and a control byte was put into the message as it was: the "one line"
    /// error ran over two. It is shown in hex now.
    @Test func aChunkTypeThatIsNotLettersIsShownInHex() {
        let valid = Array(PNG.encode(Image(width: 2, height: 2)))
        let withoutEnd = Array(valid.dropLast(12))   // IEND
        let data = Data(withoutEnd + [0, 0, 0, 16] + Array("a\nb".utf8) + [1])
        let error = Self.failure { try PNG.decode(data, name: "scan.png") }
        #expect(error == .truncated(
            file: "scan.png", detail: "chunk 0x610a6201 at byte \(withoutEnd.count) needs 28 bytes, only 8 left"))
    }

    /// A 60-byte PNG can claim 65536 x 65536 pixels: the decoder used to allocate what the header implied (34 GB for
    /// 16-bit RGBA) before reading any data. Images over Image.maxDecodedPixels are refused from the header now, and
    /// the inflated data grows only as the stream holds it.
    @Test func aHeaderClaimingMoreThanTheLimitIsRefusedFromTheHeader() {
        let error = Self.failure { try PNG.decode(Self.emptyPNG(width: 8193, height: 8192), name: "big.png") }
        guard case .unsupported(let file, let detail)? = error else { Issue.record("expected unsupported, got \(String(describing: error))"); return }
        #expect(file == "big.png" && detail.contains("8193x8192") && detail.contains("\(Image.maxDecodedPixels) pixels"))

        // At the limit the header passes, and the missing data is what is reported.
        let atLimit = Self.failure { try PNG.decode(Self.emptyPNG(width: 8192, height: 8192)) }
        guard case .corrupt(_, let atLimitDetail)? = atLimit else { Issue.record("expected corrupt, got \(String(describing: atLimit))"); return }
        #expect(atLimitDetail.contains("inflates to 0 bytes"))
    }

    /// Image data longer than the header allows is still refused with the incremental inflate.
    @Test func imageDataLongerThanTheHeaderAllowsIsRefused() {
        let small = Array(PNG.encode(Image(width: 3, height: 2)))
        let big = Array(PNG.encode(Image(width: 3, height: 200)))
        // The 3x2 header with the 3x200 image data.
        let ihdrEnd = 8 + 25
        let idatStart = big.firstRange(of: Array("IDAT".utf8))!.lowerBound - 4
        let data = Data(small[0..<ihdrEnd] + big[idatStart...])
        let error = Self.failure { try PNG.decode(data) }
        guard case .corrupt(_, let detail)? = error else { Issue.record("expected corrupt, got \(String(describing: error))"); return }
        #expect(detail.contains("more than the 8 bytes the header allows"))
    }

    /// A JPEG's frame header can claim 65500 x 65500 pixels: cjpeg_decode allocated width x height x channels
    /// (12 GB) and libjpeg filled the missing data with gray. Frames over Image.maxDecodedPixels are refused before
    /// anything is allocated.
    @Test func aJPEGFrameClaimingMoreThanTheLimitIsRefused() throws {
        var jpeg = Array(try JPEG.encode(Image(width: 8, height: 8)))
        let sof = try #require(jpeg.indices.dropLast().first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 })
        // SOF0: marker, length (2), precision (1), height (2), width (2).
        jpeg[sof + 5] = 0x20; jpeg[sof + 6] = 0x00   // 8192
        jpeg[sof + 7] = 0x20; jpeg[sof + 8] = 0x01   // 8193
        let error = Self.failure { try JPEG.decode(Data(jpeg), name: "big.jpg") }
        guard case .unsupported(let file, let detail)? = error else { Issue.record("expected unsupported, got \(String(describing: error))"); return }
        #expect(file == "big.jpg" && detail.contains("8193x8192"))
    }
}
