import Foundation
import Testing
@testable import Imaging

/// The shared data folder: $PRISM_SHARED, else `shared/` beside the repository root (three levels above
/// this file), else /work/shared.
func sharedFolder() -> URL? {
    let fm = FileManager.default
    var candidates: [URL] = []
    if let env = ProcessInfo.processInfo.environment["PRISM_SHARED"], !env.isEmpty {
        candidates.append(URL(fileURLWithPath: env))
    }
    let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    candidates.append(repoRoot.deletingLastPathComponent().appendingPathComponent("shared"))
    candidates.append(URL(fileURLWithPath: "/work/shared"))
    return candidates.first { fm.fileExists(atPath: $0.appendingPathComponent("data").path) }
}

func pngFiles(in folder: String) throws -> [URL] {
    guard let shared = sharedFolder() else {
        Issue.record("shared data folder not found: set PRISM_SHARED")
        return []
    }
    let dir = shared.appendingPathComponent("data/nih-cxr14-sample").appendingPathComponent(folder)
    return try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)
        .filter { $0.pathExtension == "png" }.sorted { $0.path < $1.path }
}

func temporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("prism-imaging-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Suite struct PNGDecodeTests {
    @Test(arguments: pngFixtures.map(\.name))
    func decodesReferenceFixture(_ name: String) throws {
        let f = pngFixtures.first { $0.name == name }!
        let image = try PNG.decode(f.png, name: name)
        #expect(image.width == f.width && image.height == f.height)
        #expect(image.channels == f.channels, "\(name): channels")
        #expect(image.bitDepth == f.bitDepth, "\(name): bit depth")
        #expect(image.samples == f.samples, "\(name): samples differ")
    }

    @Test func decodesEveryNIHImageAt256() throws {
        let files = try pngFiles(in: "images-256")
        #expect(files.count > 600)
        for url in files {
            let image = try Image(contentsOfPNG: url)
            #expect(image.width == 256 && image.height == 256 && image.channels == 1 && image.bitDepth == 8)
        }
    }

    @Test func decodesEveryNIHOriginalAt1024AndConvertsToGray() throws {
        let files = try pngFiles(in: "full-1024")
        #expect(files.count >= 16)
        var rgba = 0
        for url in files {
            let image = try Image(contentsOfPNG: url)
            #expect(image.width == 1024 && image.height == 1024)
            if image.channels == 4 { rgba += 1 }
            let gray = image.grayscale()
            #expect(gray.channels == 1)
            // The images are gray: the R channel of an RGBA original equals its luma.
            if image.channels == 4 {
                #expect(gray.samples[512 * 1024 + 512] == image[512, 512, 0])
            }
        }
        #expect(rgba == 6, "the README says six originals are RGBA")
    }
}

@Suite struct PNGEncodeTests {
    @Test(arguments: [(1, 8), (1, 16), (2, 8), (2, 16), (3, 8), (3, 16), (4, 8), (4, 16)])
    func roundTrips(_ channels: Int, _ depth: Int) throws {
        var state: UInt32 = 12345
        let w = 37, h = 23
        let samples = (0..<(w * h * channels)).map { i -> UInt16 in
            state = state &* 1_664_525 &+ 1_013_904_223
            // Smooth ramps plus noise, so that every filter type gets chosen somewhere.
            let v = (i % 3 == 0) ? Int(state >> 16) : (i * 97) % 65536
            return UInt16(depth == 8 ? v & 0xFF : v & 0xFFFF)
        }
        let image = Image(width: w, height: h, channels: channels, bitDepth: depth, samples: samples)
        let decoded = try PNG.decode(image.pngData())
        #expect(decoded == image)
    }

    @Test func reEncodesFixturesLosslessly() throws {
        for f in pngFixtures {
            let image = try PNG.decode(f.png, name: f.name)
            #expect(try PNG.decode(image.pngData(compressionLevel: 1)) == image, "\(f.name)")
        }
    }

    @Test func writesAtomicallyAndReadsBack() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("x.png")
        let image = Image(width: 5, height: 4, channels: 1, bitDepth: 16, samples: (0..<20).map { UInt16($0 * 3000) })
        try image.writePNG(to: url)
        try image.writePNG(to: url)   // replacing an existing file works too
        #expect(try Image(contentsOfPNG: url) == image)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(leftovers == ["x.png"], "no temporary files remain")
    }

    @Test func writeIntoMissingFolderNamesTheFile() {
        let url = URL(fileURLWithPath: "/nonexistent-prism-folder/out.png")
        #expect { try Image(width: 2, height: 2).writePNG(to: url) } throws: { error in
            (error as? ImagingError)?.file == url.path
        }
    }
}

@Suite struct PNGErrorTests {
    let valid = pngFixtures.first { $0.name == "pil_rgb8" }!.png

    func decodeError(_ data: Data) -> ImagingError? {
        do { _ = try PNG.decode(data, name: "scan.png"); return nil } catch { return error as? ImagingError }
    }

    @Test func truncatedFileIsReportedWithItsName() {
        for cut in [4, 20, 40, valid.count - 20, valid.count - 1] {
            let error = decodeError(valid.prefix(cut))
            guard case .truncated(let file, _)? = error else {
                Issue.record("cut at \(cut): expected truncated, got \(String(describing: error))"); continue
            }
            #expect(file == "scan.png")
            #expect(error!.description.hasPrefix("scan.png: truncated"))
        }
    }

    @Test func flippedByteFailsTheCRC() {
        var data = valid
        data[valid.count - 20] ^= 0x55   // inside the IDAT body
        guard case .corrupt(_, let detail)? = decodeError(data) else { Issue.record("expected corrupt"); return }
        #expect(detail.contains("CRC"))
    }

    @Test func notAPNG() {
        guard case .corrupt(_, let detail)? = decodeError(Data("GIF89a and more bytes".utf8)) else {
            Issue.record("expected corrupt"); return
        }
        #expect(detail.contains("signature"))
    }

    @Test func missingFileNamesThePath() {
        let url = URL(fileURLWithPath: "/nonexistent-prism/x.png")
        #expect { try Image(contentsOfPNG: url) } throws: { ($0 as? ImagingError)?.file == url.path }
    }
}

@Suite struct ImageConversionTests {
    @Test func grayscaleUsesRec601Luma() {
        let rgb = Image(width: 2, height: 1, channels: 3, samples: [255, 0, 0, 10, 200, 30])
        let g = rgb.grayscale()
        #expect(g.samples == [76, 124])   // 0.299*255 = 76.2; 0.299*10+0.587*200+0.114*30 = 123.81
        #expect(Image(width: 1, height: 1, channels: 2, samples: [9, 255]).grayscale().samples == [9])
    }

    @Test func rgbReplicatesGrayAndDropsAlpha() {
        #expect(Image(width: 2, height: 1, channels: 1, samples: [3, 7]).rgb().samples == [3, 3, 3, 7, 7, 7])
        #expect(Image(width: 1, height: 1, channels: 4, samples: [1, 2, 3, 4]).rgb().samples == [1, 2, 3])
    }

    @Test func floatsRoundTripAndClamp() {
        let image = Image(width: 3, height: 1, channels: 1, bitDepth: 16, samples: [0, 32768, 65535])
        #expect(Image(floats: image.floats(), width: 3, height: 1, bitDepth: 16) == image)
        let clamped = Image(floats: [-1, .nan, 2], width: 3, height: 1)
        #expect(clamped.samples == [0, 0, 255])
        #expect(image.plane(0)[2] == 1)
    }

    @Test func bitDepthConversion() {
        let image = Image(width: 3, height: 1, channels: 1, samples: [0, 128, 255])
        let deep = image.converted(toBitDepth: 16)
        #expect(deep.samples == [0, 32896, 65535])
        #expect(deep.converted(toBitDepth: 8) == image)
    }

    @Test func areaDownscaleAveragesExactly() {
        // 4x2 -> 2x1: each output is the mean of a 2x2 block.
        let image = Image(width: 4, height: 2, channels: 1, samples: [0, 100, 200, 40, 20, 40, 60, 100])
        #expect(image.resized(width: 2, height: 1).samples == [40, 100])
        // Non-integer factor keeps a constant image constant.
        let flat = Image(width: 10, height: 10, channels: 3, samples: [UInt16](repeating: 77, count: 300))
        #expect(flat.resized(width: 7, height: 3).samples.allSatisfy { $0 == 77 })
    }

    @Test func bilinearUpscaleInterpolatesBetweenCentres() {
        let image = Image(width: 2, height: 1, channels: 1, samples: [0, 200])
        // Output centres at input positions -0.25, 0.25, 0.75, 1.25 -> 0, 50, 150, 200.
        #expect(image.resized(width: 4, height: 1).samples == [0, 50, 150, 200])
    }

    @Test func downscalesARealXRay() throws {
        guard let url = try pngFiles(in: "full-1024").first else { return }
        let image = try Image(contentsOfPNG: url).grayscale()
        let small = image.resized(width: 256, height: 256)
        #expect(small.width == 256 && small.height == 256)
        // The area filter preserves the mean brightness.
        let mean = { (i: Image) in Double(i.samples.reduce(0) { $0 + Int($1) }) / Double(i.samples.count) }
        #expect(abs(mean(small) - mean(image)) < 0.5)
    }
}
