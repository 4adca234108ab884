import Counterfactual
import Datasets
import Evaluation
import Foundation

/// Edits phantom cases with a model, scores them against the phantom's truth and writes the report: the body
/// of `prism demo` and `prism evaluate edits`.
struct PhantomEditEvaluation {
    let model: URL
    let output: String
    let cases: Int
    let seed: UInt64
    let settings: EditSettings
    /// The captions' template: the one the model was trained with.
    var template = CaptionTemplate()
    var edits = PhantomEdit.standard
    let freeCardiomegalyEdit: Bool
    /// Findings captioned without their detail (`prism evaluate edits --without-detail`).
    var plainFindings: Set<String> = []
    let tool: String

    func run(json: Bool = false) throws {
        let started = Date()
        let folder = try prepareOutputFolder(output)
        let editingModel = try StableDiffusionEditingModel.load(from: model)
        let evaluation = PhantomEvaluation(editor: CounterfactualEditor(model: editingModel, cache: nil), template: template,
                                           settings: settings, freeCardiomegalyEdit: freeCardiomegalyEdit,
                                           plainFindings: plainFindings)
        let chosen = PhantomEvaluation.cases(seed: seed, count: cases, size: editingModel.resolution, edits: edits)
        log("model \(model.path); \(chosen.count) phantom cases at \(editingModel.resolution) px, "
            + "\(settings.method.rawValue) inversion, \(settings.steps) steps, guidance \(number(settings.guidance)), "
            + "emphasis \(number(settings.emphasis)), mask \(settings.mask.name)")
        let results = try evaluation.run(chosen, edits: edits, folder: folder, progress: ProgressBar.editingPhases(),
                                         log: log.callAsFunction)
        let url = try EvaluationReport.write(results, to: folder, model: model.lastPathComponent, settings: settings,
                                             totalSeconds: Date().timeIntervalSince(started), writtenBy: tool)
        log(String(format: "reconstruction PSNR %.2f dB (mean of %d cases)", EvaluationReport.meanReconstructionPSNR(results),
                   results.count))
        for s in EvaluationReport.summaries(results) {
            let causal = s.meanCausalGapClosed.map { String(format: "; towards the causal total effect %.2f", $0) } ?? ""
            let nearest = s.nearest.map {
                String(format: "; against the nearest patient the caption allows %.2f, %.2f/255", $0.gapClosed, $0.changeOutside255)
            } ?? ""
            log(String(format: "%@ (mask %@): gap closed %.2f, change outside %.2f/255, %d/%d meet the targets",
                       s.edit, s.mask, s.meanGapClosed, s.meanChangeOutside255, s.meetingTargets, s.count) + causal + nearest)
        }
        if json {
            print(String(decoding: try Data(contentsOf: folder.appendingPathComponent("metrics.json")), as: UTF8.self))
        } else {
            print("report: \(url.path)")
        }
    }

    var log: Log { Log(tool: tool) }
}
