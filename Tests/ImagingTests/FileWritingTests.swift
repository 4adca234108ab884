import Foundation
import Testing
@testable import Imaging

@Suite struct FileWritingTests {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("prism-files-\(UUID().uuidString)")

    @Test func anAtomicWriteReplacesTheFileAndLeavesNoTemporary() throws {
        defer { try? FileManager.default.removeItem(at: scratch) }
        try createFolder(scratch)
        let url = scratch.appendingPathComponent("a.json")
        try writeAtomically(Data("one".utf8), to: url)
        try writeAtomically(Data("two".utf8), to: url)
        #expect(try String(contentsOf: url, encoding: .utf8) == "two")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path) == ["a.json"])
    }

    @Test func aFailedWriteNamesTheFileAndTheReason() throws {
        let url = scratch.appendingPathComponent("missing/a.png")
        let error = try #require(throws: ImagingError.self) { try writeAtomically(Data([1]), to: url) }
        #expect(error.description == "\(url.path): cannot write (No such file or directory)")
    }

    @Test func foldersAreMadeWithTheirParentsAndAFileIsNotAFolder() throws {
        defer { try? FileManager.default.removeItem(at: scratch) }
        let nested = scratch.appendingPathComponent("a/b/c")
        try createFolder(nested)
        try createFolder(nested)
        #expect(FileManager.default.fileExists(atPath: nested.path))
        let file = scratch.appendingPathComponent("f")
        try writeAtomically(Data([1]), to: file)
        #expect(throws: ImagingError.io(file: file.path, detail: "a file, not a folder")) { try createFolder(file) }
        let under = file.appendingPathComponent("sub")
        #expect(throws: ImagingError.io(file: under.path, detail: "cannot create the folder (\(under.path): Not a directory)")) {
            try createFolder(under)
        }
    }

    @Test func anImageIsWrittenInTheFormatItsExtensionNames() throws {
        defer { try? FileManager.default.removeItem(at: scratch) }
        try createFolder(scratch)
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
