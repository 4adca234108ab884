import Counterfactual
import Datasets
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
        #expect(try demo.settings(for: bundledModel).guidance == 2)
        #expect(try demo.settings(for: folder(with: #"{"editing": {"guidance": 5.5}}"#, in: scratch)).guidance == 5.5)
        let given = try DemoCommand.parse(["--guidance", "4"])
        #expect(try given.settings(for: bundledModel).guidance == 4, "--guidance wins over the model's recommendation")
    }

    @Test func theEditingCommandsEmphasiseAddedWordsAsTheModelRecommends() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let model = try folder(with: #"{"editing": {"guidance": 2, "emphasis": 2.5}}"#, in: scratch)
        #expect(try DemoCommand.parse([]).settings(for: model).emphasis == 2.5)
        let recommended = try ModelDefaults.load(from: model)
        let edit = ["--image", "x.png", "--labels", "Cardiomegaly=1", "--remove", "cardiomegaly", "--output", "out"]
        #expect(try EditCommand.parse(edit).editing.settings(recommended: recommended).emphasis == 2.5)
        let given = try EditCommand.parse(edit + ["--emphasis", "1"]).editing.settings(recommended: recommended)
        #expect(given.emphasis == 1 && given.guidance == 2, "--emphasis wins; the guidance is still the model's")
        #expect(try EditCommand.parse(edit).editing.settings().emphasis == 1, "no prism.json: the reference's weighting")
        #expect(try DemoCommand.parse([]).settings(for: folder(with: "{}", in: scratch)).emphasis == 1)
        for bad in ["0", "-2", "nan"] {
            #expect(throws: (any Error).self, "--emphasis \(bad)") { try EditCommand.parse(edit + ["--emphasis", bad]) }
        }
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
            (#"{"editing": {"emphasis": 0}}"#, ["prism.json", "editing.emphasis", "> 0"]),
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

    /// A model trained with other captions says so in prism.json; every command that captions images for it then
    /// uses that template unless --template or --caption-template says otherwise.
    @Test func theCaptionsTheModelWasTrainedWithAreTheDefault() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let model = try folder(with: #"{"captions": "captions.json"}"#, in: scratch)
        try Data(#"{"template": "A radiograph of {a} {sex} with {findings}", "detail": true}"#.utf8)
            .write(to: model.appendingPathComponent("captions.json"))
        let own = try CaptionOptions.template(of: model)
        #expect(own.template == "A radiograph of {a} {sex} with {findings}" && own.detail)
        #expect(try CaptionOptions.parse([]).load(model: model) == own)
        #expect(try CaptionOptions.parse([]).load(model: nil) == CaptionTemplate())
        let given = try CaptionOptions.parse(["--caption-template", "An X-ray of {findings}"]).load(model: model)
        #expect(given.template == "An X-ray of {findings}" && !given.detail, "--caption-template wins over the model's file")
        let file = try CaptionOptions.parse(["--template", model.appendingPathComponent("captions.json").path]).load(model: nil)
        #expect(file == own, "--template reads the same file")
        #expect(try CaptionOptions.template(of: folder(with: "{}", in: scratch)) == CaptionTemplate())
        // A prism.json naming a file that is not there is refused, naming both.
        let broken = scratch.url("broken")
        try FileManager.default.createDirectory(at: broken, withIntermediateDirectories: true)
        try Data(#"{"captions": "missing.json"}"#.utf8).write(to: broken.appendingPathComponent(ModelDefaults.fileName))
        guard let (message, status) = failure({ _ = try CaptionOptions.template(of: broken) }) else {
            Issue.record("a missing captions file was accepted")
            return
        }
        #expect(message.contains("prism.json") && message.contains("captions") && message.contains("missing.json"), "\(message)")
        #expect(status == 1)
    }

    /// `prism` tunes glibc's allocator unless the user did, through mallopt, which is found.
    @Test func theAllocatorIsTunedUnlessTheUserTunedIt() throws {
        #expect(!Allocator.userTunes(nil) && !Allocator.userTunes("glibc.pthread.rseq=0"))
        #expect(Allocator.userTunes("glibc.malloc.mmap_threshold=131072"))
        #expect(Allocator.userTunes("glibc.pthread.rseq=0:glibc.malloc.arena_max=1"))
        // Found, not called: setting it here would change the allocator of the whole test process.
        #expect(Allocator.mallopt() != nil)
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
