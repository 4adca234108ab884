import Foundation
import Testing
@testable import Core

@Suite struct AtomicFileTests {
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

    @Test func aSyncedWriteReplacesTheFileAndLeavesNoTemporary() throws {
        defer { try? FileManager.default.removeItem(at: scratch) }
        try createFolder(scratch)
        let url = scratch.appendingPathComponent("out.csv")
        try AtomicFile.write(Data("one\n".utf8), to: url, durability: .synced)
        try AtomicFile.write(Data("two\n".utf8), to: url, durability: .synced)
        #expect(try String(contentsOf: url, encoding: .utf8) == "two\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path) == ["out.csv"])
    }

    @Test func aFailedWriteNamesTheFileAndTheReason() throws {
        let url = scratch.appendingPathComponent("missing/a.png")
        let error = try #require(throws: FileSystemError.self) { try writeAtomically(Data([1]), to: url) }
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
        #expect(throws: FileSystemError(path: file.path, reason: "a file, not a folder")) { try createFolder(file) }
        let under = file.appendingPathComponent("sub")
        #expect(throws: FileSystemError(path: under.path, reason: "cannot create the folder (\(under.path): Not a directory)")) {
            try createFolder(under)
        }
    }
}
