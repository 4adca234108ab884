import ArgumentParser
import Counterfactual
import Datasets
import Diffusion
import Evaluation
import Foundation
import Imaging

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Measure a model on phantom X-rays it never saw.",
        subcommands: [VAE.self, Loss.self, Edits.self, EvaluateCounterfactualsCommand.self]
    )

    struct VAE: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "vae",
            abstract: "VAE reconstruction PSNR on phantom cases (decode(encode(x)) against x).",
            discussion: """
                Renders cases 0..<COUNT of phantom set SEED (90001 by default, outside the
                bundled model's training set) at the model's resolution, and reports the
                mean, lowest and highest PSNR of their reconstructions through the VAE's
                posterior mean. --model is a model folder or its vae/ folder.

                Examples:
                  prism evaluate vae --model runs/default-vae --count 100
                  prism evaluate vae --model runs/default-vae --count 8 --output vae-check
                """
        )

        @OptionGroup var model: ModelOption

        @Option(help: "Phantom set of the cases.")
        var seed: UInt64 = 90_001

        @Option(help: "Number of cases.")
        var count = 64

        @Option(help: "Image side in pixels (default: the VAE's sample_size).")
        var resolution: Int?

        @Option(help: "Also write each case as DIR/NNNN.png: input, reconstruction and 4×|difference| side by side.")
        var output: String?

        @Flag(help: "Print one JSON object.")
        var json = false

        func validate() throws {
            try requireCount(count, "--count", atLeast: 1)
            try requireImageSide(resolution, "--resolution")
        }

        func run() throws {
            let root = try model.url()
            let folder = FileManager.default.fileExists(atPath: root.appendingPathComponent("vae/config.json").path)
                ? root.appendingPathComponent("vae") : root
            let vae = try AutoencoderKL.load(from: folder)
            let size = resolution ?? vae.config.sampleSize.first ?? 128
            let bar = ProgressBar(total: count, label: "vae", unit: "image")
            let pictures = try output.map { try prepareOutputFolder($0) }
            var writeError: Error?
            let result = ReconstructionEvaluation.run(vae: vae, resolution: size, seed: seed, count: count, each: { i, input, reconstruction in
                guard let pictures, writeError == nil else { return }
                do {
                    try ReconstructionEvaluation.sideBySide(input, reconstruction).image()
                        .writePNG(to: pictures.appendingPathComponent(String(format: "%04d.png", i)))
                } catch { writeError = error }
            }) { done, _ in bar.update(done) }
            if let writeError { throw writeError }
            bar.finish()
            if json {
                let data = try JSONEncoder().encode(result)
                print(String(decoding: data, as: UTF8.self))
            } else {
                print(String(format: "VAE reconstruction on %d phantom cases (set %llu, %d px): PSNR mean %.2f dB, min %.2f, max %.2f",
                             result.count, seed, size, result.meanPSNR, result.minPSNR, result.maxPSNR))
            }
        }
    }

    struct Loss: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "loss",
            abstract: "Held-out denoising loss: ε-MSE on phantom cases with their captions, fixed noise and timesteps.",
            discussion: """
                Encodes cases 0..<COUNT of phantom set SEED (90001 by default, outside the
                bundled model's training set), captions each with the template (as in
                training), noises it at STEPS timesteps spread over the schedule with
                noise fixed by --noise-seed, and reports the mean squared error of the
                predicted noise: overall, per third of the schedule, and per timestep,
                and the same with the empty caption (how much the caption helps: what
                editing by caption relies on).
                Every model sees the same noisy latents, so two models, or two
                checkpoints of a run, are compared on equal terms. A v-prediction
                model's output is converted to ε first, so that runs trained on either
                target, with or without Min-SNR weighting, are scored in one unit.
                It also reports where the finding words attend: the share of their
                cross-attention inside the structure each names (the phantom's heart,
                effusion, devices), against the structures' area, which attention
                spread evenly would get, and how well the word's attention at 0.3 of
                its peak (prompt-to-prompt's mask) outlines the structure
                (intersection over union); prism train --ground-attention raises both.

                Examples:
                  prism evaluate loss --model runs/v2/checkpoints/checkpoint-000600/model \\
                      --template configs/captions-detail.json
                  prism evaluate loss --count 256 --steps 20 --json
                """
        )

        @OptionGroup var model: ModelOption

        @OptionGroup var captions: CaptionOptions

        @Option(help: "Phantom set of the cases.")
        var seed: UInt64 = 90_001

        @Option(help: "Number of cases.")
        var count = 128

        @Option(help: "Timesteps per case, spread evenly over the schedule.")
        var steps = 10

        @Option(help: "Seed of the noise (the same seed gives every model the same noisy latents).")
        var noiseSeed: UInt64 = 0

        @Flag(help: "Print one JSON object.")
        var json = false

        func validate() throws {
            try requireCount(count, "--count", atLeast: 1)
            try requireCount(steps, "--steps", atLeast: 3)
        }

        func run() throws {
            let modelURL = try model.url()
            let template = try captions.load(model: modelURL)
            let bar = ProgressBar(total: count, label: "loss", unit: "case")
            let result = try DenoisingLossEvaluation.run(model: modelURL, template: template, seed: seed, count: count,
                                                         steps: steps, noiseSeed: noiseSeed) { done, _ in bar.update(done) }
            bar.finish()
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(result), as: UTF8.self))
            } else {
                print(String(format: "held-out ε-MSE on %d phantom cases (set %llu), %d timesteps each: %.5f",
                             result.count, seed, result.timesteps.count, result.epsilonMSE))
                for band in result.bands {
                    print(String(format: "  t %3d–%3d: %.5f", band.from, band.to, band.epsilonMSE))
                }
                print(String(format: "with the empty caption: %.5f (the caption lowers it by %.5f)",
                             result.unconditionalMSE, result.captionGain))
                if let g = result.grounding {
                    print(String(format: "finding words' attention inside their structure: %.3f of it (the structures cover %.3f "
                                 + "of the image; %d cases name a finding); overlap of the structure with the word's mask "
                                 + "at 0.3 of its peak: %.3f", g.insideShare, g.area, g.cases, g.maskOverlap))
                }
            }
        }
    }

    struct Edits: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "edits",
            abstract: "Edit phantom cases by caption and score each edit against the true counterfactual.",
            discussion: """
                Renders COUNT phantom cases of set SEED (90001 by default, outside the
                bundled model's training set), inverts each, and edits it three ways:
                remove support devices, remove cardiomegaly, add pleural effusion
                (those that apply). Each edit is scored against the phantom's
                counterfactual of the same patient with only the edited finding changed
                (what the target caption describes): the share of the input-to-truth gap
                it closes inside the true change (target >= 0.5) and its mean absolute
                change more than 8 px outside it (target <= 1/255 with a mask). Where
                the caption leaves something open that the input does not show (how
                small the heart becomes, the side and volume of a new effusion), the
                edit is also scored against the nearest patient the caption allows.

                Writes DIR/report.html, DIR/metrics.json and the pictures; prints the
                summary (or metrics.json with --json). Run it once per inversion method
                and mask mode to compare them, e.g.:
                  prism evaluate edits --inversion null-text --mask none \\
                      --output eval/null-none

                --edit (repeatable) chooses other edits: add or remove any finding the
                phantom draws, naming detail if the model was trained with the detail
                captions (--template configs/captions-detail.json, docs/editing.md):
                  prism evaluate edits --model runs/detail-ldm \\
                      --template configs/captions-detail.json \\
                      --edit "add a small right pleural effusion" \\
                      --edit "remove the pacemaker" --output eval/detail
                A named size or grade is true at its band's middle (docs/phantom.md);
                the rest of the band, and every side when none is named, is scored
                as the nearest patient the caption allows.

                --without-detail FINDING (repeatable) captions that finding plainly,
                as labels that lack its detail do, while the edited finding keeps
                the detail its edit names: a caption that mixes the two, e.g.
                  prism evaluate edits --without-detail cardiomegaly \\
                      --without-detail "support devices" \\
                      --edit "add a moderate left pleural effusion" --output eval/mixed
                """
        )

        @OptionGroup var model: ModelOption

        @OptionGroup var report: PhantomReportOptions<EvaluationFolder>

        @Option(help: "Number of cases.")
        var count = 8

        @Option(help: ArgumentHelp("An edit to score instead of the three standard ones (repeatable), e.g. \"add a small right pleural effusion\", \"remove the pacemaker\".", valueName: "text"))
        var edit: [String] = []

        @Option(help: ArgumentHelp("Caption this finding without its detail, as labels that lack it do (repeatable): cardiomegaly, pleural effusion or support devices; needs a detail template.", valueName: "finding"))
        var withoutDetail: [String] = []

        @OptionGroup var captions: CaptionOptions

        @OptionGroup var editing: EditingOptions

        @Flag(help: "Print metrics.json instead of the report's path.")
        var json = false

        func validate() throws {
            try requireCount(count, "--count", atLeast: 1)
            try editing.masking.requireMode()
            _ = try plainFindings()
        }

        /// The canonical names of --without-detail's findings, each one that has detail to leave out.
        func plainFindings() throws -> Set<String> {
            let known = CaptionTemplate.findingsWithDetail
            return Set(try withoutDetail.map { name in
                let finding = Findings.canonical(name)
                guard known.contains(finding) else {
                    throw ValidationError("--without-detail \(name): captions give detail to "
                                          + known.map { $0.lowercased() }.joined(separator: ", ") + " only")
                }
                return finding
            })
        }

        func run() throws {
            let template = try captions.load(for: model)
            if !withoutDetail.isEmpty, !template.detail {
                throw ValidationError("--without-detail leaves detail out of captions that say none: the caption template has "
                                      + "no \"detail\": true (the bundled model's has; configs/captions-detail.json)")
            }
            // Every edit is read before the model loads: a misspelt one is refused at once, naming what is known.
            let edits = try edit.isEmpty ? PhantomEdit.standard : edit.map { try PhantomEdit.parsing($0, template: template) }
            let modelURL = try model.url()
            let tool = "prism evaluate edits"
            let settings = try editing.settings(for: modelURL, log: Log(tool: tool))
            try PhantomEditEvaluation(model: modelURL, output: report.output, cases: count, seed: report.seed,
                                      settings: settings, template: template, edits: edits,
                                      freeCardiomegalyEdit: false, plainFindings: try plainFindings(), tool: tool).run(json: json)
        }
    }
}
