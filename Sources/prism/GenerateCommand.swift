import ArgumentParser
import Diffusion
import Foundation
import Imaging
import Torch

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate images with a Stable Diffusion model (text-to-image or image-to-image).",
        discussion: """
            MODEL is a diffusers folder as save_pretrained writes it: model_index.json,
            unet/, vae/, text_encoder/, tokenizer/ and scheduler/, with .safetensors
            weights in fp32, fp16 or bf16 (*.fp16.safetensors variants are found too).
            Guidance is classifier-free, as in diffusers: the negative prompt (or "")
            and the prompt run in one batched UNet call per step.

            The seed gives the initial noise of torch.manual_seed(SEED); torch.randn(...)
            on the CPU: the same model, prompt, scheduler, steps and guidance reproduce
            diffusers' StableDiffusionPipeline up to floating-point rounding.

            Examples:
              Text to image, seeded:
                prism generate --model sd15 --prompt "chest x-ray, cardiomegaly" \\
                    --seed 42 --output cxr.png
              Four images with a negative prompt and DPM-Solver++ in 30 steps
              (writes batch-1.png ... batch-4.png):
                prism generate --model sd15 --prompt "chest x-ray" \\
                    --negative-prompt "blurry, text" --scheduler dpmpp --steps 30 \\
                    --guidance 5 --num-images 4 --output batch.png
              Image to image (60% of the schedule run on the noised input):
                prism generate --model sd15 --prompt "chest x-ray, no findings" \\
                    --init-image in.png --strength 0.6 --seed 1 --output edited.png
              Keep the final latents, or start from saved noise:
                prism generate --model sd15 --prompt "..." --save-latents z.safetensors
                prism generate --model sd15 --prompt "..." --latents noise.safetensors

            --save-latents writes the final latents (before VAE decoding) as the
            safetensors key "latents"; --latents reads that key as the starting noise
            (its shape sets the batch and the image size). bf16 halves memory and runs
            faster where the CPU has bf16 matrix units; the noise is then drawn in bf16,
            as diffusers does with torch_dtype=torch.bfloat16.
            """
    )

    @OptionGroup var model: ModelOption

    @Option(help: "What to generate.")
    var prompt: String

    @Option(help: "What to steer away from (the unconditional prompt of classifier-free guidance; default \"\").")
    var negativePrompt: String?

    @OptionGroup var denoising: DenoisingStepsOption

    @Option(help: "Classifier-free guidance scale; 1 or less turns guidance off (one UNet pass per step).")
    var guidance = 7.5

    @Option(help: "ddim, ddpm or dpmpp (DPM-Solver++). Default: the model's scheduler when it is one of these, else ddim.")
    var scheduler: String?

    @Option(help: "Seed of the CPU generator (as torch.manual_seed). Default: a random seed, printed.")
    var seed: UInt64?

    @Option(help: "A safetensors file whose \"latents\" tensor is the starting noise (see --save-latents).")
    var latents: String?

    @Option(help: "Image height in pixels, a multiple of 8 (default: the model's size, 512 for SD 1.5).")
    var height: Int?

    @Option(help: "Image width in pixels, a multiple of 8 (default: the model's size).")
    var width: Int?

    @Option(help: "Image-to-image: the share of the schedule run on the noised init image, in (0, 1].")
    var strength: Double?

    @Option(help: "Image-to-image: the image (PNG or JPEG) to start from. Resized to --width/--height when given, else cut down to multiples of 8.")
    var initImage: String?

    @OptionGroup var precision: DTypeOption

    @OptionGroup var loading: LoadOptions<AutoDevice>

    @Option(help: "The image to write, PNG or JPEG by its extension. With several images, NAME-1.png, NAME-2.png, ...")
    var output = "generated.png"

    @Option(help: "Also write the final latents (before VAE decoding) to this safetensors file, key \"latents\".")
    var saveLatents: String?

    @Option(help: "Images to generate for the prompt (one batch).")
    var numImages = 1

    func validate() throws {
        try requireCount(numImages, "--num-images", atLeast: 1)
        try requireFinite(guidance, "--guidance", range: .atLeast(0))
        guard ImageFileFormat(extensionOf: URL(fileURLWithPath: output)) != nil else {
            throw ValidationError("--output \(output): write .png, .jpg or .jpeg")
        }
        _ = try schedulerKind()
        try requireImageSide(height, "--height")
        try requireImageSide(width, "--width")
        if let strength {
            guard initImage != nil else { throw ValidationError("--strength needs --init-image (image-to-image)") }
            try requireFinite(strength, "--strength", range: .aboveUpTo(0, 1))
        }
        if initImage != nil, latents != nil {
            throw ValidationError("--latents and --init-image exclude each other: image-to-image starts from the image")
        }
    }

    func schedulerKind() throws -> SchedulerKind? {
        guard let scheduler else { return nil }
        guard let kind = SchedulerKind(rawValue: scheduler.lowercased()), kind != .ddimInverse else {
            throw ValidationError("--scheduler \(scheduler): use ddim, ddpm or dpmpp")
        }
        return kind
    }

    func run() throws {
        let dtype = try precision.value()
        let device = try loading.resolvedDevice()
        let started = Date()
        if let initImage { try requireRegularFile(initImage, "--init-image") }
        if let latents { try requireRegularFile(latents, "--latents") }
        if let saveLatents {
            try requireWritableFolder(URL(fileURLWithPath: saveLatents).deletingLastPathComponent().path, "--save-latents")
        }
        _ = try prepareOutputFolder(URL(fileURLWithPath: output).deletingLastPathComponent().path, option: "--output's folder")
        let pipeline = try StableDiffusionPipeline.load(
            from: try model.url(), dtype: dtype, device: device, variant: loading.variant)
        let loadSeconds = Date().timeIntervalSince(started)
        for (flag, text) in [("--prompt", prompt), ("--negative-prompt", negativePrompt ?? "")] {
            let encoding = pipeline.tokenizer.encode(text)
            if encoding.truncated {
                log("warning: \(flag) is \(encoding.fullLength) tokens long and only \(pipeline.tokenizer.modelMaxLength) "
                    + "fit; the text encoder ignores the rest, as in diffusers")
            }
        }

        var request = GenerationRequest(prompt: prompt, negativePrompt: negativePrompt)
        request.steps = denoising.steps
        request.guidanceScale = guidance
        request.numImagesPerPrompt = numImages
        request.height = height
        request.width = width
        let seed = seed ?? UInt64.random(in: 0...UInt64(UInt32.max))
        request.seed = seed
        if let latents {
            let given = try LatentsFile.read(URL(fileURLWithPath: latents))
            let f = pipeline.vae.downscaleFactor
            if height == nil, width == nil {
                (request.height, request.width) = (given.size(2) * f, given.size(3) * f)
            }
            if numImages == 1 { request.numImagesPerPrompt = given.size(0) }
            request.latents = given
        }
        if let initImage {
            request.initImage = try loadInitImage(initImage, downscale: pipeline.vae.downscaleFactor)
            request.strength = strength ?? request.strength
        }

        let scheduler = try pipeline.makeScheduler(schedulerKind())
        let schedulerName = try schedulerKind()?.rawValue ?? pipeline.configuredSchedulerKind?.rawValue ?? "ddim"
        let note = pipeline.configuredSchedulerKind == nil && self.scheduler == nil
            ? " (the model's \(pipeline.schedulerConfig.className ?? "scheduler") is not implemented; using DDIM)" : ""
        log("model loaded in \(String(format: "%.1f", loadSeconds)) s (\(dtype), \(device)); seed \(seed); "
            + "scheduler \(schedulerName)\(note)")

        var bar: ProgressBar?
        var stepSeconds: [Double] = []
        let result = try pipeline(request, scheduler: scheduler) { step in
            guard step.step > 0 else {
                bar = ProgressBar(total: step.total, label: "denoising", unit: "step")
                return
            }
            stepSeconds.append(step.seconds)
            bar?.update(step.step, info: String(format: "%.2f s/step", step.seconds))
        }
        bar?.finish(info: stepSeconds.isEmpty ? "" : String(format: "%.2f s/step",
                                                            stepSeconds.reduce(0, +) / Double(stepSeconds.count)))

        if let saveLatents {
            try LatentsFile.write(result.latents, to: URL(fileURLWithPath: saveLatents))
            log("latents \(result.latents.shape) written to \(saveLatents)")
        }
        guard let images = result.images else { return }
        for (i, url) in outputURLs(count: images.size(0)).enumerated() {
            try pngImage(images[i]).write(to: url)
            print(url.path)
        }
        log(String(format: "done in %.1f s", Date().timeIntervalSince(started)))
    }

    /// `--output` for one image; NAME-1.png, NAME-2.png, ... for several.
    func outputURLs(count: Int) -> [URL] {
        let url = URL(fileURLWithPath: output)
        guard count > 1 else { return [url] }
        let stem = url.deletingPathExtension().lastPathComponent
        let ext = url.pathExtension.isEmpty ? "png" : url.pathExtension
        return (1...count).map { url.deletingLastPathComponent().appendingPathComponent("\(stem)-\($0).\(ext)") }
    }

    /// An init image as diffusers' VaeImageProcessor prepares it: RGB, sized to --width/--height or cut down to
    /// multiples of the VAE factor, scaled to [-1, 1], 1 × 3 × H × W.
    func loadInitImage(_ path: String, downscale f: Int) throws -> Tensor {
        let image = try Image(contentsOf: URL(fileURLWithPath: path)).rgb()
        let w = width ?? image.width - image.width % f, h = height ?? image.height - image.height % f
        guard w > 0, h > 0 else { throw CLIError("\(path): \(image.width)×\(image.height) is smaller than \(f) pixels") }
        return VaeImageProcessor.preprocess(rgb: image.resized(width: w, height: h))
    }

    /// A 3 × H × W tensor in [0, 1] as an 8-bit RGB image (rounded as diffusers' `numpy_to_pil`).
    func pngImage(_ chw: Tensor) -> Image { VaeImageProcessor.rgbImage(chw) }

    var log: Log { Log() }
}
