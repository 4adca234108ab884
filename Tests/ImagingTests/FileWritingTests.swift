import Foundation
import Testing
@testable import Imaging

@Suite struct FileWritingTests {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("prism-files-\(UUID().uuidString)")

    @Test func aFailedImageWriteIsAnImagingErrorNamingTheFileAndTheReason() throws {
        let url = scratch.appendingPathComponent("missing/a.png")
        let image = Image(floats: [0, 1, 0, 1], width: 2, height: 2, bitDepth: 8)
        let error = try #require(throws: ImagingError.self) { try image.write(to: url) }
        #expect(error.description == "\(url.path): cannot write (No such file or directory)")
    }

    @Test func anImageIsWrittenInTheFormatItsExtensionNames() throws {
        defer { try? FileManager.default.removeItem(at: scratch) }
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let image = Image(floats: (0..<64).map { Float($0) / 63 }, width: 8, height: 8, bitDepth: 8)
        for (name, signature) in [("a.png", [UInt8](arrayLiteral: 0x89, 0x50)), ("b.JPG", [0xFF, 0xD8]), ("c.jpeg", [0xFF, 0xD8]), ("d", [0x89, 0x50])] {
            let url = scratch.appendingPathComponent(name)
            try image.write(to: url)
            #expect(try Data(contentsOf: url).prefix(2) == Data(signature), "\(name)")
            #expect(try Image(contentsOf: url).width == 8)
        }
        #expect(throws: ImagingError.self) { try image.write(to: scratch.appendingPathComponent("e.tif")) }
        #expect(!FileManager.default.fileExists(atPath: scratch.appendingPathComponent("e.tif").path))
    }
}
