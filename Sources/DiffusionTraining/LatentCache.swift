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
    /// Each image's caption as trained on.
    let captions: [TokenizedCaption]
    /// Each image's caption without its detail, for the draws `detailDropout` picks (nil: never).
    let plainCaptions: [TokenizedCaption]?
    let detailDropout: DetailDropout
    let keep: Bool
    private let lock = NSLock()
    private var latents: [Int: [Float]] = [:]
    private(set) var shape: [Int] = []

    init(dataset: CaptionedImageDataset, vae: AutoencoderKL, seed: UInt64, captions: [TokenizedCaption],
         plainCaptions: [TokenizedCaption]? = nil, detailDropout: DetailDropout = .off, keep: Bool = true) {
        precondition(plainCaptions == nil || plainCaptions!.count == captions.count)
        self.keep = keep
        self.dataset = dataset
        self.vae = vae
        self.seed = seed
        self.captions = captions
        self.plainCaptions = plainCaptions
        self.detailDropout = detailDropout
    }

    /// The caption a draw gets: the plain one where the draw drops the detail.
    func caption(_ visit: SampleVisit) -> TokenizedCaption {
        if let plainCaptions, detailDropout.dropsDetail(visit) { return plainCaptions[visit.index] }
        return captions[visit.index]
    }

    func sample(_ visit: SampleVisit) throws -> CaptionedLatents {
        let i = visit.index, c = caption(visit)
        lock.lock()
        let cached = latents[i]
        let s = shape
        lock.unlock()
        if let cached { return CaptionedLatents(latents: cached, shape: s, tokenIDs: c.ids, tokenMasks: c.masks) }
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
        return CaptionedLatents(latents: values, shape: zShape, tokenIDs: c.ids, tokenMasks: c.masks)
    }
}

/// A caption as the UNet trains on it: its token ids and, when attention is grounded, its grounded tokens.
struct TokenizedCaption: Sendable {
    var ids: [Int]
    var masks: [TokenMask] = []
}

/// Which draws of an image are captioned without their detail ("pleural effusion" for "a small right pleural
/// effusion"): a share of them, picked by a pure function of (seed, image, epoch), so that a resumed run draws the
/// same captions. A model trained on detail captions alone never meets the plain word, which an edit that names no
/// detail then asks for; trained on both, the plain word means any of the details, as the data has them.
public struct DetailDropout: Sendable, Equatable {
    public var share: Double
    public var seed: UInt64

    public init(share: Double, seed: UInt64) {
        self.share = share
        self.seed = seed
    }

    public static let off = DetailDropout(share: 0, seed: 0)

    public func dropsDetail(_ visit: SampleVisit) -> Bool {
        guard share > 0 else { return false }
        var rng = SplitMix64(seed: seed, salt: 0xDE7A_1100_0000_0000, index: visit.index, epoch: visit.epoch)
        return rng.uniform() < share
    }
}
