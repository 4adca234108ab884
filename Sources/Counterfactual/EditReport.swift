import Foundation

/// `result.json` of `prism edit`: what was asked (image, model, prompts, settings), what was written (per target, the
/// files and their measures) and how long it took. The keys are snake_case, as the project's other JSON files.
public struct EditReport: Codable, Sendable, Equatable {
    /// The input image, as given on the command line.
    public var image: String
    /// The model folder's path.
    public var model: String
    public var source: String
    public var targets: [Target]
    public var settings: Settings
    public var timings: Timings
    public var reconstruction: Reconstruction
    /// The null-text optimisation's loss at each step (empty for other inversions).
    public var nullTextLosses: [Double]

    public init(image: String, model: String, source: String, targets: [Target], settings: Settings, timings: Timings,
                reconstruction: Reconstruction, nullTextLosses: [Double]) {
        self.image = image
        self.model = model
        self.source = source
        self.targets = targets
        self.settings = settings
        self.timings = timings
        self.reconstruction = reconstruction
        self.nullTextLosses = nullTextLosses
    }

    enum CodingKeys: String, CodingKey {
        case image, model, source, targets, settings, timings, reconstruction
        case nullTextLosses = "null_text_losses"
    }

    /// One counterfactual: its files (names inside the output folder) and measures.
    public struct Target: Codable, Sendable, Equatable {
        public var slug: String
        public var target: String
        public var image: String
        public var difference: String
        public var seconds: Double
        /// Mean absolute change against the input, in [0, 1].
        public var meanAbsoluteChange: Double
        /// The mask's picture; nil with `--mask none`.
        public var mask: String?
        /// The share of the image the mask covers; nil with `--mask none`.
        public var maskArea: Double?

        public init(slug: String, target: String, image: String, difference: String, seconds: Double,
                    meanAbsoluteChange: Double, mask: String? = nil, maskArea: Double? = nil) {
            self.slug = slug
            self.target = target
            self.image = image
            self.difference = difference
            self.seconds = seconds
            self.meanAbsoluteChange = meanAbsoluteChange
            self.mask = mask
            self.maskArea = maskArea
        }

        enum CodingKeys: String, CodingKey {
            case slug, target, image, difference, seconds, mask
            case meanAbsoluteChange = "mean_absolute_change"
            case maskArea = "mask_area"
        }
    }

    /// The settings the edit ran with, `mask` and `dtype` spelled as given.
    public struct Settings: Codable, Sendable, Equatable {
        public var inversion: String
        public var steps: Int
        public var guidance: Double
        public var crossReplace: Double
        public var selfReplace: Double
        /// The scale of the attention on the words each target adds.
        public var emphasis: Double
        public var controller: String
        /// auto, none or the user's mask file.
        public var mask: String
        public var maskThreshold: Double
        public var blendStart: Double
        public var feather: Int
        public var changeThreshold: Double
        public var dtype: String

        /// `settings` as the report states them; `mask` and `dtype` as the command line gave them.
        public init(_ settings: EditSettings, mask: String, dtype: String) {
            inversion = settings.method.rawValue
            steps = settings.steps
            guidance = settings.guidance
            crossReplace = settings.crossReplace
            selfReplace = settings.selfReplace
            emphasis = settings.emphasis
            controller = settings.controller.rawValue
            self.mask = mask
            maskThreshold = settings.maskThreshold
            blendStart = settings.blendStart
            feather = settings.feather
            changeThreshold = settings.changeThreshold
            self.dtype = dtype
        }

        enum CodingKeys: String, CodingKey {
            case inversion, steps, guidance, emphasis, controller, mask, feather, dtype
            case crossReplace = "cross_replace"
            case selfReplace = "self_replace"
            case maskThreshold = "mask_threshold"
            case blendStart = "blend_start"
            case changeThreshold = "change_threshold"
        }
    }

    public struct Timings: Codable, Sendable, Equatable {
        public var inversionSeconds: Double
        public var inversionFromCache: Bool
        /// The first target's seconds (the targets run in one batch).
        public var editSecondsPerTarget: Double

        public init(inversionSeconds: Double, inversionFromCache: Bool, editSecondsPerTarget: Double) {
            self.inversionSeconds = inversionSeconds
            self.inversionFromCache = inversionFromCache
            self.editSecondsPerTarget = editSecondsPerTarget
        }

        enum CodingKeys: String, CodingKey {
            case inversionSeconds = "inversion_seconds"
            case inversionFromCache = "inversion_from_cache"
            case editSecondsPerTarget = "edit_seconds_per_target"
        }
    }

    public struct Reconstruction: Codable, Sendable, Equatable {
        public var image: String
        /// The reconstruction's PSNR against the input; 999 for an exact one (JSON has no infinity).
        public var psnrDB: Double

        public init(image: String, psnrDB: Double) {
            self.image = image
            self.psnrDB = psnrDB
        }

        enum CodingKeys: String, CodingKey {
            case image
            case psnrDB = "psnr_db"
        }
    }
}
