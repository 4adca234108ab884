import ArgumentParser
import Core
import Diffusion
import Foundation
import Torch

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time Stable Diffusion components (median seconds, peak memory), counterfactual edits and classifiers.",
        discussion: """
            Each benchmark loads one component of a diffusers model, runs one warm-up
            forward, then --repeat timed forwards under no-grad on seeded random inputs,
            and reports the median seconds per forward and the process's peak resident
            memory (VmHWM from /proc/self/status). --json prints one JSON object.

            --model is a model folder (its unet/, vae/ or text_encoder/ is read) or
            the component folder itself.

            Examples:
              UNet at 64×64 latents (512×512 pixels), one guided step (batch 2):
                prism bench unet --model sd15 --latent-size 64 --dtype bf16 --repeat 5
              VAE decode of one 64×64 latent, VAE encode of one 512×512 image:
                prism bench vae-decode --model sd15 --latent-size 64
                prism bench vae-encode --model sd15 --latent-size 64
              Text encoder on a prompt and a negative prompt:
                prism bench text-encoder --model sd15 --batch 2 --json

            scripts/bench_unet.py compares `prism bench unet` with diffusers on the same
            weights; see docs/benchmarks.md.
            """,
        subcommands: [UNet.self, VAEDecode.self, VAEEncode.self, TextEncoder.self, Edit.self, Classifier.self]
    )

    struct Common: ParsableArguments {
        @OptionGroup var model: ModelOption

        @OptionGroup var precision: DTypeOption

        @OptionGroup var loading: LoadOptions<CPUDevice>

        @Option(name: .customLong("repeat"), help: "Timed forwards after the warm-up (the median is reported).")
        var repeatCount = 5

        @Flag(help: "Print one JSON object instead of text.")
        var json = false

        func validate() throws {
            try requireCount(repeatCount, "--repeat", atLeast: 1)
        }

        /// What --model may be, for a benchmark of the component in `folder`.
        static func modelDiscussion(_ folder: String) -> String {
            "--model is a model folder (its \(folder)/ is read) or the \(folder) folder itself."
        }

        /// MODEL/name, or MODEL itself when it holds a config.json.
        func componentFolder(_ name: String) throws -> URL {
            let root = try model.url()
            let fm = FileManager.default
            if fm.fileExists(atPath: root.appendingPathComponent("config.json").path) { return root }
            let folder = root.appendingPathComponent(name)
            guard fm.fileExists(atPath: folder.path) else {
                throw CLIError("\(folder.path): missing (give a model folder with \(name)/, or the \(name) folder itself)")
            }
            return folder
        }

        /// Loads with `load`, times `forward` (one warm-up, then `repeat` runs) and prints the report.
        func run(_ component: String, shape: BenchmarkShape, folder name: String,
                 load: (URL, DType, Device) throws -> () -> Tensor) throws {
            let dtype = try precision.value(), device = try loading.resolvedDevice()
            let folder = try componentFolder(name)
            let loadStart = Date()
            let forward = try load(folder, dtype, device)
            let loadSeconds = Date().timeIntervalSince(loadStart)
            var times: [Double] = []
            for i in 0...repeatCount {
                let start = Date()
                let out = withNoGrad { forward() }
                if device.isCUDA { device.synchronize() } else { _ = out.shape }
                if i > 0 { times.append(Date().timeIntervalSince(start)) }
            }
            let medianSeconds = median(times)
            let rss = peakRSSMegabytes()
            if json {
                let report = ComponentBenchmarkReport(
                    component: component, model: folder.path, dtype: "\(dtype)", device: "\(device)", repeat: repeatCount,
                    warmup: 1, medianSeconds: medianSeconds, minSeconds: times.min()!, times: times, loadSeconds: loadSeconds,
                    threads: Torch.threadCount, shape: shape, peakRSSMegabytes: rss)
                print(String(decoding: try JSONFile.encode(report, pretty: false), as: UTF8.self))
            } else {
                print("\(component) (\(shape.text); \(dtype), \(device), \(Torch.threadCount) threads)")
                print(String(format: "  median %.4f s per forward (min %.4f s, %d runs after 1 warm-up)",
                             medianSeconds, times.min()!, times.count))
                print(String(format: "  load %.1f s", loadSeconds) + (rss.map { String(format: "; peak RSS %.0f MB", $0) } ?? ""))
            }
        }
    }

    struct UNet: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "unet",
            abstract: "One UNet forward. With classifier-free guidance every denoising step is one forward at batch "
                + "2 × images (uncond + cond), so --batch 2 is the cost of one guided step for one image.",
            discussion: Common.modelDiscussion("unet"))

        @OptionGroup var common: Common

        @Option(help: "Latent height and width (pixels / 8: 64 for 512×512).")
        var latentSize: Int

        @Option(help: "UNet batch (2 = one image with classifier-free guidance).")
        var batch = 2

        func validate() throws {
            try requireCount(latentSize, "--latent-size", atLeast: 1)
            try requireCount(batch, "--batch", atLeast: 1)
        }

        func run() throws {
            try common.run("unet", shape: BenchmarkShape(latentSize: latentSize, batch: batch), folder: "unet") { folder, dtype, device in
                let unet = try PipelineLoader.unet(from: folder, dtype: dtype, device: device, variant: common.loading.variant)
                let g = Generator(seed: 0)
                let sample = Tensor.randn([batch, unet.latentChannels, latentSize, latentSize], generator: g, dtype: dtype, device: device)
                let context = Tensor.randn([batch, 77, unet.crossAttentionDim], generator: g, dtype: dtype, device: device)
                let t = Tensor(ints: [500]).to(device)
                return { unet.predictNoise(sample, timestep: t, encoderHiddenStates: context) }
            }
        }
    }

    struct VAEDecode: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "vae-decode", abstract: "One VAE decode of latents to images.",
            discussion: Common.modelDiscussion("vae"))

        @OptionGroup var common: Common

        @Option(help: "Latent height and width (64 decodes to 512×512).")
        var latentSize: Int

        @Option(help: "Latents per batch.")
        var batch = 1

        func validate() throws {
            try requireCount(latentSize, "--latent-size", atLeast: 1)
            try requireCount(batch, "--batch", atLeast: 1)
        }

        func run() throws {
            try common.run("vae-decode", shape: BenchmarkShape(latentSize: latentSize, batch: batch), folder: "vae") { folder, dtype, device in
                let vae = try PipelineLoader.vae(from: folder, dtype: dtype, device: device, variant: common.loading.variant)
                let z = Tensor.randn([batch, vae.latentChannels, latentSize, latentSize], generator: Generator(seed: 0),
                                     dtype: dtype, device: device)
                return { vae.decodeLatents(z) }
            }
        }
    }

    struct VAEEncode: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "vae-encode", abstract: "One VAE encode (posterior sample) of images to latents.",
            discussion: Common.modelDiscussion("vae"))

        @OptionGroup var common: Common

        @Option(help: "Latent height and width of the result; the image is this × the VAE factor (64: 512×512).")
        var latentSize: Int

        @Option(help: "Images per batch.")
        var batch = 1

        func validate() throws {
            try requireCount(latentSize, "--latent-size", atLeast: 1)
            try requireCount(batch, "--batch", atLeast: 1)
        }

        func run() throws {
            try common.run("vae-encode", shape: BenchmarkShape(latentSize: latentSize, batch: batch), folder: "vae") { folder, dtype, device in
                let vae = try PipelineLoader.vae(from: folder, dtype: dtype, device: device, variant: common.loading.variant)
                let side = latentSize * vae.downscaleFactor
                let g = Generator(seed: 0)
                let x = (Tensor.rand([batch, 3, side, side], generator: g, dtype: dtype, device: device) * 2 - 1)
                return { vae.encodeSample(x, generator: g) }
            }
        }
    }

    struct TextEncoder: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "text-encoder", abstract: "One CLIP text encoder forward on 77-token sequences.",
            discussion: Common.modelDiscussion("text_encoder"))

        @OptionGroup var common: Common

        @Option(help: "Sequences per batch (2 = a prompt and its negative prompt).")
        var batch = 2

        func validate() throws {
            try requireCount(batch, "--batch", atLeast: 1)
        }

        func run() throws {
            try common.run("text-encoder", shape: BenchmarkShape(batch: batch, tokens: 77), folder: "text_encoder") { folder, dtype, device in
                let model = try CLIPTextModel.load(from: folder, dtype: dtype, device: device, variant: common.loading.variant)
                let ids = Tensor.randint(0, model.config.vocabSize, [batch, 77], generator: Generator(seed: 0), device: device)
                return { model(ids) }
            }
        }
    }
}

/// The process's peak resident set size in MB (VmHWM), or nil where /proc is not available.
func peakRSSMegabytes() -> Double? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ").compactMap { Double($0) }.first
        return kb.map { $0 / 1024 }
    }
    return nil
}
