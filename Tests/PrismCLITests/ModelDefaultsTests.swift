import Counterfactual
import Diffusion
import Foundation
import Testing
@testable import prism

/// Per-model defaults come from the model folder's prism.json: `prism demo` edits with its guidance, and a file that
/// cannot be used is refused naming it.
@Suite struct ModelDefaultsTests {
    /// A copy of the tiny pipeline's layout is not needed: prism.json is read from the folder alone.
    func folder(with json: String?, in scratch: Scratch) throws -> URL {
        let folder = scratch.url("model")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        if let json { try Data(json.utf8).write(to: folder.appendingPathComponent(ModelDefaults.fileName)) }
        return folder
    }

    @Test func theDemoEditsWithTheGuidanceTheModelRecommends() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let demo = try DemoCommand.parse([])
        #expect(try demo.settings(for: bundledModel).guidance == 3)
        #expect(try demo.settings(for: folder(with: #"{"editing": {"guidance": 5.5}}"#, in: scratch)).guidance == 5.5)
        let given = try DemoCommand.parse(["--guidance", "4"])
        #expect(try given.settings(for: bundledModel).guidance == 4, "--guidance wins over the model's recommendation")
    }

    @Test func withoutPrismJSONTheEditorsDefaultsHold() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let demo = try DemoCommand.parse(["--steps", "7"])
        let settings = try demo.settings(for: folder(with: nil, in: scratch))
        #expect(settings.guidance == EditSettings().guidance && settings.steps == 7)
        #expect(try ModelDefaults.load(from: folder(with: "{}", in: scratch)) == ModelDefaults())
    }

    @Test func aPrismJSONThatCannotBeUsedIsRefusedNamingTheFileAndTheKey() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        for (json, words) in [
            (#"{"editing": {"guidance": 3"#, ["prism.json", "not valid JSON"]),
            (#"{"editing": {"guidance": "three"}}"#, ["prism.json", "editing.guidance", "a number"]),
            (#"{"editing": {"guidance": -1}}"#, ["prism.json", "editing.guidance", ">= 0"]),
            (#"{"editing": {"guidance": NaN}}"#, ["prism.json", "editing.guidance", "finite"]),
        ] {
            let model = try folder(with: json, in: scratch)
            let demo = try DemoCommand.parse([])
            guard let (message, status) = failure({ _ = try demo.settings(for: model) }) else {
                Issue.record("\(json) was accepted")
                continue
            }
            for word in words { #expect(message.contains(word), "\(json): \"\(message)\" does not say \"\(word)\"") }
            #expect(status == 1 && !message.contains("\n"), "\(message)")
        }
    }

    @Test func maskIsReadOneWay() {
        #expect(MaskChoice("auto") == .auto && MaskChoice("none") == .none && MaskChoice("m.png") == .file("m.png"))
        #expect(MaskChoice("auto").mode == .auto && MaskChoice("none").mode == .none && MaskChoice("m.png").mode == .auto)
    }

    @Test func benchmarkShapesAreNamedInTheReportsKeyOrder() {
        #expect(BenchmarkShape(latentSize: 64, batch: 2).text == "batch 2, latent_size 64")
        #expect(BenchmarkShape(batch: 2, tokens: 77).text == "batch 2, tokens 77")
    }
}
