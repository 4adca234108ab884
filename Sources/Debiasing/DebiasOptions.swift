import ClassifierMetrics
import Classifiers
import Counterfactual
import Datasets
import Foundation
import Phantom

/// The ways of training the classifier that a de-biasing experiment compares, on the same schedule.
public enum DebiasMethod: String, CaseIterable, Codable, Sendable {
    /// The biased training set as it is.
    case baseline
    /// The same images, each (label, attribute) group weighted by its inverse frequency in the loss.
    case reweighted
    /// The training set plus images sampled from the counterfactuals' captions alone (not counterfactuals).
    case generated
    /// The training set plus Prism's counterfactuals that flip the attribute and keep the label.
    case counterfactual
    /// The training set plus the phantom's true counterfactuals of the same images (phantom only).
    case oracle

    public var summary: String {
        switch self {
        case .baseline: "the biased training set"
        case .reweighted: "group-balanced loss weights over label × attribute"
        case .generated: "plus images generated from the counterfactuals' captions"
        case .counterfactual: "plus Prism's counterfactuals (attribute flipped, label kept)"
        case .oracle: "plus the phantom's true counterfactuals of the same images"
        }
    }

    /// Whether the method adds images to the training set.
    public var augments: Bool { [.generated, .counterfactual, .oracle].contains(self) }
}

/// The phantom data of an experiment: a biased training set and an unbiased test set from the same causal model,
/// both with the true counterfactuals of the attribute.
public struct PhantomDebiasData: Sendable {
    public var trainCount = 2000
    public var testCount = 800
    /// The training set's seed; the test set's is `seed + 1`.
    public var seed: UInt64 = 0
    /// The training set's tie between the attribute and the label (`--spurious`); the test set has none.
    public var spurious = 0.9
    /// The causal model's parameters: by default the faint effusions (`effusionDensity` 0.3) that make the shortcut
    /// learnable (docs/classifiers.md).
    public var parameters: SCMParameters = PhantomDebiasData.faintEffusions
    /// The rendered side (the bundled model's).
    public var size = 128

    public init() {}

    public static var faintEffusions: SCMParameters {
        var p = SCMParameters()
        p.effusionDensity = 0.3
        return p
    }
}

/// Where an experiment's data come from.
public enum DebiasSource: Sendable {
    /// A phantom training and test set made by the experiment.
    case phantom(PhantomDebiasData)
    /// A user's label file: split by patient into train, validation and test parts (`split.csv` in the output).
    case labelFile(data: URL, images: URL, format: ManifestFormat)
}

/// Everything a de-biasing experiment is made of.
public struct DebiasOptions: Sendable {
    public var output: URL
    public var source: DebiasSource
    /// The finding the classifier predicts and the attribute it might lean on (both label columns).
    public var label = "Pleural Effusion"
    public var attribute = "Support Devices"
    public var methods: [DebiasMethod] = DebiasMethod.allCases
    public var architecture = ClassifierArchitecture.resnet18
    public var resolution = 64
    /// Training seeds: each method is trained once per seed (seed k: 1, 2, ...).
    public var seeds = 3
    public var steps = 200
    public var batchSize = 32
    public var learningRate = 1e-3
    public var warmupSteps = 20
    public var threads: Int?
    public var loaderThreads = 1
    /// How many images the augmenting methods add: half "remove ATTRIBUTE" counterfactuals of shortcut-aligned images
    /// with the attribute, half "add ATTRIBUTE" of aligned images without it (fewer where a group is smaller).
    public var augmentCount = 200
    /// How Prism's counterfactuals are made (inversion, steps, guidance, mask).
    public var editing = EditSettings()  // null-text inversion, 50 steps
    public var template = CaptionTemplate()
    /// Denoising steps of the generated images (the model's guidance is `editing.guidance`).
    public var generationSteps = 25
    public var bootstrap = Bootstrap()

    public init(output: URL, source: DebiasSource) {
        self.output = output
        self.source = source
    }

    public var isPhantom: Bool { if case .phantom = source { true } else { false } }

    /// The methods this source can run (the oracle needs the phantom), in the canonical order.
    public var runnableMethods: [DebiasMethod] {
        DebiasMethod.allCases.filter { methods.contains($0) && ($0 != .oracle || isPhantom) }
    }

    /// The edits that flip the attribute: remove it where present, add it where absent.
    public var edits: [String] { ["remove \(attribute.lowercased())", "add \(attribute.lowercased())"] }
}
