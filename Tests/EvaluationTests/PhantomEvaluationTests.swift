@testable import Counterfactual
import Datasets
import Diffusion
import Foundation
import Imaging
import Phantom
import Testing
import TestSupport
@testable import Evaluation

@Suite struct PhantomEvaluationTests {
    let tinyModel = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("DiffusionTests/Fixtures/pipeline-tiny")

    /// The "must show", with `prism edit`'s defaults: on unseen phantoms with support devices, the bundled
    /// model removes them and leaves the rest of the image as it was, on the mean of four cases (not one picked).
    /// (Direct inversion, the default until 2026-11-24, fails this: the pacemaker stays and the heart brightens.)
    @Test(.tags(.slow)) func theBundledModelWithTheDefaultSettingsRemovesThePacemaker() throws {
        let bundled = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("models/prism-cxr-phantom")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("prism-eval-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = try StableDiffusionEditingModel.load(from: bundled)
        // prism edit's defaults for this folder: the guidance, emphasis and captions its prism.json names.
        let recommended = try ModelDefaults.load(from: bundled)
        #expect(recommended.editing?.guidance != nil)
        let settings = EditSettings().adopting(recommended)
        let template = try CaptionTemplate.load(try #require(recommended.captionsURL(in: bundled)))
        let evaluation = PhantomEvaluation(editor: CounterfactualEditor(model: model, cache: nil), template: template,
                                           settings: settings)
        let cases = PhantomEvaluation.cases(seed: 90_001, count: 4, size: model.resolution)
        #expect(cases.count == 4 && cases.allSatisfy { $0.attributes.supportDevices })
        let results = try evaluation.run(cases, edits: [.removeSupportDevices], folder: folder)
        let scores = try results.map { try #require($0.edits.first).score }
        func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(values.count) }
        let psnr = mean(results.map(\.reconstructionPSNR)), gap = mean(scores.map(\.gapClosed))
        let outside = mean(scores.map(\.changeOutside))
        print("bundled model, remove support devices on 4 cases: reconstruction \(results.map(\.reconstructionPSNR)) dB, gap closed "
              + "\(scores.map(\.gapClosed)) (mean \(gap)), change outside \(scores.map { $0.changeOutside * 255 })/255")
        // The bar is 30 dB (issue 22's for the bundled model); v1, v2 and v3 reconstruct these four at 28.8–28.9 dB on the mean,
        // v3.1 (its decoder fine-tuned) at 29.3 (one case, whose "PORTABLE" marker the encoder loses, at 24.3): a floor of
        // 29 catches a regression, the old decoder's included.
        #expect(psnr >= 29, "mean reconstruction \(psnr) dB")
        #expect(gap >= 0.5, "mean gap closed \(gap)")
        #expect(outside <= 1.0 / 255, "mean change outside \(outside * 255)/255")
    }

    @Test func casesShowThePacemakerAndTheEditsThatApply() {
        let cases = PhantomEvaluation.cases(seed: 90_001, count: 3, size: 64)
        #expect(cases.count == 3)
        #expect(cases.prefix(2).allSatisfy { $0.attributes.pacemaker && $0.attributes.cardiomegaly($0.parameters) })
        #expect(cases.allSatisfy { $0.attributes.supportDevices })
        #expect(cases.map(\.id) == PhantomEvaluation.cases(seed: 90_001, count: 3, size: 64).map(\.id), "deterministic")
    }

    @Test func recordsCaptionAsTheTrainingManifestDoes() throws {
        let c = PhantomEvaluation.cases(seed: 90_001, count: 1, size: 64)[0]
        let evaluation = PhantomEvaluation(editor: CounterfactualEditor(model: try StableDiffusionEditingModel.load(from: tinyModel), cache: nil),
                                           settings: EditSettings())
        let caption = evaluation.template.caption(for: try PhantomEvaluation.record(c, c.attributes))
        #expect(caption.hasPrefix("Chest X-ray of a") && caption.contains("cardiomegaly") && caption.contains("support devices"))
        let noDevices = c.counterfactualAttributes([.supportDevices(false)])
        #expect(!evaluation.template.caption(for: try PhantomEvaluation.record(c, noDevices)).contains("support devices"))
    }

    @Test func aRunWritesEveryPictureTheReportLinks() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("prism-eval-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        var settings = EditSettings()
        settings.steps = 2
        let model = try StableDiffusionEditingModel.load(from: tinyModel)
        let evaluation = PhantomEvaluation(editor: CounterfactualEditor(model: model, cache: nil), settings: settings)
        let cases = PhantomEvaluation.cases(seed: 90_001, count: 1, size: model.resolution)
        let results = try evaluation.run(cases, folder: folder)
        #expect(results.count == 1)
        // Remove devices, remove cardiomegaly, add effusion (unless present), and cardiomegaly again without a mask.
        #expect(results[0].edits.count >= 3 && results[0].edits.last?.mask == MaskMode.none)
        #expect(results[0].edits.allSatisfy { $0.pacemakerChange != nil })
        // The truth is the patient the target caption describes: only cardiomegaly goes, the pacemaker stays; the
        // causal model's total effect is saved beside it when it differs.
        let c = cases[0]
        let cardio = try #require(results[0].edits.first { $0.edit == PhantomEdit.removeCardiomegaly.name && $0.mask == .auto })
        let direct = c.counterfactualAttributes([.cardiomegaly(false)], directOnly: true)
        #expect(direct.pacemaker)
        #expect(evaluation.template.caption(for: try PhantomEvaluation.record(c, direct)) == cardio.target)
        let truth = Plane(gray: try Image(contentsOf: folder.appendingPathComponent(cardio.files["truth"]!)))
        #expect(EditMetrics.meanAbsolute(truth, Plane(gray: c.render(direct).image)) == 0)
        let total = c.counterfactualAttributes([.cardiomegaly(false)])
        #expect((cardio.files["causal"] != nil) == (total != direct))
        #expect((cardio.causalGapClosed != nil) == (total != direct))
        let url = try EvaluationReport.write(results, to: folder, model: "tiny", settings: settings, totalSeconds: 1)
        let html = try String(contentsOf: url, encoding: .utf8)
        let linked = html.components(separatedBy: "src=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
        #expect(linked.count >= 13)
        for file in linked { #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent(file).path), "\(file)") }
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("metrics.json"))) as? [String: Any]
        #expect((json?["summary"] as? [Any])?.count == results[0].edits.count)
        // Foundation's JSON writer may round a double's last digit.
        let psnr = try #require(json?["mean_reconstruction_psnr_db"] as? Double)
        #expect(abs(psnr - EvaluationReport.meanReconstructionPSNR(results)) < 1e-9)
        // The figure: input over reconstruction, then each counterfactual over its truth.
        let figure = try Image(contentsOf: folder.appendingPathComponent("figure.png"))
        let side = model.resolution
        #expect(figure.width == (1 + results[0].edits.count) * (side + 4) - 4 && figure.height == 2 * side + 4)
        let input = Plane(gray: try Image(contentsOf: folder.appendingPathComponent(results[0].inputFile)))
        #expect(Plane(gray: figure)[3, 5] == input[3, 5])
        // Under the no-mask edit: the causal model's total effect (the pacemaker gone), not the caption's truth.
        let free = try #require(results[0].edits.last)
        let causal = Plane(gray: try Image(contentsOf: folder.appendingPathComponent(try #require(free.files["causal"]))))
        let grid = Plane(gray: figure)
        let tile = Plane(width: side, height: side, values: (0..<side * side).map {
            grid[results[0].edits.count * (side + 4) + $0 % side, side + 4 + $0 / side]
        })
        #expect(tile == causal)
    }

    @Test func anEditThatDrawsTheTotalEffectIsScoredAgainstBothTruths() throws {
        let evaluation = PhantomEvaluation(editor: CounterfactualEditor(model: try StableDiffusionEditingModel.load(from: tinyModel), cache: nil),
                                           settings: EditSettings())
        // A patient whose pacemaker would go with the cardiomegaly in the causal model.
        let c = try #require(PhantomEvaluation.cases(seed: 90_001, count: 4, size: 64).first {
            $0.counterfactualAttributes([.cardiomegaly(false)]) != $0.counterfactualAttributes([.cardiomegaly(false)], directOnly: true)
        })
        let factual = c.render(masks: true)
        let input = Plane(gray: factual.image)
        let direct = c.render(c.counterfactualAttributes([.cardiomegaly(false)], directOnly: true)).image
        let total = c.render(c.counterfactualAttributes([.cardiomegaly(false)])).image
        let truth = try evaluation.truth(of: .removeCardiomegaly, for: c, factual: factual.image, save: { _, name in name })
        #expect(truth.direct.image == Plane(gray: direct) && truth.causal?.image == Plane(gray: total))
        let edited = EditedImage(target: "target", image: Plane(gray: total), raw: Plane(gray: total), mask: nil, attention: nil,
                                 seconds: 0)
        let scored = try evaluation.score(.removeCardiomegaly, edited, mask: .none, input: input, truth: truth,
                                          pacemaker: factual.masks[.pacemaker], source: "source", save: { _, name in name })
        #expect(abs(try #require(scored.causalGapClosed) - 1) < 1e-9)
        // Against the caption's truth the rest of the total effect is change outside the true change.
        #expect(scored.score.changeOutside > EvaluationReport.outsideTarget)
        #expect(scored.files["causal"] == "remove-cardiomegaly-causal.png")
        // And an edit that draws the caption's truth closes all of its gap but not the causal one.
        let exact = EditedImage(target: "target", image: Plane(gray: direct), raw: Plane(gray: direct), mask: nil, attention: nil,
                                seconds: 0)
        let faithful = try evaluation.score(.removeCardiomegaly, exact, mask: .none, input: input, truth: truth,
                                            pacemaker: factual.masks[.pacemaker], source: "source", save: { _, name in name })
        #expect(abs(faithful.score.gapClosed - 1) < 1e-9 && faithful.score.changeOutside == 0)
        #expect(try #require(faithful.causalGapClosed) < 0.9)
    }

    /// A caption leaves open what the input does not show; an edit that draws another patient the caption describes is
    /// scored against that patient too, and only edits whose caption leaves something open get that score.
    @Test func anEditThatDrawsAnotherAllowedPatientIsScoredAgainstIt() throws {
        let evaluation = PhantomEvaluation(editor: CounterfactualEditor(model: try StableDiffusionEditingModel.load(from: tinyModel), cache: nil),
                                           settings: EditSettings())
        let c = PhantomEvaluation.cases(seed: 90_001, count: 1, size: 64)[0]
        #expect(c.attributes.cardiomegaly(c.parameters) && !c.attributes.pleuralEffusion && c.attributes.supportDevices)
        let factual = c.render(masks: true)
        let input = Plane(gray: factual.image)
        let hearts = PhantomEdit.removeCardiomegaly.alternatives(c.parameters)
        #expect(hearts.contains([.ctr(0.46)]) && hearts.allSatisfy {
            !c.counterfactualAttributes($0, directOnly: true).cardiomegaly(c.parameters)
        })
        let effusions = PhantomEdit.addPleuralEffusion.alternatives(c.parameters)
        #expect(effusions.count == 18 && effusions.allSatisfy { c.counterfactualAttributes($0, directOnly: true).pleuralEffusion })
        #expect(PhantomEdit.removeSupportDevices.alternatives(c.parameters).isEmpty)

        for (edit, drawn, name) in [(PhantomEdit.removeCardiomegaly, [Intervention.ctr(0.38)], "ctr=0.38"),
                                    (.addPleuralEffusion, [.effusionSide(.right), .effusionVolume(0.8)], "effusion=right,effusion_volume=0.8")] {
            let truth = try evaluation.truth(of: edit, for: c, factual: factual.image, save: { _, name in name })
            let picture = Plane(gray: c.render(c.counterfactualAttributes(drawn, directOnly: true)).image)
            #expect(picture != truth.direct.image)
            let scored = try evaluation.score(edit, EditedImage(target: "t", image: picture, raw: picture, mask: nil, attention: nil, seconds: 0),
                                              mask: .auto, input: input, truth: truth, pacemaker: nil, source: "s", save: { _, name in name })
            let nearest = try #require(scored.nearest)
            #expect(nearest.interventions == name)
            #expect(abs(nearest.score.gapClosed - 1) < 1e-9 && nearest.score.changeOutside == 0)
            #expect(scored.score.gapClosed < 0.9, "the truth is another patient")
            #expect(scored.files["nearest"] == "\(edit.label.slug)-nearest.png")
        }
        let devices = try evaluation.truth(of: .removeSupportDevices, for: c, factual: factual.image, save: { _, name in name })
        let scored = try evaluation.score(.removeSupportDevices, EditedImage(target: "t", image: input, raw: input, mask: nil, attention: nil, seconds: 0),
                                          mask: .auto, input: input, truth: devices, pacemaker: nil, source: "s", save: { _, name in name })
        #expect(scored.nearest == nil && scored.files["nearest"] == nil)
    }

    @Test func withoutAMaskEveryEditIsScoredAsFree() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("prism-eval-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        var settings = EditSettings()
        settings.steps = 2
        settings.mask = .none
        let model = try StableDiffusionEditingModel.load(from: tinyModel)
        let evaluation = PhantomEvaluation(editor: CounterfactualEditor(model: model, cache: nil), settings: settings,
                                           freeCardiomegalyEdit: false)
        let results = try evaluation.run(PhantomEvaluation.cases(seed: 90_001, count: 1, size: model.resolution), folder: folder)
        #expect(results[0].edits.count >= 2)
        #expect(results[0].edits.allSatisfy { $0.mask == MaskMode.none && $0.files["mask"] == nil })
        let summaries = EvaluationReport.summaries(results)
        #expect(summaries.allSatisfy { $0.mask == "none" })
        #expect(Set(summaries.map(\.edit)).count == summaries.count, "one row per edit")
    }
}

@Suite struct ReconstructionEvaluationTests {
    @Test func psnrOfAnIdentityLikeVAEIsMeasuredPerCase() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("DiffusionTests/Fixtures/pipeline-tiny/vae")
        let vae = try AutoencoderKL.load(from: folder)
        var seen = 0
        let r = ReconstructionEvaluation.run(vae: vae, resolution: 64, seed: 90_001, count: 3, batch: 2, progress: { done, _ in seen = done })
        #expect(r.count == 3 && seen == 3)
        #expect(r.minPSNR <= r.meanPSNR && r.meanPSNR <= r.maxPSNR && r.minPSNR.isFinite && r.minPSNR > 0)
    }

    @Test func eachCaseIsHandedOverWithItsReconstruction() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("DiffusionTests/Fixtures/pipeline-tiny/vae")
        let vae = try AutoencoderKL.load(from: folder)
        var handed: [(Int, Plane, Plane)] = []
        let r = ReconstructionEvaluation.run(vae: vae, resolution: 64, seed: 90_001, count: 3, batch: 2,
                                             each: { handed.append(($0, $1, $2)) })
        #expect(handed.map(\.0) == [0, 1, 2])
        let psnrs = handed.map { EditMetrics.psnr($0.2, $0.1) }
        #expect(abs(psnrs.reduce(0, +) / 3 - r.meanPSNR) < 1e-9 && psnrs.min() == r.minPSNR)
        let sheet = ReconstructionEvaluation.sideBySide(handed[0].1, handed[0].2)
        #expect(sheet.width == 192 && sheet.height == 64)
        #expect(sheet[5, 7] == handed[0].1[5, 7] && sheet[64 + 5, 7] == handed[0].2[5, 7])
        #expect(abs(sheet[128 + 5, 7] - min(4 * abs(handed[0].2[5, 7] - handed[0].1[5, 7]), 1)) < 1e-7)
    }
}

@Suite struct EditBenchmarkTests {
    @Test func directEditingCostsOneInversionAndThreeEditingEvaluationsPerStep() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("DiffusionTests/Fixtures/pipeline-tiny")
        let model = try StableDiffusionEditingModel.load(from: folder)
        let image = Plane(width: 64, height: 64, values: (0..<4096).map { Float($0 % 64) / 63 })
        let source = "Chest X-ray of a 70-year-old female with cardiomegaly and support devices"
        let rows = try EditBenchmark.run(model: model, image: image, source: source,
                                         targets: ["Chest X-ray of a 70-year-old female with cardiomegaly",
                                                   "Chest X-ray of a 70-year-old female with support devices"], steps: 3)
        let perStep = Dictionary(uniqueKeysWithValues: rows.map { ($0.name, $0.unetEvaluationsPerStep) })
        #expect(perStep["direct inversion + 1 edit"] == 4)
        #expect(perStep["1 edit on the cached inversion"] == 3)
        #expect(perStep["2 edits on the cached inversion"] == 5)
        #expect(perStep["null-text inversion + prompt-to-prompt, 1 edit"]! > 4)
    }
}
