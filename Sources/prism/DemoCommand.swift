import ArgumentParser
import Counterfactual
import Diffusion
import Foundation

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Edit phantom chest X-rays with the bundled model and write an HTML report.",
        discussion: """
            Renders a handful of phantom chest X-rays the model never saw, with a
            pacemaker, support devices, cardiomegaly, and edits each by its caption:
            remove the support devices, remove the cardiomegaly, add a pleural
            effusion, and once more remove the cardiomegaly with no mask, to see
            whether the pacemaker leaves with it. The phantom renders the true
            counterfactual of the same patient beside each edit (only the edited
            finding changed), and, for the edit with no mask, its causal model's
            total effect (without cardiomegaly, most of its patients have no pacemaker).

            Writes DIR/report.html (open it in a browser), DIR/metrics.json and the
            pictures under DIR/<case>/. `prism evaluate edits` runs the same
            measurement with every option exposed.
            """
    )

    @OptionGroup var report: PhantomReportOptions<DemoFolder>

    @OptionGroup var model: ModelOption

    @Option(help: "Number of phantom cases.")
    var cases = 4

    @OptionGroup var denoising: DenoisingStepsOption

    @Option(help: "direct, null-text or ddim (null-text edits the bundled model's phantoms best: docs/editing.md).")
    var inversion: InversionMethod = .nullText

    @Option(help: """
        Classifier-free guidance scale (default: the guidance the model's prism.json recommends, else 7.5). 2 for \
        the bundled model, chosen on phantom set 90002: Stable Diffusion's usual 7.5 makes its edits overshoot \
        (docs/default-model.md).
        """)
    var guidance: Double?

    func validate() throws {
        try requireCount(cases, "--cases", atLeast: 1)
        try requireFinite(guidance, "--guidance", range: .atLeast(0))
    }

    func run() throws {
        let modelURL = try model.url()
        // The captions the model was trained with (its prism.json names them; the default template otherwise).
        let template = try CaptionOptions.template(of: modelURL)
        try PhantomEditEvaluation(model: modelURL, output: report.output, cases: cases, seed: report.seed,
                                  settings: try settings(for: modelURL), template: template, freeCardiomegalyEdit: true,
                                  tool: "prism demo").run()
    }

    /// The edit settings for the model in `folder`: --guidance, else what its prism.json recommends, else the
    /// editor's default; the emphasis its prism.json recommends, else 1.
    func settings(for folder: URL) throws -> EditSettings {
        var settings = EditSettings()
        settings.steps = denoising.steps
        settings.method = inversion
        return settings.adopting(try ModelDefaults.load(from: folder), guidance: guidance)
    }
}
