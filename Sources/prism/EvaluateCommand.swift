import ArgumentParser
import Diffusion
import Evaluation
import Foundation

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Measure a model on phantom X-rays it never saw.",
        subcommands: [VAE.self]
    )

    struct VAE: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "vae",
            abstract: "VAE reconstruction PSNR on phantom cases (decode(encode(x)) against x).",
            discussion: """
                Renders cases 0..<COUNT of phantom set SEED (90001 by default, outside the
                bundled model's training set) at the model's resolution, and reports the
                mean, lowest and highest PSNR of their reconstructions through the VAE's
                posterior mean.

                Example:
                  prism evaluate vae --model runs/default-vae --count 100
                """
        )

        @Option(help: "A diffusers model folder, or its vae/ folder (default: the bundled phantom model).")
        var model: String?

        @Option(help: "Phantom set of the cases.")
        var seed: UInt64 = 90_001

        @Option(help: "Number of cases.")
        var count = 64

        @Option(help: "Image side in pixels (default: the VAE's sample_size).")
        var resolution: Int?

        @Flag(help: "Print one JSON object.")
        var json = false

        func run() throws {
            let root = try DefaultModel.resolve(model)
            let folder = FileManager.default.fileExists(atPath: root.appendingPathComponent("vae/config.json").path)
                ? root.appendingPathComponent("vae") : root
            let vae = try AutoencoderKL.load(from: folder)
            let size = resolution ?? vae.config.sampleSize.first ?? 128
            let bar = ProgressBar(total: count, label: "vae", unit: "image")
            let result = ReconstructionEvaluation.run(vae: vae, resolution: size, seed: seed, count: count) { done, _ in bar.update(done) }
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
}
