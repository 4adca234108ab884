import ArgumentParser
import Counterfactual
import Diffusion
import Foundation
import Imaging

/// The options of an edit that `prism edit` and `prism evaluate edits` share: the inversion, the sampling, the
/// prompt-to-prompt schedule and the mask.
struct EditingOptions: ParsableArguments {
    @Option(help: """
        null-text (Mokady et al., as PRISM: the edits that meet the quality targets with the bundled model; \
        docs/editing.md), direct (Ju et al.: no optimisation, ~3 UNet evaluations a step, 3–6× faster, \
        weaker edits with a small model) or ddim.
        """)
    var inversion: InversionMethod = .nullText

    @OptionGroup var denoising: DenoisingStepsOption

    @Option(help: """
        Classifier-free guidance scale (default: the guidance the model's prism.json recommends, 2 for the bundled \
        model; else 7.5, Stable Diffusion's usual scale).
        """)
    var guidance: Double?

    @Option(help: "Fraction of steps whose cross-attention is taken from the source.")
    var crossReplace = 0.8

    @Option(help: "Fraction of steps whose self-attention is taken from the source.")
    var selfReplace = 0.5

    @Option(help: """
        Weight on the cross-attention of the words an edit adds or swaps in ("small right pleural effusion"), \
        prompt-to-prompt's reweighting on the edit's own words (default: the model's prism.json, 3 for the bundled \
        model; else 1, the reference's). Raise it when an added finding is not drawn; docs/editing.md.
        """)
    var emphasis: Double?

    @OptionGroup var masking: MaskOptions

    func validate() throws {
        try requireFinite(guidance, "--guidance", range: .atLeast(0))
        try requireFinite(emphasis, "--emphasis", range: .above(0))
        try requireFinite(crossReplace, "--cross-replace", range: .closed(0, 1))
        try requireFinite(selfReplace, "--self-replace", range: .closed(0, 1))
    }

    /// Settings with these options; the guidance and emphasis, when not given, from the model's `prism.json`
    /// (`recommended`), else the editor's defaults; the rest at their defaults.
    func settings(recommended: ModelDefaults = ModelDefaults()) -> EditSettings {
        var s = EditSettings().adopting(recommended, guidance: guidance, emphasis: emphasis)
        s.method = inversion
        s.steps = denoising.steps
        s.crossReplace = crossReplace
        s.selfReplace = selfReplace
        masking.apply(to: &s)
        return s
    }

    /// The settings for the model in `folder`, saying on `log` where the guidance came from: the model's
    /// recommendation when --guidance is left out, a hint when --guidance differs from it.
    func settings(for folder: URL, log: Log) throws -> EditSettings {
        let recommended = try ModelDefaults.load(from: folder)
        let s = settings(recommended: recommended)
        if let note = Self.guidanceNote(recommended, given: guidance, used: s.guidance) { log(note) }
        if let note = Self.emphasisNote(recommended, given: emphasis) { log(note) }
        return s
    }

    /// What to say about the emphasis: where it came from when the model chose one other than the reference's 1;
    /// nothing when --emphasis was given or the model recommends none.
    static func emphasisNote(_ recommended: ModelDefaults, given: Double?) -> String? {
        guard given == nil, let e = recommended.editing?.emphasis, e != 1 else { return nil }
        return "emphasis \(number(e)) on the words an edit adds: the one \(recommended.name ?? "this model") recommends (its prism.json)"
    }

    /// What to say about the guidance in use: where it came from when the model chose it, the model's
    /// recommendation when the user's differs, nothing when the model recommends none.
    static func guidanceNote(_ recommended: ModelDefaults, given: Double?, used: Double) -> String? {
        guard let better = recommended.editing?.guidance else { return nil }
        let name = recommended.name ?? "this model"
        let reference = recommended.editing?.guidanceReference
        if given == nil {
            return "guidance \(number(used)): the one \(name) recommends (its prism.json\(reference.map { ", \($0)" } ?? ""))"
        }
        guard better != used else { return nil }
        return "guidance \(number(used)): \(name) edits findings better with --guidance \(number(better))"
            + (reference.map { " (\($0))" } ?? "")
    }
}

/// What `--mask` says: a mode, or (`prism edit` only) a file of the user's own.
enum MaskChoice: Equatable {
    case auto
    case none
    /// A PNG whose bright pixels may change; the attention mask is used as well.
    case file(String)

    init(_ text: String) {
        switch text {
        case "auto": self = .auto
        case "none": self = .none
        default: self = .file(text)
        }
    }

    /// The editor's mode: a user's mask is joined with the automatic one.
    var mode: MaskMode { self == .none ? .none : .auto }
}

/// `--mask` and the thresholds that shape the mask.
struct MaskOptions: ParsableArguments {
    @Option(help: """
        auto (from the changed words' attention), none (the edit may change anything), or, for prism edit, a PNG \
        whose bright pixels may change.
        """)
    var mask = "auto"

    @Option(help: "Threshold of the normalised attention mask.")
    var maskThreshold = 0.3

    @Option(help: "Fraction of steps before the latents are blended with the mask.")
    var blendStart = 0.2

    @Option(help: "Pixels over which the edit fades out around its mask.")
    var feather = 6

    @Option(help: "With --mask auto, keep only pixels where the edit moved the image by more than this fraction of its largest move (0: the attention mask alone).")
    var changeThreshold = 0.25

    @Flag(inversion: .prefixedNo, help: "With --mask auto, leave out of the mask the places where the words the edit keeps (the findings and devices the target caption still names, after its \"with\") attend more than the words it changes: \"remove cardiomegaly\" then keeps the pacemaker the caption still names, even from a model that learned the two together.")
    var protectKept = false

    /// --mask as the one reading of it.
    var choice: MaskChoice { MaskChoice(mask) }

    func validate() throws {
        try requireFinite(maskThreshold, "--mask-threshold", range: .open(0, 1))
        try requireFinite(blendStart, "--blend-start", range: .closed(0, 1))
        try requireCount(feather, "--feather", atLeast: 0)
        try requireFinite(changeThreshold, "--change-threshold", range: .upToExcluding(0, 1))
    }

    /// Refuses a file where only a mode makes sense (the phantom evaluations have no user's mask).
    func requireMode() throws {
        try requireChoice(mask, "--mask", ["auto", "none"])
    }

    func apply(to settings: inout EditSettings) {
        settings.mask = choice.mode
        settings.maskThreshold = maskThreshold
        settings.blendStart = blendStart
        settings.feather = feather
        settings.changeThreshold = changeThreshold
        settings.protectKept = protectKept
    }
}

/// `prism edit --output-format`: how each counterfactual is written.
enum EditOutputFormat: String, ExpressibleByArgument, CaseIterable {
    case png, dicom

    /// The input parsed as a DICOM file (the derived files' source), nil when it is a PNG or a JPEG.
    static func sourceDICOM(_ path: String) throws -> DICOMFile? {
        guard InspectDICOM.applies(to: URL(fileURLWithPath: path)) else { return nil }
        do { return try DICOMFile(contentsOf: URL(fileURLWithPath: path)) } catch let error as ImagingError {
            throw CLIError("--image \(error)")
        }
    }

    /// Writes one counterfactual as SLUG.png or SLUG.dcm (atomically) and returns the file's name.
    func write(_ image: Image, slug: String, in folder: URL, source: DICOMFile?, derivation: String) throws -> String {
        switch self {
        case .png:
            try image.writePNG(to: folder.appendingPathComponent("\(slug).png"))
            return "\(slug).png"
        case .dicom:
            // Derivation Description is an ST: at most 1024 characters.
            try DICOMWriter.write(image, to: folder.appendingPathComponent("\(slug).dcm"), source: source,
                                  derivation: String(derivation.prefix(1024)), seriesDescription: "Prism counterfactual")
            return "\(slug).dcm"
        }
    }
}
