import ArgumentParser
import Core
import Counterfactual
import Evaluation
import Foundation
import Imaging
import Phantom

extension BenchCommand {
    /// Wall time of counterfactuals with one model: direct inversion + edit against null-text + prompt-to-prompt.
    struct Edit: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "edit",
            abstract: "Time counterfactual edits: direct inversion + edit, extra targets, null-text + prompt-to-prompt.",
            discussion: """
                Edits one image (a phantom case with a pacemaker and cardiomegaly at the
                model's resolution, or --image) to "remove support devices" and "remove
                cardiomegaly", and reports, on the same model in one run: direct
                inversion plus one edit; one edit and two edits on the cached inversion
                (their difference is the cost of each extra target); null-text inversion
                plus prompt-to-prompt. UNet evaluations are counted (a batch of B latents
                is B evaluations): direct inversion plus one edit costs about
                1 + 3 per step.

                Example:
                  prism bench edit --model MODEL --steps 50 --json
                """
        )

        @OptionGroup var model: ModelOption

        @Option(help: "An image to edit (default: a phantom case at the model's resolution).")
        var image: String?

        @Option(help: "Denoising steps.")
        var steps = 50

        @Option(help: "Pixel size of the edit (default: the model's; 256 for an SD 1.5 model at 32×32 latents).")
        var resolution: Int?

        @Flag(help: "Print one JSON object instead of text.")
        var json = false

        func validate() throws {
            try requireCount(steps, "--steps", atLeast: 1)
            try requireImageSide(resolution, "--resolution")
        }

        func run() throws {
            let given = try image.map { Plane(gray: try readInputImage($0, "--image", minimumSide: EditCommand.minimumImageSide)) }
            let modelURL = try model.url()
            let editingModel = try StableDiffusionEditingModel.load(from: modelURL)
            editingModel.resolutionOverride = resolution
            let phantom = PhantomEvaluation.cases(seed: 90_001, count: 1, size: editingModel.resolution)[0]
            let evaluation = PhantomEvaluation(editor: CounterfactualEditor(model: editingModel, cache: nil), settings: EditSettings())
            let record = try PhantomEvaluation.record(phantom, phantom.attributes)
            let source = evaluation.template.caption(for: record)
            let targets = try [PhantomEdit.removeSupportDevices, .removeCardiomegaly].map {
                evaluation.template.caption(for: try $0.label.apply(to: record, template: evaluation.template))
            }
            let input = given ?? Plane(gray: phantom.render().image)
            let rows = try EditBenchmark.run(model: editingModel, image: input, source: source, targets: targets, steps: steps,
                                             log: { if !json { print($0) } })
            if json {
                let report = EditBenchmarkReport(
                    model: modelURL.path, resolution: editingModel.resolution, steps: steps,
                    rows: rows.map { .init(name: $0.name, seconds: $0.seconds, unetEvaluations: $0.unetEvaluations,
                                           unetEvaluationsPerStep: $0.unetEvaluationsPerStep) })
                print(String(decoding: try JSONFile.encode(report), as: UTF8.self))
            }
        }
    }
}
