import Foundation
import Imaging
import Testing
@testable import prism

/// `prism edit`'s inputs are read and its folders checked before any model loads or anything is written: each bad
/// one is refused naming the option, the file and the problem, and the output folder is never made.
@Suite struct EditInputTests {
    func edit(_ scratch: Scratch, _ extra: [String]) throws -> EditCommand {
        try EditCommand.parse(["--model", missingModel, "--labels", "Cardiomegaly=1", "--remove", "cardiomegaly",
                               "--output", scratch.path("out")] + extra)
    }

    /// Runs the command, expects a one-line refusal (exit status 1) holding every one of `words`, and no output folder.
    func expectRefusedAtRun(_ scratch: Scratch, _ extra: [String], saying words: String...,
                            sourceLocation: SourceLocation = #_sourceLocation) throws {
        let command = try edit(scratch, extra)
        guard let (message, status) = failure({ try command.run() }) else {
            Issue.record("\(extra) was accepted", sourceLocation: sourceLocation)
            return
        }
        for word in words {
            #expect(message.contains(word), "\"\(message)\" does not say \"\(word)\"", sourceLocation: sourceLocation)
        }
        #expect(status == 1 && !message.contains("\n") && !message.contains("NSCocoaErrorDomain"), "\(message)",
                sourceLocation: sourceLocation)
        #expect(!scratch.exists("out"), "the output folder was made before the refusal", sourceLocation: sourceLocation)
    }

    @Test func anImageThatIsMissingAFolderTooSmallOrNotAnImageIsRefused() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try expectRefusedAtRun(scratch, ["--image", scratch.path("missing.png")], saying: "--image", "missing.png: no such file")
        try FileManager.default.createDirectory(at: scratch.url("folder.png"), withIntermediateDirectories: true)
        try expectRefusedAtRun(scratch, ["--image", scratch.path("folder.png")], saying: "--image", "folder.png: a folder, not a file")
        let dot = try scratch.png("dot.png", width: 1, height: 1)
        try expectRefusedAtRun(scratch, ["--image", dot], saying: "--image \(dot): 1×1 pixels", "at least 64×64")
        let strip = try scratch.png("strip.png", width: 200, height: 63)
        try expectRefusedAtRun(scratch, ["--image", strip], saying: "strip.png: 200×63 pixels")
        let text = try scratch.write("not an image", to: "text.png")
        try expectRefusedAtRun(scratch, ["--image", text], saying: "--image \(text): unsupported: neither a PNG, a JPEG nor a DICOM file")
        let png = try Data(contentsOf: URL(fileURLWithPath: try scratch.png("whole.png", width: 64, height: 64)))
        try png.prefix(png.count / 2).write(to: scratch.url("half.png"))
        try expectRefusedAtRun(scratch, ["--image", scratch.path("half.png")], saying: "half.png: truncated")
    }

    @Test func aMaskThatIsNeitherAModeNorAFileIsRefusedNamingBoth() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let image = try scratch.png("cxr.png", width: 64, height: 64)
        try expectRefusedAtRun(scratch, ["--image", image, "--mask", "nonee"], saying: "--mask nonee", "auto, none", "existing file")
        try FileManager.default.createDirectory(at: scratch.url("masks"), withIntermediateDirectories: true)
        try expectRefusedAtRun(scratch, ["--image", image, "--mask", scratch.path("masks")], saying: "--mask", "a folder, not a file")
        let black = try scratch.png("black.png", width: 64, height: 64) { _, _ in 0 }
        try expectRefusedAtRun(scratch, ["--image", image, "--mask", black], saying: "--mask \(black)", "no pixel is bright")
    }

    /// A cache folder that cannot be made or written is reported naming it, before the inversion it would cache.
    @Test func aCacheFolderThatCannotBeWrittenIsRefusedNamingIt() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let image = try scratch.png("cxr.png", width: 64, height: 64)
        let underFile = scratch.url("cxr.png").appendingPathComponent("cache").path
        try expectRefusedAtRun(scratch, ["--image", image, "--cache", underFile], saying: "--cache", underFile, "--cache none")
        if getuid() != 0 {  // root writes anywhere: a read-only folder only stops other users
            try FileManager.default.createDirectory(at: scratch.url("readonly"), withIntermediateDirectories: true)
            chmod(scratch.path("readonly"), 0o555)
            try expectRefusedAtRun(scratch, ["--image", image, "--cache", scratch.path("readonly")],
                                   saying: "--cache", "readonly", "cannot write")
        }
    }
}
