import ArgumentParser
import Diffusion
import Foundation
import Torch

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time Stable Diffusion components (median seconds, peak memory) and counterfactual edits.",
        discussion: """
            Each benchmark loads one component of a diffusers model, runs one warm-up
            forward, then --repeat timed forwards under no-grad on seeded random inputs,
            and reports the median seconds per forward and the process's peak resident
            memory (VmHWM from /proc/self/status). --json prints one JSON object.

            MODEL is a model folder (its unet/, vae/ or text_encoder/ is read) or the
            component folder itself.

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
        subcommands: [UNet.self, VAEDecode.self, VAEEncode.self, TextEncoder.self, Edit.self]
    )

    struct Common: ParsableArguments {
        @Option(help: "A diffusers model folder, or the component folder itself (default: the bundled phantom model).")
        var model: String?

        @Option(help: "Compute dtype: fp32 or bf16.")
        var dtype = "fp32"

        @Option(help: "Device: cpu, cuda or auto.")
        var device = "cpu"

        @Option(help: "Weight file variant, such as fp16 for *.fp16.safetensors.")
        var variant: String?

        @Option(name: .customLong("repeat"), help: "Timed forwards after the warm-up (the median is reported).")
        var repeatCount = 5

        @Flag(help: "Print one JSON object instead of text.")
        var json = false

        func validate() throws {
            try requireCount(repeatCount, "--repeat", atLeast: 1)
            _ = try computeDType()
            _ = try requireDevice(device)
        }

        func computeDType() throws -> DType {
            try parseDType(dtype)
        }

        /// MODEL/name, or MODEL itself when it holds a config.json.
        func componentFolder(_ name: String) throws -> URL {
            let root = try DefaultModel.resolve(model)
            let fm = FileManager.default
            if fm.fileExists(atPath: root.appendingPathComponent("config.json").path) { return root }
            let folder = root.appendingPathComponent(name)
            guard fm.fileExists(atPath: folder.path) else {
                throw CLIError("\(folder.path): missing (give a model folder with \(name)/, or the \(name) folder itself)")
            }
            return folder
        }

        /// Loads with `load`, times `forward` (one warm-up, then `repeat` runs) and prints the report.
        func run(_ component: String, shape: [String: Int], folder name: String,
                 load: (URL, DType, Device) throws -> () -> Tensor) throws {
            let dtype = try computeDType(), device = try requireDevice(device)
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
            let sorted = times.sorted()
            let median = sorted.count % 2 == 1 ? sorted[sorted.count / 2]
                : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
            let rss = peakRSSMegabytes()
            if json {
                var fields: [String: Any] = [
                    "component": component, "model": folder.path, "dtype": "\(dtype)", "device": "\(device)",
                    "repeat": repeatCount, "warmup": 1, "median_s": median, "min_s": sorted.first!, "times_s": times,
                    "load_s": loadSeconds, "threads": Torch.threadCount,
                ]
                for (k, v) in shape { fields[k] = v }
                if let rss { fields["peak_rss_mb"] = rss }
                let data = try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes])
                print(String(decoding: data, as: UTF8.self))
            } else {
                let dims = shape.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                print("\(component) (\(dims); \(dtype), \(device), \(Torch.threadCount) threads)")
                print(String(format: "  median %.4f s per forward (min %.4f s, %d runs after 1 warm-up)",
                             median, sorted.first!, times.count))
                print(String(format: "  load %.1f s", loadSeconds) + (rss.map { String(format: "; peak RSS %.0f MB", $0) } ?? ""))
            }
        }
    }

    struct UNet: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "unet",
            abstract: "One UNet forward. With classifier-free guidance every denoising step is one forward at batch "
                + "2 × images (uncond + cond), so --batch 2 is the cost of one guided step for one image.")

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
            try common.run("unet", shape: ["latent_size": latentSize, "batch": batch], folder: "unet") { folder, dtype, device in
                let unet = try PipelineLoader.unet(from: folder, dtype: dtype, device: device, variant: common.variant)
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
            commandName: "vae-decode", abstract: "One VAE decode of latents to images.")

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
            try common.run("vae-decode", shape: ["latent_size": latentSize, "batch": batch], folder: "vae") { folder, dtype, device in
                let vae = try PipelineLoader.vae(from: folder, dtype: dtype, device: device, variant: common.variant)
                let z = Tensor.randn([batch, vae.latentChannels, latentSize, latentSize], generator: Generator(seed: 0),
                                     dtype: dtype, device: device)
                return { vae.decodeLatents(z) }
            }
        }
    }

    struct VAEEncode: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "vae-encode", abstract: "One VAE encode (posterior sample) of images to latents.")

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
            try common.run("vae-encode", shape: ["latent_size": latentSize, "batch": batch], folder: "vae") { folder, dtype, device in
                let vae = try PipelineLoader.vae(from: folder, dtype: dtype, device: device, variant: common.variant)
                let side = latentSize * vae.downscaleFactor
                let g = Generator(seed: 0)
                let x = (Tensor.rand([batch, 3, side, side], generator: g, dtype: dtype, device: device) * 2 - 1)
                return { vae.encodeSample(x, generator: g) }
            }
        }
    }

    struct TextEncoder: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "text-encoder", abstract: "One CLIP text encoder forward on 77-token sequences.")

        @OptionGroup var common: Common

        @Option(help: "Sequences per batch (2 = a prompt and its negative prompt).")
        var batch = 2

        func validate() throws {
            try requireCount(batch, "--batch", atLeast: 1)
        }

        func run() throws {
            try common.run("text-encoder", shape: ["batch": batch, "tokens": 77], folder: "text_encoder") { folder, dtype, device in
                let model = try CLIPTextModel.load(from: folder, dtype: dtype, device: device, variant: common.variant)
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
