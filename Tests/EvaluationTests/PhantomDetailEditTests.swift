@testable import Counterfactual
import Core
import Datasets
import Diffusion
import Foundation
import Imaging
import Phantom
import Testing
@testable import Evaluation

/// Edits that name detail, and the phantom's truth for them: the patient the edited caption describes.
@Suite struct PhantomDetailEditTests {
    let detailed: CaptionTemplate = { var t = CaptionTemplate(); t.detail = true; return t }()

    /// The first case of set 90001 that `wanted` holds for, at 64 px.
    func firstCase(_ wanted: (Attributes, SCMParameters) -> Bool) throws -> PhantomCase {
        try #require((0..<500).lazy.map { PhantomCase(seed: 90_001, index: $0, size: 64) }.first { wanted($0.attributes, $0.parameters) })
    }

    /// The bar's truth follows the caption: the caption of the true counterfactual's manifest row is the edited caption.
    func expectTruthFollowsTheCaption(_ edit: PhantomEdit, _ c: PhantomCase, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let record = try PhantomEvaluation.record(c, c.attributes)
        let target = detailed.caption(for: try edit.label.apply(to: record, template: detailed))
        let truth = c.counterfactualAttributes(edit.interventions, directOnly: true)
        #expect(detailed.caption(for: try PhantomEvaluation.record(c, truth)) == target, sourceLocation: sourceLocation)
        #expect(target != detailed.caption(for: record), "the edit changes the caption", sourceLocation: sourceLocation)
    }

    @Test func theStandardEditsAreTheSameEditsByName() throws {
        for standard in PhantomEdit.standard {
            let parsed = try PhantomEdit.parsing(standard.name.uppercased())
            #expect(parsed.name == standard.name && parsed.label == standard.label && parsed.interventions == standard.interventions)
            #expect(parsed.alternatives(SCMParameters()) == standard.alternatives(SCMParameters()))
        }
    }

    @Test func aSmallRightEffusionIsOnThePatientsRightAtTheSmallBandsMiddle() throws {
        let edit = try PhantomEdit.parsing("add a small right pleural effusion")
        #expect(edit.interventions == [.pleuralEffusion(true), .effusionSide(.right), .effusionVolume(0.325)])
        #expect(PhantomDetail.volumes(.small, SCMParameters()) == 0.2...0.45)
        let c = try firstCase { a, _ in !a.pleuralEffusion }
        #expect(edit.applies(c.attributes, c.parameters))
        let truth = c.counterfactualAttributes(edit.interventions, directOnly: true)
        #expect(truth.effusion == .right && truth.effusionVolume == 0.325)
        // The patient's right is the image's left: the fluid is drawn there (its support reaches a little past the
        // midline), and the same patient's left effusion is its mirror.
        func halves(_ a: Attributes) throws -> (left: Int, right: Int) {
            let mask = try #require(c.render(a, masks: true).masks[.effusion])
            let inLeft = (0..<mask.count).filter { mask[$0] && $0 % c.size < c.size / 2 }.count
            return (inLeft, mask.filter { $0 }.count - inLeft)
        }
        let right = try halves(truth)
        #expect(right.left > 100 && right.left > 10 * right.right, "effusion pixels: \(right) (image's left half, right half)")
        let left = try halves(c.counterfactualAttributes(try PhantomEdit.parsing("add a small left pleural effusion").interventions,
                                                         directOnly: true))
        #expect(left.right > 100 && left.right > 10 * left.left, "effusion pixels: \(left) (image's left half, right half)")
        try expectTruthFollowsTheCaption(edit, c)
        // The rest of the small band on the right side is what the caption also allows.
        let others = edit.alternatives(c.parameters)
        #expect(!others.isEmpty && others.allSatisfy {
            $0.count == 2 && $0[0] == .effusionSide(.right) && { if case .effusionVolume(let v) = $0[1] { EffusionSize(volume: v) == .small } else { false } }($0)
        })
        // Without a side, every side; without a size, the whole range, as the plain edit.
        #expect(try PhantomEdit.parsing("add a large pleural effusion").alternatives(c.parameters).count == 3 * 6)
        #expect(try PhantomEdit.parsing("add a right pleural effusion").alternatives(c.parameters).count == 6)
        #expect(try PhantomEdit.parsing("add a left pleural effusion").interventions == [.pleuralEffusion(true), .effusionSide(.left)])
    }

    @Test func gradedCardiomegalySetsTheRatioToTheGradesMiddle() throws {
        let edit = try PhantomEdit.parsing("add moderate cardiomegaly")
        #expect(edit.interventions == [.ctr(0.55)])
        #expect(try PhantomEdit.parsing("add mild cardiomegaly").interventions == [.ctr(0.515)])
        #expect(try PhantomEdit.parsing("add severe cardiomegaly").interventions == [.ctr(0.635)])
        #expect(try PhantomEdit.parsing("add cardiomegaly").interventions == [.cardiomegaly(true)])
        let c = try firstCase { a, p in !a.cardiomegaly(p) }
        try expectTruthFollowsTheCaption(edit, c)
        #expect(edit.alternatives(c.parameters) == [0.54, 0.55, 0.56, 0.57].map { [.ctr($0)] })
        #expect(!edit.applies(try firstCase { a, p in a.cardiomegaly(p) }.attributes, c.parameters))
    }

    @Test func removingThePacemakerKeepsTheOtherDevices() throws {
        let edit = try PhantomEdit.parsing("remove the pacemaker")
        #expect(edit.interventions == [.pacemaker(false)] && edit.alternatives(SCMParameters()).isEmpty)
        let c = try firstCase { a, _ in a.pacemaker && (a.centralVenousCatheter || a.endotrachealTube || a.nasogastricTube) }
        let truth = c.counterfactualAttributes(edit.interventions, directOnly: true)
        #expect(!truth.pacemaker && truth.supportDevices)
        #expect(truth.centralVenousCatheter == c.attributes.centralVenousCatheter && truth.endotrachealTube == c.attributes.endotrachealTube)
        try expectTruthFollowsTheCaption(edit, c)
        // The last device goes with the umbrella word.
        let alone = try firstCase { a, _ in a.pacemaker && !a.centralVenousCatheter && !a.endotrachealTube && !a.nasogastricTube }
        try expectTruthFollowsTheCaption(edit, alone)
        try expectTruthFollowsTheCaption(try PhantomEdit.parsing("add a central venous catheter"), try firstCase { a, _ in !a.centralVenousCatheter })
    }

    @Test func unknownEditsAreRefusedNamingWhatIsKnown() {
        let purple = #expect(throws: DataFileError.self) { try PhantomEdit.parsing("add a purple effusion") }
        #expect(purple?.description.contains("\"purple\" is not a detail of pleural effusion") == true)
        let edema = #expect(throws: DataFileError.self) { try PhantomEdit.parsing("add edema") }
        #expect(edema?.description.contains("the phantom does not draw edema") == true)
        let verb = #expect(throws: DataFileError.self) { try PhantomEdit.parsing("shrink the heart") }
        #expect(verb?.description.contains("\"remove the pacemaker\"") == true)
    }

    /// `prism evaluate edits --edit ... --template configs/captions-detail.json`: the model is asked the detailed
    /// caption, and scored against the truth that caption describes.
    @Test func aRunAsksTheDetailedCaptionAndScoresAgainstItsTruth() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("prism-eval-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        var settings = EditSettings()
        settings.steps = 2
        let tiny = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("DiffusionTests/Fixtures/pipeline-tiny")
        let model = try StableDiffusionEditingModel.load(from: tiny)
        let evaluation = PhantomEvaluation(editor: CounterfactualEditor(model: model, cache: nil), template: detailed, settings: settings,
                                           freeCardiomegalyEdit: false)
        let edits = [try PhantomEdit.parsing("add a small right pleural effusion")]
        let cases = PhantomEvaluation.cases(seed: 90_001, count: 1, size: model.resolution, edits: edits)
        #expect(cases.count == 1 && !cases[0].attributes.pleuralEffusion)
        let results = try evaluation.run(cases, edits: edits, folder: folder)
        let scored = try #require(results.first?.edits.first)
        #expect(scored.edit == "add a small right pleural effusion" && scored.target.contains("a small right pleural effusion"))
        let truth = cases[0].counterfactualAttributes(edits[0].interventions, directOnly: true)
        #expect(scored.target == detailed.caption(for: try PhantomEvaluation.record(cases[0], truth)))
        #expect(scored.nearest != nil && scored.files["truth"] == "\(cases[0].id)/add-a-small-right-pleural-effusion-truth.png")
    }

    /// `--without-detail`: the findings named are captioned plainly in the source and the targets, except the one an
    /// edit names, which keeps its detail: the captions that partial labels give, mixing plain and detailed phrases.
    @Test func plainFindingsMixPlainAndDetailedPhrases() throws {
        let tiny = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("DiffusionTests/Fixtures/pipeline-tiny")
        let editor = CounterfactualEditor(model: try StableDiffusionEditingModel.load(from: tiny), cache: nil)
        let mixed = PhantomEvaluation(editor: editor, template: detailed, settings: EditSettings(),
                                      plainFindings: ["Cardiomegaly", "Support Devices"])
        let c = try firstCase { a, p in a.cardiomegaly(p) && a.pacemaker && !a.pleuralEffusion }
        let record = try PhantomEvaluation.record(c, c.attributes)
        let effusion = try PhantomEdit.parsing("add a moderate left pleural effusion", template: detailed)
        let source = mixed.caption(for: record)
        let target = mixed.caption(for: try effusion.label.apply(to: record, template: detailed), editing: effusion)
        #expect(source.hasSuffix(" with cardiomegaly and support devices"), "\(source)")
        #expect(target.hasSuffix(" with cardiomegaly, a moderate left pleural effusion and support devices"), "\(target)")
        // The edited finding keeps the detail it names even when it is one of the plain ones.
        let heart = try PhantomEdit.parsing("remove cardiomegaly", template: detailed)
        #expect(mixed.caption(for: try heart.label.apply(to: record, template: detailed), editing: heart).hasSuffix(" with support devices"))
        // Without plain findings, the captions are the template's own.
        let full = PhantomEvaluation(editor: editor, template: detailed, settings: EditSettings())
        #expect(full.caption(for: record) == detailed.caption(for: record) && full.caption(for: record) != source)
    }
}
