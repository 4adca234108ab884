import Counterfactual
import Foundation
import Imaging
import Torch

/// Counts the UNet rows an editing model evaluates (a batch of B latents is B evaluations).
final class CountingModel: EditingModel {
    let base: EditingModel
    var rows = 0
    init(_ base: EditingModel) { self.base = base }
    var tokenizer: PromptTokenizing { base.tokenizer }
    var resolution: Int { base.resolution }
    var identity: String { base.identity }
    func textEmbeddings(_ prompts: [String]) -> Tensor { base.textEmbeddings(prompts) }
    func predict(_ latents: Tensor, timestep: Int, context: Tensor) -> Tensor {
        rows += latents.size(0)
        return base.predict(latents, timestep: timestep, context: context)
    }
    func install(_ control: PromptToPromptControl?) { base.install(control) }
    func encode(_ images: Tensor) -> Tensor { base.encode(images) }
    func decode(_ latents: Tensor) -> Tensor { base.decode(latents) }
    func stepper(steps: Int) throws -> DDIMStepper { try base.stepper(steps: steps) }
    func crossAttentionResolutions(latentSize: Int) -> [Int] { base.crossAttentionResolutions(latentSize: latentSize) }
}

/// Wall time of counterfactuals: direct inversion + one edit, one more target on the cached inversion, and
/// null-text inversion + prompt-to-prompt, on the same model, image and prompts, in one run.
public enum EditBenchmark {
    public struct Row: Sendable, Codable {
        public var name: String
        public var seconds: Double
        public var unetEvaluations: Int
        public var unetEvaluationsPerStep: Double
    }

    public static func run(model: EditingModel, image: Plane, source: String, targets: [String], steps: Int,
                           log: (String) -> Void = { _ in }) throws -> [Row] {
        precondition(targets.count >= 2, "the benchmark needs two targets (one, then one more on the cached inversion)")
        let counting = CountingModel(model)
        let cacheFolder = FileManager.default.temporaryDirectory.appendingPathComponent("prism-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: cacheFolder) }
        let editor = CounterfactualEditor(model: counting, cache: InversionCache(folder: cacheFolder))
        var rows: [Row] = []
        func measure(_ name: String, _ settings: EditSettings, _ targets: [String]) throws -> Double {
            counting.rows = 0
            let start = Date()
            _ = try editor.edit(image: image, source: source, targets: targets, settings: settings)
            let seconds = Date().timeIntervalSince(start)
            rows.append(Row(name: name, seconds: seconds, unetEvaluations: counting.rows,
                            unetEvaluationsPerStep: Double(counting.rows) / Double(steps)))
            log(String(format: "%@: %.2f s, %d UNet evaluations (%.1f per step)", name, seconds, counting.rows,
                       Double(counting.rows) / Double(steps)))
            return seconds
        }
        var direct = EditSettings()
        direct.method = .direct
        direct.steps = steps
        _ = try measure("direct inversion + 1 edit", direct, [targets[0]])
        let one = try measure("1 edit on the cached inversion", direct, [targets[0]])
        let two = try measure("2 edits on the cached inversion", direct, Array(targets.prefix(2)))
        rows.append(Row(name: "each extra target on a cached inversion", seconds: two - one, unetEvaluations: 2 * steps,
                        unetEvaluationsPerStep: 2))
        var nullText = direct
        nullText.method = .nullText
        _ = try measure("null-text inversion + prompt-to-prompt, 1 edit", nullText, [targets[0]])
        return rows
    }
}
