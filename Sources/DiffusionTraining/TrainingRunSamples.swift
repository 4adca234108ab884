import Core
import Datasets
import Diffusion
import Foundation
import Imaging
import NN
import Tokenizer
import Torch
import Training

extension TrainingRun {
    /// The prompts of the sample grid: the given ones, or the captions of a few spread-out rows.
    public var samplePrompts: [String] {
        if !options.samplePrompts.isEmpty { return options.samplePrompts }
        let n = min(4, dataset.count)
        var seen = Set<String>(), prompts: [String] = []
        for k in 0..<dataset.count where prompts.count < n {
            let c = dataset.caption((k * 7919) % dataset.count)
            if seen.insert(c).inserted { prompts.append(c) }
        }
        return prompts
    }

    /// Writes `samples/step-NNNNNN.png`: for a UNet run, one image per sample prompt (fixed seed) in a row; for a
    /// VAE run, a few fixed images (top) over their reconstructions (bottom).
    public func writeSamples() throws {
        let fm = FileManager.default
        try fm.createDirectory(at: samplesFolder, withIntermediateDirectories: true)
        let url = samplesFolder.appendingPathComponent(String(format: "step-%06d.png", trainer.step))
        let r = options.resolution
        let tiles: [[Float]] = try trainer.withPublishedWeights {
            try withSamplingMode {
                switch options.component {
                case .vae, .vaeDecoder:
                    let indices = (0..<min(4, dataset.count)).map { ($0 * 7919) % dataset.count }
                    var originals: [[Float]] = [], reconstructions: [[Float]] = []
                    for i in indices {
                        let pixels = try dataset.pixels(i)
                        let x = Tensor(pixels, shape: [1, vae.config.inChannels, r, r]).to(vae.store.dtype, vae.store.device)
                        let y = vae.decode(vae.encode(x).mode())
                        originals.append(VaeImageProcessor.denormalize(Array(pixels.prefix(r * r))))
                        reconstructions.append(Self.grayPlane(y))
                    }
                    return originals + reconstructions
                case .unet, .unetText:
                    let pipeline = StableDiffusionPipeline(tokenizer: tokenizer, textEncoder: textEncoder, unet: unet, vae: vae,
                                                           schedulerConfig: schedulerConfig,
                                                           dtype: .float32, device: options.settings.device)
                    return try samplePrompts.map { prompt in
                        var request = GenerationRequest(prompt: prompt)
                        request.steps = options.sampleSteps
                        request.guidanceScale = options.sampleGuidance
                        request.height = r
                        request.width = r
                        request.seed = 1234
                        return Self.grayPlane(try pipeline(request).images!)
                    }
                }
            }
        }
        let columns = options.component.trainsVAE ? max(1, tiles.count / 2) : tiles.count
        try Self.grid(tiles, side: r, columns: columns).writePNG(to: url)
    }

    /// Runs `body` as a sample is drawn mid-training: without gradients, with dropout and other training-only
    /// behaviour off, and on libtorch's plain ops (the weights change every step, so prepacked copies would be
    /// remade for each sample and held between samples).
    func withSamplingMode<R>(_ body: () throws -> R) rethrows -> R {
        let stores = [unet.store, textEncoder.store, vae.store]
        let previous = stores.map(\.isTraining)
        for s in stores { s.isTraining = false }
        defer { for (s, p) in zip(stores, previous) { s.isTraining = p } }
        return try withNoGrad { try Prepacking.withoutPrepacking(body) }
    }

    /// The first channel of a [1, C, H, W] image in [-1, 1], as [0, 1] floats (the training images are gray).
    static func grayPlane(_ image: Tensor) -> [Float] { VaeImageProcessor.grayValues(image, .firstChannel) }

    /// Gray tiles of side `side` ([0, 1] floats) in a grid with a 2-pixel white gap.
    static func grid(_ tiles: [[Float]], side: Int, columns: Int) -> Image {
        let gap = 2
        let rows = (tiles.count + columns - 1) / columns
        let width = columns * side + (columns - 1) * gap, height = rows * side + (rows - 1) * gap
        var out = [Float](repeating: 1, count: width * height)
        for (k, tile) in tiles.enumerated() {
            let x0 = (k % columns) * (side + gap), y0 = (k / columns) * (side + gap)
            for y in 0..<side {
                for x in 0..<side { out[(y0 + y) * width + x0 + x] = tile[y * side + x] }
            }
        }
        return Image(floats: out, width: width, height: height, channels: 1)
    }

    /// Draws `loss.png` from the log.
    public func writeLossCurve() throws {
        let history = trainer.lossHistory()
        guard !history.isEmpty else { return }
        try LossCurve(points: history.map { (Double($0.step), $0.loss) }).image().writePNG(to: lossCurveURL)
    }
}
