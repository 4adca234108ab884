import Diffusion
import Foundation
import Imaging
import NN
import Tokenizer
import Training
import Torch

// Grounding the caption's words in the image during training (TokenCompose, Wang et al., CVPR 2024): a second loss
// pulls each finding word's cross-attention into the region the word names, and over all of it, given a segmentation
// mask of it. The phantom knows exactly where its heart, effusion and devices are, so its datasets can carry these
// masks; a model whose words attend to their own structures gives prompt-to-prompt an edit mask that is the finding's,
// not the whole chest's, and keeps what the target caption keeps.

/// One recorded cross-attention call: head-averaged probabilities [B, queries, tokens] and the layer's query grid.
public typealias AttentionMap = (probabilities: Tensor, height: Int, width: Int)

/// One caption token and the latent cells of the structure it names (1 inside, 0 outside; latent height × width,
/// row-major).
public struct TokenMask: Sendable, Equatable {
    public var token: Int
    public var mask: [Float]

    public init(token: Int, mask: [Float]) {
        self.token = token
        self.mask = mask
    }
}

/// Which words of a caption name which structures: a phrase (with the detail words that may precede it, so that
/// "a small left pleural effusion" grounds "small" and "left" too) and the mask names it takes its region from.
public struct GroundingVocabulary: Sendable {
    public struct Phrase: Sendable {
        /// A regular expression over the lower-cased caption, matched at word boundaries.
        public let pattern: String
        /// The masks whose union is the phrase's region (those the image has; a phrase with none is not grounded).
        public let structures: [String]

        public init(_ pattern: String, _ structures: [String]) {
            self.pattern = pattern
            self.structures = structures
        }
    }

    public let phrases: [Phrase]

    public init(phrases: [Phrase]) { self.phrases = phrases }

    static let devices = ["pacemaker", "endotracheal_tube", "central_venous_catheter", "nasogastric_tube"]

    /// The chest X-ray captions of docs/training.md (plain and detail), with the phantom's structure names
    /// (`prism phantom generate --masks`).
    public static let chestXRay = GroundingVocabulary(phrases: [
        Phrase("((mild|moderate|severe) )?cardiomegaly", ["heart"]),
        Phrase("((small|moderate|large) )?((left|right|bilateral) )?pleural effusions?", ["effusion"]),
        Phrase("support devices", devices),
        Phrase("pacemaker", ["pacemaker"]),
        Phrase("endotracheal tube", ["endotracheal_tube"]),
        Phrase("central venous catheter", ["central_venous_catheter"]),
        Phrase("nasogastric tube", ["nasogastric_tube"]),
    ])

    /// The phrases found in `caption`, as character ranges with their structures. Words after " without " name what
    /// the image does not show and are left out.
    public func matches(in caption: String) -> [(range: Range<String.Index>, structures: [String])] {
        let text = caption.lowercased()
        let end = text.range(of: " without ")?.lowerBound ?? text.endIndex
        let searched = NSRange(text.startIndex..<end, in: text)
        var out: [(Range<String.Index>, [String])] = []
        for phrase in phrases {
            // The patterns are literals of this file; one that does not compile is a programming error.
            let regex = try! NSRegularExpression(pattern: "\\b(\(phrase.pattern))\\b")
            for m in regex.matches(in: text, range: searched) {
                guard let r = Range(m.range, in: text) else { continue }
                out.append((r, phrase.structures))
            }
        }
        return out.sorted { $0.0.lowerBound < $1.0.lowerBound }
    }

    /// The token masks of a caption: every token of every phrase found, with the union of the phrase's structures
    /// that `masks` holds. Token positions count the start token (position 0) and stop before `maxLength - 1`, as
    /// the padded ids the text encoder sees. Lower-casing keeps character offsets here (the captions are ASCII).
    public func tokenMasks(caption: String, tokenizer: CLIPTokenizer, masks: [String: [Float]], maxLength: Int) -> [TokenMask] {
        let text = caption.lowercased()
        var out: [TokenMask] = []
        for (range, structures) in matches(in: caption) {
            let present = structures.compactMap { masks[$0] }
            guard var union = present.first else { continue }
            for m in present.dropFirst() { for i in union.indices { union[i] = Swift.max(union[i], m[i]) } }
            // CLIP splits words before its BPE, so the tokens of a prefix ending at a word boundary are the
            // caption's first tokens: the phrase's tokens lie between the counts of the two prefixes.
            let before = tokenizer.tokenize(String(text[..<range.lowerBound])).count
            let through = tokenizer.tokenize(String(text[..<range.upperBound])).count
            for position in (before + 1)..<(through + 1) where position < maxLength - 1 {
                out.append(TokenMask(token: position, mask: union))
            }
        }
        return out
    }
}

/// A folder of structure masks, one sub-folder per image named by the image's file name without its extension,
/// one PNG per structure (`DIR/ID/heart.png`, non-zero inside), as `prism phantom generate --masks` writes them.
public struct GroundingMasks: Sendable {
    public let folder: URL
    /// The side of the latent grid the masks are reduced to.
    public let side: Int

    public init(folder: URL, side: Int) {
        self.folder = folder
        self.side = side
    }

    /// The masks of the image at `imagePath`, each reduced to `side`² cells: a cell is inside when any pixel it
    /// covers is (thin tubes and leads keep their cells).
    public func masks(forImage imagePath: String) throws -> [String: [Float]] {
        let id = URL(fileURLWithPath: imagePath).deletingPathExtension().lastPathComponent
        let sub = folder.appendingPathComponent(id)
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: sub.path).filter { $0.hasSuffix(".png") }
        } catch {
            throw TrainingRunError("\(sub.path): no structure masks for \(imagePath) (expected DIR/ID/STRUCTURE.png, "
                                   + "as `prism phantom generate --masks` writes them)")
        }
        var out: [String: [Float]] = [:]
        for name in names {
            let url = sub.appendingPathComponent(name)
            let image: Image
            do { image = try Image(contentsOfPNG: url) } catch { throw TrainingRunError("\(url.path): \(error)") }
            out[String(name.dropLast(4))] = try Self.cells(image, side: side, name: url.path)
        }
        return out
    }

    /// A mask image reduced to `side`² cells by the largest value of each block; `name` is what errors call it.
    public static func cells(_ image: Image, side: Int, name: String) throws -> [Float] {
        guard image.width == image.height, image.width % side == 0 else {
            throw TrainingRunError("\(name): a \(image.width)×\(image.height) mask does not divide into \(side)×\(side) latent cells")
        }
        let block = image.width / side, plane = image.plane(0)
        var out = [Float](repeating: 0, count: side * side)
        for y in 0..<image.height {
            for x in 0..<image.width where plane[y * image.width + x] > 0 {
                out[(y / block) * side + x / block] = 1
            }
        }
        return out
    }
}

/// Keeps the head-averaged cross-attention probabilities of every layer with at least `minQueries` queries (the
/// coarsest levels say little about where), and computes every attention as the default processor would.
public final class CrossAttentionRecorder: AttentionProcessor {
    public let minQueries: Int
    public private(set) var maps: [AttentionMap] = []

    public init(minQueries: Int = 64) { self.minQueries = minQueries }

    public func attend(query: Tensor, key: Tensor, value: Tensor, call: AttentionCall) -> Tensor {
        guard call.isCrossAttention, call.queryHeight * call.queryWidth >= minQueries else {
            return F.scaledDotProductAttention(query: query, key: key, value: value)
        }
        let p = AttentionProcessors.probabilities(query: query, key: key, scale: call.scale, upcast: call.upcast)
        maps.append((p.mean(dim: 1), call.queryHeight, call.queryWidth))
        return AttentionProcessors.apply(p, to: value)
    }
}

public enum AttentionGrounding {
    /// TokenCompose's token loss: for every grounded token, (1 − the share of its attention that falls inside its
    /// mask)², averaged over the grounded tokens and the recorded layers. `masks` [B, L, H, W] (H × W the latent
    /// grid, each layer's grid dividing it), `weights` [B, L] (1 for a grounded token, else 0).
    public static func tokenLoss(maps: [AttentionMap], masks: Tensor, weights: Tensor) -> Tensor {
        weightedMean(maps, weights) { layer in (1 - layer.share(masks)).square() }
    }

    /// How far a grounded token's attention is from covering its mask evenly: KL(uniform over the mask ‖ the token's
    /// attention over the image), averaged as `tokenLoss`. The token loss alone is satisfied by attention on a few
    /// cells that many masks share (the middle of the chest lies inside the heart, a bilateral effusion and the lines),
    /// which makes prompt-to-prompt's mask a small blob; this term asks for the whole structure, as TokenCompose's
    /// pixel loss does, and is 0 only when the attention is uniform over the mask and 0 outside it.
    public static func coverageLoss(maps: [AttentionMap], masks: Tensor, weights: Tensor) -> Tensor {
        weightedMean(maps, weights) { layer in layer.coverageDivergence(masks) }
    }

    /// The grounding loss training adds: the token loss and the coverage term.
    public static func loss(maps: [AttentionMap], masks: Tensor, weights: Tensor) -> Tensor {
        tokenLoss(maps: maps, masks: masks, weights: weights) + coverageLoss(maps: maps, masks: masks, weights: weights)
    }

    /// The share of a grounded token's attention inside its mask, averaged as `tokenLoss` averages (1: all of it
    /// inside; attention spread evenly over the image gets the mask's area).
    public static func insideShare(maps: [AttentionMap], masks: Tensor, weights: Tensor) -> Double {
        weightedMean(maps, weights) { layer in layer.share(masks) }.item()
    }

    /// The overlap (intersection over union) of a grounded token's mask with the cells where its attention reaches
    /// `threshold` of its largest value, averaged as `tokenLoss`: how well an edit mask made from the word alone
    /// (prompt-to-prompt's, at its default threshold 0.3) would outline the structure. Attention on a few cells
    /// inside a large structure has a high inside share and a low overlap.
    public static func maskOverlap(maps: [AttentionMap], masks: Tensor, weights: Tensor,
                                   threshold: Double = 0.3) -> Double {
        weightedMean(maps, weights) { layer in layer.overlap(masks, threshold: threshold) }.item()
    }

    /// One layer's attention [B, Nq, L] on its query grid, and the masks [B, L, H, W] brought to that grid.
    struct Layer {
        let attention: Tensor, height: Int, width: Int

        /// [B, Nq, L]: a cell is inside when any finer cell of the masks' grid is.
        func cells(_ masks: Tensor) -> Tensor {
            let (b, l, side) = (masks.size(0), masks.size(1), masks.size(2))
            let coarse = side == height ? masks : F.maxPool2d(masks, kernelSize: side / height)
            return coarse.reshape([b, l, height * width]).transpose(1, 2)
        }

        /// [B, L]: the share of each token's attention inside its mask.
        func share(_ masks: Tensor) -> Tensor {
            (attention * cells(masks)).sum(dim: 1) / (attention.sum(dim: 1) + 1e-8)
        }

        /// [B, L]: the intersection over union of the mask and the cells where the token's attention reaches
        /// `threshold` of its largest value (what prompt-to-prompt's mask keeps of it).
        func overlap(_ masks: Tensor, threshold: Double) -> Tensor {
            let m = cells(masks)
            let kept = (attention / (attention.max(dims: [1], keepDim: true) + 1e-8)).ge(threshold).to(.float32)
            let both = (kept * m).sum(dim: 1)
            return both / ((kept + m).sum(dim: 1) - both + 1e-8)
        }

        /// [B, L]: KL(uniform over the mask ‖ the token's attention normalised over the image); 0 for an empty mask.
        func coverageDivergence(_ masks: Tensor) -> Tensor {
            let m = cells(masks)
            let uniform = m / (m.sum(dim: 1, keepDim: true) + 1e-8)
            let p = attention / (attention.sum(dim: 1, keepDim: true) + 1e-8)
            return (uniform * ((uniform + 1e-8).log() - (p + 1e-8).log())).sum(dim: 1)
        }
    }

    /// `term` [B, L] averaged over the layers, then over the tokens `weights` [B, L] marks.
    static func weightedMean(_ maps: [AttentionMap], _ weights: Tensor, _ term: (Layer) -> Tensor) -> Tensor {
        precondition(!maps.isEmpty, "no attention recorded")
        let layers = maps.map { term(Layer(attention: $0.probabilities.to(.float32), height: $0.height, width: $0.width)) }
        let perToken = layers.dropFirst().reduce(layers[0], +) / Double(layers.count)
        return (perToken * weights).sum() / weights.sum().clamp(min: 1)
    }

    /// The masks and weights of a batch as dense tensors: [B, L, side, side] and [B, L], zero for tokens without a
    /// mask and for every token of a sample whose caption was dropped (`grounded[k]` false).
    public static func denseMasks(_ tokenMasks: [[TokenMask]], grounded: [Bool], length: Int, side: Int) -> (masks: Tensor, weights: Tensor) {
        let b = tokenMasks.count, cells = side * side
        var masks = [Float](repeating: 0, count: b * length * cells), weights = [Float](repeating: 0, count: b * length)
        for (k, sample) in tokenMasks.enumerated() where grounded[k] {
            for t in sample where t.token < length {
                weights[k * length + t.token] = 1
                let base = (k * length + t.token) * cells
                for i in 0..<cells { masks[base + i] = t.mask[i] }
            }
        }
        return (Tensor(masks, shape: [b, length, side, side]), Tensor(weights, shape: [b, length]))
    }
}
