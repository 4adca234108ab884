import Counterfactual
import Diffusion
import Foundation
import Testing
@testable import prism

@Suite struct EditCommandTests {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("prism-cli-\(UUID().uuidString)")

    @Test func editsDefaultToNullTextInversion() throws {
        let command = try EditCommand.parse(["--image", "x.png", "--labels", "Cardiomegaly=1", "--remove", "cardiomegaly",
                                             "--output", scratch.path])
        #expect(command.editing.inversion == .nullText && command.editing.settings().method == .nullText)
    }

    /// The bundled model's folder recommends guidance 2: the editing commands use it when --guidance is left out and
    /// say where it came from; a --guidance given wins, with a hint when it differs from the recommendation.
    @Test func theBundledModelsFolderRecommendsItsGuidance() throws {
        let recommended = try ModelDefaults.load(from: bundledModel)
        #expect(recommended.editing?.guidance == 2 && recommended.name == "the bundled model")
        let plain = try EditCommand.parse(["--image", "x.png", "--labels", "Cardiomegaly=1", "--remove", "cardiomegaly",
                                           "--output", scratch.path])
        #expect(plain.editing.settings(recommended: recommended).guidance == 2)
        #expect(plain.editing.settings(recommended: recommended).emphasis == 3, "docs/default-model.md, Emphasis")
        #expect(EditingOptions.emphasisNote(recommended, given: nil)
                == "emphasis 3 on the words an edit adds: the one the bundled model recommends (its prism.json)")
        #expect(EditingOptions.emphasisNote(recommended, given: 1) == nil, "--emphasis given: nothing to explain")
        #expect(EditingOptions.emphasisNote(ModelDefaults(), given: nil) == nil, "a folder without prism.json says nothing")
        #expect(plain.editing.settings().guidance == EditSettings().guidance, "a folder without prism.json: the editor's default")
        #expect(EditingOptions.guidanceNote(recommended, given: nil, used: 2)
                == "guidance 2: the one the bundled model recommends (its prism.json, docs/default-model.md, v3)")
        let given = try EditCommand.parse(["--image", "x.png", "--labels", "Cardiomegaly=1", "--remove", "cardiomegaly",
                                           "--output", scratch.path, "--guidance", "7.5"])
        #expect(given.editing.settings(recommended: recommended).guidance == 7.5, "--guidance wins")
        #expect(EditingOptions.guidanceNote(recommended, given: 7.5, used: 7.5)
                == "guidance 7.5: the bundled model edits findings better with --guidance 2 (docs/default-model.md, v3)")
        #expect(EditingOptions.guidanceNote(recommended, given: 2, used: 2) == nil)
        #expect(EditingOptions.guidanceNote(ModelDefaults(), given: nil, used: 7.5) == nil, "a folder without prism.json says nothing")
        #expect(try ModelDefaults.load(from: tinyPipeline) == ModelDefaults())
    }

    /// Removing a finding the labels do not show asks for nothing: the command says so before loading the model or
    /// inverting anything, and leaves no output folder behind.
    @Test func aTargetEqualToTheSourceIsRefusedBeforeAnyWork() throws {
        defer { try? FileManager.default.removeItem(at: scratch) }
        let output = scratch.appendingPathComponent("out")
        let command = try EditCommand.parse(["--image", "missing.png", "--model", "missing-model", "--labels", "Cardiomegaly=1",
                                             "--remove", "pleural effusion", "--output", output.path])
        let error = try #require(throws: CLIError.self) { try command.run() }
        #expect(error.description.contains("remove-pleural-effusion") && error.description.contains("nothing would change"))
        #expect(!FileManager.default.fileExists(atPath: output.path))
        // With --reweight the same target is an edit (a word turned up or down).
        let reweighted = try EditCommand.parse(["--image", "missing.png", "--model", "missing-model", "--labels", "Cardiomegaly=1",
                                                "--remove", "pleural effusion", "--reweight", "cardiomegaly=0.5",
                                                "--output", output.path])
        // It fails later, on the image that does not exist, says which, and still writes nothing: inputs are read
        // before the output folder is made.
        let missing = try #require(throws: (any Error).self) { try reweighted.run() }
        #expect("\(missing)".contains("missing.png"), "\(missing)")
        #expect(!FileManager.default.fileExists(atPath: output.path), "the output folder was made before the inputs were read")
    }

    /// With the detail template, --labels describe the source with the manifest's detail columns and --add/--remove
    /// name the detail; the template file that ships is the one that does it.
    @Test func detailEditsBecomeDetailedTargetCaptions() throws {
        let detail = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("configs/captions-detail.json").path
        let command = try EditCommand.parse([
            "--image", "x.png", "--output", scratch.path, "--template", detail,
            "--labels", "Cardiomegaly=1,CTR=0.55,Support Devices=1,Pacemaker=1,Central Venous Catheter=1,Endotracheal Tube=0,"
                + "Nasogastric Tube=0,Pleural Effusion=0,Sex=F,Age=70",
            "--add", "a small right pleural effusion", "--remove", "the pacemaker", "--add", "pleural effusion",
        ])
        let (source, targets) = try command.prompts(try command.captions.load())
        #expect(source == "Chest X-ray of a 70-year-old female with moderate cardiomegaly and support devices (a pacemaker and a "
                + "central venous catheter)")
        #expect(targets.map(\.0) == ["remove-the-pacemaker", "add-a-small-right-pleural-effusion", "add-pleural-effusion"])
        #expect(targets.map(\.1) == [
            "Chest X-ray of a 70-year-old female with moderate cardiomegaly and support devices (a central venous catheter)",
            "Chest X-ray of a 70-year-old female with moderate cardiomegaly, a small right pleural effusion and support devices "
                + "(a pacemaker and a central venous catheter)",
            "Chest X-ray of a 70-year-old female with moderate cardiomegaly, pleural effusion and support devices (a pacemaker and "
                + "a central venous catheter)",
        ])
        // `prism evaluate edits --edit` refuses an edit it cannot score before loading any model.
        let evaluate = try EvaluateCommand.Edits.parse(["--model", "missing-model", "--edit", "add a purple effusion",
                                                        "--output", scratch.path])
        let error = try #require(throws: (any Error).self) { try evaluate.run() }
        #expect("\(error)".contains("\"purple\" is not a detail of pleural effusion"), "\(error)")
    }

    @Test func anOutputFolderItCannotMakeFailsAtOnceNamingThePath() throws {
        defer { try? FileManager.default.removeItem(at: scratch) }
        let nested = scratch.appendingPathComponent("a/b/c")
        #expect(try prepareOutputFolder(nested.path).path == nested.path)
        #expect(try prepareOutputFolder(nested.path).path == nested.path, "an existing folder is fine")
        let file = scratch.appendingPathComponent("file.png")
        try Data([1]).write(to: file)
        let notFolder = try #require(throws: CLIError.self) { try prepareOutputFolder(file.path) }
        #expect(notFolder.description.contains(file.path) && notFolder.description.contains("not a folder"))
        let underFile = try #require(throws: CLIError.self) { try prepareOutputFolder(file.appendingPathComponent("sub").path) }
        #expect(underFile.description.contains("Not a directory"))
    }
}
