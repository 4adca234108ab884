import Core
import Datasets
import Diffusion
import Foundation
import Imaging
import NN
import Tokenizer
import Torch
import Training

/// Latents of the dataset's images under a frozen VAE, each encoded once (on first use, on a loader thread)
/// and kept in memory. The posterior is sampled with a generator seeded by the run's seed and the image's index,
/// so an image always gets the same latents, whichever thread encodes it and whenever (a resumed run sees the
/// same numbers). diffusers' train_text_to_image draws a new posterior sample every step instead.
final class LatentCache: @unchecked Sendable {
    let dataset: CaptionedImageDataset
    let vae: AutoencoderKL
    let seed: UInt64
    let tokenIDs: [[Int]]
    let keep: Bool
    /// Each image's grounded tokens (empty arrays without attention grounding).
    let tokenMasks: [[TokenMask]]
    private let lock = NSLock()
    private var latents: [Int: [Float]] = [:]
    private(set) var shape: [Int] = []

    init(dataset: CaptionedImageDataset, vae: AutoencoderKL, seed: UInt64, tokenIDs: [[Int]], tokenMasks: [[TokenMask]]? = nil,
         keep: Bool = true) {
        self.keep = keep
        self.tokenMasks = tokenMasks ?? Array(repeating: [], count: tokenIDs.count)
        self.dataset = dataset
        self.vae = vae
        self.seed = seed
        self.tokenIDs = tokenIDs
    }

    func sample(_ i: Int) throws -> CaptionedLatents {
        lock.lock()
        let cached = latents[i]
        let s = shape
        lock.unlock()
        if let cached { return CaptionedLatents(latents: cached, shape: s, tokenIDs: tokenIDs[i], tokenMasks: tokenMasks[i]) }
        let pixels = try dataset.pixels(i)
        let r = dataset.resolution
        let z: Tensor = withNoGrad {
            let x = Tensor(pixels, shape: [1, dataset.channels, r, r]).to(vae.store.dtype, vae.store.device)
            let g = Generator(seed: seed &+ 0x1A7E_0000 &+ UInt64(i))
            return vae.scaleLatents(vae.encode(x).sample(generator: g)).to(.float32, .cpu)
        }
        let values = z.floats(), zShape = Array(z.shape.dropFirst())
        lock.lock()
        if keep { latents[i] = values }
        shape = zShape
        lock.unlock()
        return CaptionedLatents(latents: values, shape: zShape, tokenIDs: tokenIDs[i], tokenMasks: tokenMasks[i])
    }
}
