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
    /// Each image's captions as trained on (``CaptionVariants``).
    let captions: [CaptionVariants]
    let detailDropout: DetailDropout
    let keep: Bool
    private let lock = NSLock()
    private var latents: [Int: [Float]] = [:]
    private(set) var shape: [Int] = []

    init(dataset: CaptionedImageDataset, vae: AutoencoderKL, seed: UInt64, captions: [CaptionVariants],
         detailDropout: DetailDropout = .off, keep: Bool = true) {
        self.keep = keep
        self.dataset = dataset
        self.vae = vae
        self.seed = seed
        self.captions = captions
        self.detailDropout = detailDropout
    }

    /// The caption a draw gets: the phrases the draw drops the detail of, said plainly.
    func caption(_ visit: SampleVisit) -> TokenizedCaption {
        let variants = captions[visit.index]
        let plain = detailDropout.plainPhrases(visit, phrases: variants.phrases)
        // Every pattern the dropout can draw was tokenized when the run started.
        return variants.byPlain[plain] ?? variants.byPlain[0]!
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

/// An image's captions: keyed by which of its `phrases` detail phrases are said plainly (bit i: the i-th phrase
/// with detail, in caption order), 0 being the full caption. Only the patterns the run's dropout can draw are kept.
struct CaptionVariants: Sendable {
    var phrases: Int
    var byPlain: [Int: TokenizedCaption]
}

/// Which draws of an image are captioned without some of their detail ("pleural effusion" for "a small right
/// pleural effusion"), a pure function of (seed, image, epoch), so that a resumed run draws the same captions.
/// `share` drops the whole caption's detail; `phraseShare` drops each phrase's detail on its own, so that captions
/// mixing plain and detailed phrases ("cardiomegaly and a small left pleural effusion"), as partial labels give
/// them, are trained too. A model trained on detail captions alone never meets the plain word, which an edit that
/// names no detail then asks for; trained on both, the plain word means any of the details, as the data has them.
public struct DetailDropout: Sendable, Equatable {
    public var share: Double
    public var phraseShare: Double
    public var seed: UInt64

    public init(share: Double, phraseShare: Double = 0, seed: UInt64) {
        self.share = share
        self.phraseShare = phraseShare
        self.seed = seed
    }

    public static let off = DetailDropout(share: 0, seed: 0)

    /// Whether the draw drops the whole caption's detail.
    public func dropsDetail(_ visit: SampleVisit) -> Bool {
        guard share > 0 else { return false }
        var rng = generator(visit)
        return rng.uniform() < share
    }

    /// The phrases of `phrases` whose detail the draw drops, a bit each (all of them when the whole caption's is).
    public func plainPhrases(_ visit: SampleVisit, phrases: Int) -> Int {
        let all = (1 << phrases) - 1
        var rng = generator(visit)
        // The caption-wide draw comes first, so that runs without phrase dropout draw what they drew before it existed.
        if share > 0, rng.uniform() < share { return all }
        guard phraseShare > 0 else { return 0 }
        var plain = 0
        for i in 0..<phrases where rng.uniform() < phraseShare { plain |= 1 << i }
        return plain
    }

    /// The bit patterns `plainPhrases` can return for an image with `phrases` detail phrases.
    func patterns(phrases: Int) -> [Int] {
        let all = (1 << phrases) - 1
        if phraseShare > 0 { return Array(0...all) }
        return share > 0 && all > 0 ? [0, all] : [0]
    }

    private func generator(_ visit: SampleVisit) -> SplitMix64 {
        SplitMix64(seed: seed, salt: 0xDE7A_1100_0000_0000, index: visit.index, epoch: visit.epoch)
    }
}
