import Foundation
import Testing
@testable import Core

@Suite struct FileErrorsTests {
    @Test func foundationErrorsNameTheFileAndTheCause() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("file-errors-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let missing = folder.appendingPathComponent("none.png")
        do {
            _ = try Data(contentsOf: missing)
            Issue.record("read a missing file")
        } catch {
            #expect("\(describingFileErrors(error))" == "\(missing.path): No such file or directory")
        }
        do {
            _ = try Data(contentsOf: folder)
            Issue.record("read a folder")
        } catch {
            #expect("\(describingFileErrors(error))" == "\(folder.path): Is a directory")
        }
    }

    @Test func otherErrorsAreLeftAlone() {
        struct Mine: Error {}
        #expect(describingFileErrors(Mine()) is Mine)
        let already = FileSystemError(path: "a", reason: "b")
        #expect(describingFileErrors(already) as? FileSystemError == already)
    }
}
