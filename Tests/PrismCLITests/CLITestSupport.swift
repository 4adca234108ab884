import ArgumentParser
import Foundation
import Imaging
import Testing
@testable import prism

/// What `prism` prints and the status it exits with when `arguments` are refused while parsing or validating
/// (nil when they are accepted): the refusals a user meets before any model loads.
func refusal<C: ParsableCommand>(_ type: C.Type, _ arguments: [String]) -> (message: String, status: Int32)? {
    do {
        _ = try C.parse(arguments)
        return nil
    } catch {
        return (C.message(for: error), C.exitCode(for: error).rawValue)
    }
}

/// Expects `arguments` to be refused while parsing or validating, with a message that holds every one of `words`
/// (the option, the value, what is allowed) and the usage exit status 64.
func expectRefused<C: ParsableCommand>(_ type: C.Type, _ arguments: [String], saying words: String...,
                                       sourceLocation: SourceLocation = #_sourceLocation) {
    guard let (message, status) = refusal(type, arguments) else {
        Issue.record("\(arguments) was accepted", sourceLocation: sourceLocation)
        return
    }
    for word in words {
        #expect(message.contains(word), "\(arguments): \"\(message)\" does not say \"\(word)\"", sourceLocation: sourceLocation)
    }
    #expect(status == 64, "\(arguments): exit status \(status)", sourceLocation: sourceLocation)
}

/// The message of the error `body` throws (nil when it throws none), as `prism` would print it, and its exit status.
func failure(_ body: () throws -> Void) -> (message: String, status: Int32)? {
    do {
        try body()
        return nil
    } catch {
        return (Prism.message(for: error), Prism.exitCode(for: error).rawValue)
    }
}

/// A scratch folder of its own for each test, removed by `remove()`.
struct Scratch {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("prism-cli-\(UUID().uuidString)")

    init() throws { try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true) }

    func url(_ name: String) -> URL { root.appendingPathComponent(name) }
    func path(_ name: String) -> String { url(name).path }

    /// Writes a gray PNG whose values come from `value(x, y)` in [0, 1], and returns its path.
    @discardableResult
    func png(_ name: String, width: Int, height: Int, bitDepth: Int = 8,
             value: (Int, Int) -> Float = { x, y in Float((x * 7 + y * 3) % 17) / 16 }) throws -> String {
        var floats: [Float] = []
        for y in 0..<height { for x in 0..<width { floats.append(value(x, y)) } }
        try Image(floats: floats, width: width, height: height, bitDepth: bitDepth).writePNG(to: url(name))
        return path(name)
    }

    func write(_ text: String, to name: String) throws -> String {
        try Data(text.utf8).write(to: url(name))
        return path(name)
    }

    func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: path(name)) }

    func remove() { try? FileManager.default.removeItem(at: root) }
}

/// The random-weight diffusers folder the Diffusion tests use (64×64 images).
let tinyPipeline = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("DiffusionTests/Fixtures/pipeline-tiny")

/// The model that ships with Prism (models/prism-cxr-phantom).
let bundledModel = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("models/prism-cxr-phantom")
