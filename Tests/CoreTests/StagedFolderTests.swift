import Foundation
import Testing
@testable import Core

@Suite struct StagedFolderTests {
    func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("staged-\(UUID())")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    func contents(_ url: URL) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).sorted() }

    @Test func replacesAFolderWholeAndLeavesNothingBehind() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let final = root.appendingPathComponent("checkpoint-000003")
        try StagedFolder.write(final) { try Data("one".utf8).write(to: $0.appendingPathComponent("a")) }
        try StagedFolder.write(final) { try Data("two".utf8).write(to: $0.appendingPathComponent("b")) }
        #expect(contents(final) == ["b"])
        #expect(contents(root) == ["checkpoint-000003"])
    }

    @Test func theFileSystemHereExchanges() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let a = root.appendingPathComponent("a"), b = root.appendingPathComponent("b")
        try FileManager.default.createDirectory(at: a, withIntermediateDirectories: true)
        try Data().write(to: b)
        #expect(StagedFolder.exchange(a, b), "renameat2(RENAME_EXCHANGE): \(String(cString: strerror(errno)))")
        var isFolder: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: b.path, isDirectory: &isFolder) && isFolder.boolValue)
    }

    @Test func aFailedFillKeepsTheOldFolder() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let final = root.appendingPathComponent("unet")
        try StagedFolder.write(final) { try Data("old".utf8).write(to: $0.appendingPathComponent("w")) }
        struct Stop: Error {}
        #expect(throws: Stop.self) { try StagedFolder.write(final) { _ in throw Stop() } }
        #expect(contents(root) == ["unet"] && contents(final) == ["w"])
    }

    /// A process killed between moving the old folder aside and renaming the new one in (the fallback where the
    /// file system cannot exchange) leaves only hidden folders: the old one comes back, the partial one goes.
    @Test func recoveryRestoresAnOldFolderWhoseReplacementNeverArrived() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let dead: Int32 = 9_999_990  // above any pid_max: no such process
        let old = root.appendingPathComponent(".checkpoint-000006.old-\(dead)")
        let partial = root.appendingPathComponent(".checkpoint-000006.partial-\(dead)")
        let replaced = root.appendingPathComponent(".checkpoint-000003.old-\(dead)")
        for url in [old, partial, replaced, root.appendingPathComponent("checkpoint-000003")] {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        }
        let running = root.appendingPathComponent(".checkpoint-000009.partial-\(getpid() == 1 ? 2 : 1)")
        try FileManager.default.createDirectory(at: running, withIntermediateDirectories: true)
        StagedFolder.recoverInterrupted(in: root)
        #expect(contents(root) == [running.lastPathComponent, "checkpoint-000003", "checkpoint-000006"])
    }

    @Test func hiddenNamesParse() {
        #expect(StagedFolder.parseHidden(".checkpoint-000006.old-123")! == ("checkpoint-000006", "old", 123))
        #expect(StagedFolder.parseHidden(".unet.partial-7")! == ("unet", "partial", 7))
        #expect(StagedFolder.parseHidden(".gitignore") == nil && StagedFolder.parseHidden("checkpoint-000001") == nil)
    }
}

@Suite struct AbandonedTemporaryFilesTests {
    @Test func onlyTheTemporariesOfDeadProcessesGo() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("abandoned-\(UUID())")
        let sub = root.appendingPathComponent("images/000001")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let names = [".a.png.tmp-9999990-12", ".b.png.tmp-\(getpid())-3", "c.png", ".hidden"]
        for name in names { try Data([1]).write(to: sub.appendingPathComponent(name)) }
        removeAbandonedTemporaryFiles(under: root)
        let left = try FileManager.default.contentsOfDirectory(atPath: sub.path).sorted()
        #expect(left == [".b.png.tmp-\(getpid())-3", ".hidden", "c.png"])
    }
}
