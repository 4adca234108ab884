import Diffusion
import Foundation
import Imaging
import Torch

/// What the editing engine needs from a text-to-image diffusion model. The Stable Diffusion pipeline
/// provides it; tests provide small stand-ins.
public protocol EditingModel: AnyObject {
    var tokenizer: PromptTokenizing { get }
    /// The pixel size the model works at (square).
    var resolution: Int { get }
    /// A string that changes whenever the weights do (for the inversion cache).
    var identity: String { get }
    /// Text embeddings [N, L, d] of prompts (L: the tokenizer's `modelMaxLength`) (padded as the model was trained).
    func textEmbeddings(_ prompts: [String]) -> Tensor
    /// ε̂ (or v̂) for a batch of latents at one timestep, under contexts [B, L, d].
    func predict(_ latents: Tensor, timestep: Int, context: Tensor) -> Tensor
    /// Puts attention control into every attention layer (nil restores plain attention).
    func install(_ control: PromptToPromptControl?)
    /// The scaled latent of images [N, 3, H, W] in [-1, 1] (the posterior mean).
    func encode(_ images: Tensor) -> Tensor
    /// Images [N, 3, H, W] in [-1, 1] from scaled latents.
    func decode(_ latents: Tensor) -> Tensor
    /// The deterministic DDIM steps at this step count.
    func stepper(steps: Int) throws -> DDIMStepper
    /// The cross-attention query resolutions, largest first, at this latent size (for choosing the mask layers).
    func crossAttentionResolutions(latentSize: Int) -> [Int]
}

public enum MaskMode: Equatable, Sendable {
    /// From the cross-attention of the words that differ, unioned with an optional user mask.
    case auto
    /// No mask: the edit is free to change anything (how hidden relationships show up).
    case none

    /// "auto" or "none", as the command line and the reports spell it.
    public var name: String { self == .none ? "none" : "auto" }
}

public enum ControllerKind: String, Sendable, CaseIterable {
    case auto, replace, refine
}

public struct EditSettings: Sendable {
    /// Null-text by default: PRISM's and prompt-to-prompt's method, and the one whose edits meet the quality targets
    /// with the bundled model (docs/editing.md: direct inversion's edit rows drift from the pivot with a weak prior).
    /// Direct inversion is 3–6× faster and needs no optimisation.
    public var method = InversionMethod.nullText
    public var steps = 50
    public var guidance = 7.5
    /// Fraction of steps whose cross-attention comes from the source.
    public var crossReplace = 0.8
    /// Fraction of steps whose self-attention comes from the source (layers of ≤ 32×32 queries).
    public var selfReplace = 0.5
    public var controller = ControllerKind.auto
    /// Words of the target prompts whose attention is scaled.
    public var reweight: [(word: String, scale: Double)] = []
    /// The scale of the cross-attention on the content words each target adds or swaps in (prompt-to-prompt's
    /// reweighting, applied to the edit's own words): 1 leaves it as the reference does. A small model whose
    /// null-text inversion holds the source tightly may not draw an added finding at all in some patients; a
    /// larger weight on its words draws it (docs/default-model.md, "Emphasis").
    public var emphasis = 1.0
    public var mask = MaskMode.auto
    public var maskThreshold = 0.3
    /// Fraction of steps after which latents are blended with the mask.
    public var blendStart = 0.2
    /// Pixels over which the pixel-space blend fades out around the mask.
    public var feather = 6
    /// With `--mask auto`, the mask keeps only pixels where the edit moved the image (against the source's own
    /// reconstruction, box-blurred over 3×3) by more than this fraction of its largest move; 0 keeps the attention
    /// mask as it is. A model whose cross-attention is spread thin gives a mask that covers most of the image, and
    /// prompt-to-prompt lets the whole image drift a little; this keeps the edit's footprint and leaves everything
    /// else the input's (DiffEdit's normalised-difference mask, inside the attention mask).
    public var changeThreshold = 0.25
    /// With `--mask auto`, leave out of the mask the places where the words the edit keeps (those after the
    /// caption's "with": the findings and devices it still names) attend more than the words it changes. A model
    /// that learned that a pacemaker comes with cardiomegaly attends to the pacemaker from "cardiomegaly" too, and
    /// "remove cardiomegaly" would take the pacemaker the target caption still names.
    public var protectKept = false
    public var nullTextInnerSteps = 10
    public var nullTextEpsilon = 1e-5

    public init() {}

    /// These settings with the guidance and emphasis the model's `prism.json` recommends, where `guidance` and
    /// `emphasis` (the command line's) are nil.
    public func adopting(_ recommended: ModelDefaults, guidance: Double? = nil, emphasis: Double? = nil) -> EditSettings {
        var s = self
        s.guidance = recommended.guidance(given: guidance, fallback: self.guidance)
        s.emphasis = recommended.emphasis(given: emphasis, fallback: self.emphasis)
        return s
    }

    /// The settings that change an inversion (the cache key).
    public var inversionKey: [String: String] {
        ["method": method.rawValue, "steps": "\(steps)", "guidance": "\(guidance)",
         "inner_steps": "\(nullTextInnerSteps)", "epsilon": "\(nullTextEpsilon)"]
    }
}

/// One counterfactual, at the model's resolution, values in [0, 1] (gray).
public struct EditedImage: Sendable {
    public let target: String
    /// The edit after the pixel-space blend (the counterfactual).
    public let image: Plane
    /// The edit straight from the model, before the pixel blend.
    public let raw: Plane
    /// The mask the edit was confined to (soft, after feathering); nil with `--mask none`.
    public let mask: Plane?
    /// The mask before thresholding (normalised attention), for display.
    public let attention: Plane?
    public let seconds: Double
}

public struct EditOutcome: Sendable {
    public let source: String
    public let input: Plane
    public let reconstruction: Plane
    public let edits: [EditedImage]
    public let inversionSeconds: Double
    public let inversionFromCache: Bool
    public let nullTextLosses: [Double]
}

/// The counterfactual editing engine: invert once, edit to every target prompt in one batch under
/// prompt-to-prompt control, confine each edit with the counterfactual mask, put it back into the input.
public final class CounterfactualEditor {
    public let model: EditingModel
    public let cache: InversionCache?

    public init(model: EditingModel, cache: InversionCache?) {
        self.model = model
        self.cache = cache
    }

    /// Progress: (phase, done, total), phase "invert" or "edit".
    public typealias Progress = (String, Int, Int) -> Void

    /// Edits a gray image (values in [0, 1], any size: the model sees it resized to its resolution) from
    /// `source` to each target. Results come back at the input's size; outside each edit's mask the output is
    /// the input exactly. `userMask` (input size, > 0.5 inside) is unioned with the attention mask.
    public func edit(image: Plane, source: String, targets: [String], settings: EditSettings, userMask: Plane? = nil,
                     progress: Progress = { _, _, _ in }) throws -> EditOutcome {
        guard !targets.isEmpty else { throw PromptAlignmentError(description: "no target prompt to edit towards") }
        let size = model.resolution
        let stepper = try model.stepper(steps: settings.steps)
        let pixels = Self.tensor(image.resized(width: size, height: size))
        let (inversion, fromCache, inversionSeconds) = try invert(pixels, source: source, stepper: stepper, settings: settings,
                                                                  progress: progress)
        let started = Date()
        let (latents, attention) = try denoise(inversion, source: source, targets: targets, stepper: stepper,
                                               settings: settings, userMask: userMask, progress: progress)
        let decoded = withNoGrad { model.decode(latents) }
        let up = { (p: Plane) in p.resized(width: image.width, height: image.height) }
        let planes = (0..<decoded.size(0)).map { up(Self.plane(decoded[$0])) }
        let seconds = Date().timeIntervalSince(started) / Double(targets.count)
        let edits = targets.enumerated().map { e, target -> EditedImage in
            let raw = planes[e + 1]
            guard settings.mask == .auto else {
                return EditedImage(target: target, image: raw, raw: raw, mask: nil, attention: nil, seconds: seconds)
            }
            var region = up(attention.mask[e]).thresholded(0.5)
            if settings.changeThreshold > 0 {
                region = Plane.intersection(region, Self.footprint(raw, planes[0], threshold: Float(settings.changeThreshold)))
            }
            if let userMask { region = Plane.union(region, userMask.thresholded(0.5)) }
            let soft = PixelBlend.feathered(region, feather: settings.feather)
            return EditedImage(target: target, image: PixelBlend.blend(input: image, edit: raw, weight: soft), raw: raw,
                               mask: soft, attention: up(attention.soft[e]), seconds: seconds)
        }
        return EditOutcome(source: source, input: image, reconstruction: planes[0], edits: edits,
                           inversionSeconds: inversionSeconds, inversionFromCache: fromCache,
                           nullTextLosses: inversion.losses)
    }

    /// Where `edit` differs from `reference` by more than `threshold` times the largest difference, after a 3×3 box
    /// blur (so that single noisy pixels do not count), grown by 2 pixels: 1 there, 0 elsewhere.
    static func footprint(_ edit: Plane, _ reference: Plane, threshold: Float) -> Plane {
        let difference = Plane(width: edit.width, height: edit.height, values: zip(edit.values, reference.values).map { abs($0 - $1) })
            .boxBlurred(radius: 1)
        let largest = difference.values.max() ?? 0
        guard largest > 0 else { return Plane(width: edit.width, height: edit.height) }
        return difference.thresholded(threshold * largest).dilated(radius: 2)
    }

    // MARK: Inversion

    func invert(_ pixels: Tensor, source: String, stepper: DDIMStepper, settings: EditSettings, progress: Progress)
        throws -> (InversionResult, Bool, Double)
    {
        var keySettings = settings.inversionKey
        keySettings["source"] = source
        let key = InversionCache.key(image: pixels, modelIdentity: model.identity, settings: keySettings)
        if let cached = cache?.load(key, method: settings.method) { return (cached, true, 0) }
        let started = Date()
        let z0 = withNoGrad { model.encode(pixels) }
        let context = withNoGrad { model.textEmbeddings([source, ""]) }
        let cond = context.slice(dim: 0, start: 0, end: 1), uncond = context.slice(dim: 0, start: 1, end: 2)
        let n = settings.steps
        let trajectory = Inverter.ddimTrajectory(z0: z0, condition: cond, stepper: stepper,
                                                 predict: model.predict, progress: { progress("invert", $0, n) })
        var result = InversionResult(method: settings.method, trajectory: trajectory)
        if settings.method == .nullText {
            let (embeddings, losses) = Inverter.nullText(
                trajectory: trajectory, condition: cond, unconditional: uncond, stepper: stepper, guidance: settings.guidance,
                innerSteps: settings.nullTextInnerSteps, epsilon: settings.nullTextEpsilon, predict: model.predict,
                progress: { i, _ in progress("null-text", i, n) })
            result = InversionResult(method: .nullText, trajectory: trajectory, nullEmbeddings: embeddings, losses: losses)
        }
        try cache?.save(result, key: key, metadata: keySettings.merging(["model": model.identity]) { a, _ in a })
        return (result, false, Date().timeIntervalSince(started))
    }

    // MARK: Editing

    struct AttentionMasks {
        var mask: [Plane] = []
        var soft: [Plane] = []
    }

    /// The sampling loop: returns the final latents [source, edit₁, …] and the masks used.
    func denoise(_ inversion: InversionResult, source: String, targets: [String], stepper: DDIMStepper,
                 settings: EditSettings, userMask: Plane?, progress: Progress) throws -> (Tensor, AttentionMasks) {
        let e = targets.count, n = settings.steps
        let prompts = [source] + targets
        let tokenizer = model.tokenizer
        let control = try makeControl(prompts: prompts, settings: settings, rows: groupRows(edits: e, method: settings.method),
                                      latentSize: inversion.zT.size(-1))
        model.install(control)
        defer { model.install(nil) }

        let embeddings = withNoGrad { model.textEmbeddings(prompts + [""]) }
        let conds = embeddings.slice(dim: 0, start: 0, end: 1 + e)
        let plainUncond = embeddings.slice(dim: 0, start: 1 + e, end: 2 + e)
        let latentSize = inversion.zT.size(-1)
        let latentUserMask = userMask.map { Self.tensor(plane: $0.resized(width: latentSize, height: latentSize).thresholded(0.5)) }
        let blendTokens = Self.differingTokens(prompts: prompts, reweighted: settings.reweight.map(\.word), tokenizer)
        let keptTokens = settings.protectKept ? Self.keptTokens(prompts: prompts, tokenizer) : nil
        let blendFrom = Int(settings.blendStart * Double(n))

        var zSource = inversion.zT
        var zEdits = inversion.zT.expand([e] + Array(inversion.zT.shape.dropFirst())).contiguous()
        var masks = AttentionMasks()
        try withNoGrad {
            for i in 0..<n {
                let t = stepper.timesteps[i]
                control.step = i
                switch settings.method {
                case .direct:
                    // Rows: [source | edits, unconditional | edits, conditional]. The source follows the pivot.
                    let latents = Tensor.cat([zSource, zEdits, zEdits])
                    let uncond = plainUncond.expand([e] + Array(plainUncond.shape.dropFirst()))
                    let context = Tensor.cat([conds.slice(dim: 0, start: 0, end: 1), uncond, conds.slice(dim: 0, start: 1)])
                    let out = model.predict(latents, timestep: t, context: context)
                    let u = out.slice(dim: 0, start: 1, end: 1 + e), c = out.slice(dim: 0, start: 1 + e)
                    zEdits = stepper.previous(u + (c - u) * settings.guidance, timestep: t, sample: zEdits)
                    zSource = inversion.trajectory[n - i - 1]
                case .nullText, .ddim:
                    // Rows: [unconditional: source, edits | conditional: source, edits].
                    let null = settings.method == .nullText ? inversion.nullEmbeddings![i] : plainUncond
                    let all = Tensor.cat([zSource, zEdits])
                    let context = Tensor.cat([null.expand([1 + e] + Array(null.shape.dropFirst())), conds])
                    let out = model.predict(Tensor.cat([all, all]), timestep: t, context: context)
                    let u = out.slice(dim: 0, start: 0, end: 1 + e), c = out.slice(dim: 0, start: 1 + e)
                    let next = stepper.previous(u + (c - u) * settings.guidance, timestep: t, sample: all)
                    zSource = next.slice(dim: 0, start: 0, end: 1)
                    zEdits = next.slice(dim: 0, start: 1)
                }
                if settings.mask == .auto, i + 1 > blendFrom, let maps = control.storedMaps {
                    let (m, soft) = AttentionMask.make(maps: maps, tokens: blendTokens, size: (latentSize, latentSize),
                                                       threshold: settings.maskThreshold, protect: keptTokens)
                    let mask = latentUserMask.map { (m + $0).clamp(max: 1) } ?? m
                    zEdits = AttentionMask.blend(source: zSource, edits: zEdits, mask: mask)
                    if i == n - 1 {
                        masks.mask = (0..<e).map { Self.plane01(mask[$0][0]) }
                        masks.soft = (0..<e).map { Self.plane01(soft[$0][0]) }
                    }
                }
                progress("edit", i + 1, n)
            }
        }
        if settings.mask == .auto && masks.mask.isEmpty {
            // Too few steps to blend: the edit is confined by the user mask alone, or is empty.
            let empty = Plane(width: latentSize, height: latentSize)
            masks.mask = Array(repeating: userMask.map { $0.resized(width: latentSize, height: latentSize) } ?? empty, count: e)
            masks.soft = Array(repeating: empty, count: e)
        }
        return (Tensor.cat([zSource, zEdits]), masks)
    }

    /// Rows of the UNet batch that form prompt-to-prompt's group (the conditional source and edits).
    func groupRows(edits e: Int, method: InversionMethod) -> [Int] {
        method == .direct ? [0] + Array((1 + e)..<(1 + 2 * e)) : Array((1 + e)..<(2 + 2 * e))
    }

    func makeControl(prompts: [String], settings: EditSettings, rows: [Int], latentSize: Int) throws -> PromptToPromptControl {
        let tokenizer = model.tokenizer
        let source = prompts[0], targets = Array(prompts.dropFirst())
        let sameLength = targets.allSatisfy { $0.split(separator: " ").count == source.split(separator: " ").count }
        let kind = settings.controller == .auto ? (sameLength ? .replace : .refine) : settings.controller
        let length = tokenizer.modelMaxLength
        var edit: CrossAttentionEdit
        if kind == .replace {
            let maps = try targets.map { try PromptAlignment.replacementMapper(source: source, target: $0, tokenizer) }
            edit = .replace(mapper: Tensor(maps.flatMap { $0.flatMap { $0 } }, shape: [targets.count, length, length]))
        } else {
            let r = targets.map { PromptAlignment.refinementMapper(source: source, target: $0, tokenizer) }
            edit = .refine(mapper: Tensor(ints: r.flatMap(\.mapper), shape: [targets.count, length]),
                           alphas: Tensor(r.flatMap(\.alphas), shape: [targets.count, 1, 1, length]))
        }
        let equalizers = Self.equalizers(prompts: prompts, emphasis: settings.emphasis, reweight: settings.reweight, tokenizer)
        if equalizers.contains(where: { $0.contains { $0 != 1 } }) {
            edit = .reweight(equalizer: Tensor(equalizers.flatMap { $0 }, shape: [targets.count, length]), after: edit)
        }
        let schedule = PromptAlignment.crossAttentionSchedule(prompts: prompts, steps: settings.steps,
                                                              default: (0, settings.crossReplace), tokenizer)
        let crossSchedule = Tensor(schedule.flatMap { $0.flatMap { $0 } }, shape: [settings.steps + 1, targets.count, 1, 1, length])
        let resolutions = model.crossAttentionResolutions(latentSize: latentSize)
        // The reference blends with the 16×16 maps (at 64×64 latents): 16×16 where a model has it, else the
        // largest coarser layer, else the finest there is.
        let store = resolutions.contains(16) ? 16 : resolutions.filter { $0 < 16 }.max() ?? resolutions.min()
        return PromptToPromptControl(edit: edit, crossSchedule: crossSchedule,
                                     selfReplaceSteps: 0..<Int(Double(settings.steps) * settings.selfReplace),
                                     groupRows: rows, storeResolution: store.map { ($0, $0) })
    }

    /// Per target, the scale of each token's cross-attention: `emphasis` on the content words the target adds or
    /// swaps in (the target side of `differingTokens`, function words left out), times the scale `reweight` gives a
    /// word; 1 elsewhere.
    static func equalizers(prompts: [String], emphasis: Double, reweight: [(word: String, scale: Double)],
                           _ tokenizer: PromptTokenizing) -> [[Float]] {
        let function = functionTokenIDs(tokenizer)
        let added = emphasis == 1 ? nil : differingTokens(prompts: prompts, tokenizer)
        return prompts.dropFirst().enumerated().map { k, target in
            var eq = PromptAlignment.equalizer(text: target, words: reweight.map { ($0.word, $0.scale) }, tokenizer)
            if let added {
                let ids = tokenizer.tokenIDs(target)
                for p in added[k].target where p < eq.count && !function.contains(ids[p]) { eq[p] *= Float(emphasis) }
            }
            return eq
        }
    }

    /// Words that join findings in a caption ("with cardiomegaly and support devices"): their cross-attention
    /// spreads over the whole image, so a mask made from them confines nothing.
    static let functionWords = ["a", "an", "and", "the", "with", "without", "of", "or", "no", ","]

    /// The token id of each function word (its first token after the start token).
    static func functionTokenIDs(_ tokenizer: PromptTokenizing) -> Set<Int> {
        Set(functionWords.compactMap { tokenizer.tokenIDs($0).dropFirst().first })
    }

    /// Per edit, the token positions of the source and of the target that are not matched by the same token in
    /// the other prompt: the words the edit removes or swaps (source side) and adds or swaps in (target side).
    /// Function words are left out of a side that has other words. Words whose attention is reweighted are edited
    /// too, on both sides, even where the prompts agree (`--target` equal to `--source` with `--reweight
    /// cardiomegaly=0.5` turns the finding down rather than removing it).
    static func differingTokens(prompts: [String], reweighted: [String] = [],
                                _ tokenizer: PromptTokenizing) -> [(source: [Int], target: [Int])] {
        let sourceIDs = tokenizer.tokenIDs(prompts[0])
        let function = functionTokenIDs(tokenizer)
        func content(_ positions: [Int], _ ids: [Int]) -> [Int] {
            let kept = positions.filter { !function.contains(ids[$0]) }
            return kept.isEmpty ? positions : kept
        }
        return prompts.dropFirst().map { target in
            let targetIDs = tokenizer.tokenIDs(target)
            var matchedSource = Set<Int>()
            var targetSide: [Int] = []
            for p in PromptAlignment.globalAlignment(sourceIDs, targetIDs) {
                if p.source >= 0 && sourceIDs[p.source] == targetIDs[p.target] { matchedSource.insert(p.source) }
                else if p.target > 0 && p.target < targetIDs.count - 1 { targetSide.append(p.target) }
            }
            let sourceSide = (1..<(sourceIDs.count - 1)).filter { !matchedSource.contains($0) }
            let scaledSource = reweighted.flatMap { PromptAlignment.tokenIndices(of: $0, in: prompts[0], tokenizer) }
            let scaledTarget = reweighted.flatMap { PromptAlignment.tokenIndices(of: $0, in: target, tokenizer) }
            return (Array(Set(content(sourceSide, sourceIDs) + scaledSource)).sorted(),
                    Array(Set(content(targetSide, targetIDs) + scaledTarget)).sorted())
        }
    }

    /// Per edit, the token positions, in the source and in the target, of the content words both prompts share
    /// after their first "with": what the caption still names besides the edit ("support devices (a pacemaker)"
    /// when cardiomegaly is removed). A prompt without "with" names nothing to keep this way.
    static func keptTokens(prompts: [String], _ tokenizer: PromptTokenizing) -> [(source: [Int], target: [Int])] {
        let sourceIDs = tokenizer.tokenIDs(prompts[0])
        let function = functionTokenIDs(tokenizer)
        let with = tokenizer.tokenIDs("with").dropFirst().first
        func start(_ ids: [Int]) -> Int? { ids.firstIndex { $0 == with }.map { $0 + 1 } }
        return prompts.dropFirst().map { target in
            let targetIDs = tokenizer.tokenIDs(target)
            guard let s0 = start(sourceIDs), let t0 = start(targetIDs) else { return ([], []) }
            var source: [Int] = [], kept: [Int] = []
            for p in PromptAlignment.globalAlignment(sourceIDs, targetIDs)
            where p.source >= s0 && p.target >= t0 && p.source < sourceIDs.count - 1 && p.target < targetIDs.count - 1
                && sourceIDs[p.source] == targetIDs[p.target] && !function.contains(sourceIDs[p.source]) {
                source.append(p.source)
                kept.append(p.target)
            }
            return (source, kept)
        }
    }

    // MARK: Conversions

    /// A gray plane in [0, 1] as a [1, 3, H, W] tensor in [-1, 1].
    static func tensor(_ image: Plane) -> Tensor {
        VaeImageProcessor.preprocess(grayPlanes: [image.values], width: image.width, height: image.height)
    }

    static func tensor(plane: Plane) -> Tensor { Tensor(plane.values, shape: [1, 1, plane.height, plane.width]) }

    /// [3, H, W] in [-1, 1] → gray plane in [0, 1].
    static func plane(_ image: Tensor) -> Plane {
        Plane(width: image.size(-1), height: image.size(-2), values: VaeImageProcessor.grayValues(image))
    }

    /// [H, W] in [0, 1] → plane.
    static func plane01(_ t: Tensor) -> Plane {
        Plane(width: t.size(-1), height: t.size(-2), values: t.to(.float32).contiguous().floats())
    }
}
