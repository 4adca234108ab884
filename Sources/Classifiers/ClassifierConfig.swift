import Core
import Foundation

/// The torchvision architectures a classifier folder may name.
public enum ClassifierArchitecture: String, Codable, Sendable, CaseIterable {
    case densenet121, resnet18, resnet50

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let name = try container.decode(String.self)
        guard let value = ClassifierArchitecture(rawValue: name) else {
            let known = Self.allCases.map(\.rawValue).joined(separator: ", ")
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "expected one of \(known), found \"\(name)\"")
        }
        self = value
    }
}

/// A numeric target a classifier regresses (the patient's age): one linear output (no sigmoid) that predicts the
/// standardised value (v - mean) / std, so that `mean + std · output` is the value in the target's units (years).
public struct RegressionTarget: Codable, Sendable, Equatable {
    public var name: String
    /// The training images' mean and standard deviation of the target, in its units.
    public var mean: Double
    public var std: Double

    public init(name: String, mean: Double, std: Double) {
        self.name = name
        self.mean = mean
        self.std = std
    }

    /// A network output → the value in the target's units.
    public func value(_ output: Double) -> Double { mean + std * output }
    /// A value in the target's units → what the network is trained to output.
    public func standardized(_ value: Double) -> Double { (value - mean) / std }
}

/// A classifier folder's `config.json`: what the network is, what its outputs mean and how its inputs are made.
///
///     {"architecture": "densenet121", "labels": ["Cardiomegaly", "Effusion"], "in_channels": 1,
///      "resolution": 224, "mean": [0.5], "std": [0.25], "thresholds": [0.41, 0.5],
///      "regression_targets": [{"name": "Age", "mean": 57.9, "std": 16.8}]}
///
/// The network's outputs are one logit per label, in order, then one linear output per regression target, in
/// order: the final layer of a torchvision model with `labels.count + regression_targets.count` classes.
/// `thresholds` (one per label, on the sigmoid of the logit) default to 0.5; `regression_targets` default to none
/// (and are left out of the file when there are none, so a label-only config reads as it always did). Everything
/// else is required; values that cannot work (a mean per channel missing, a threshold outside [0, 1]) are refused
/// naming the key.
public struct ClassifierConfig: Codable, Sendable, Equatable {
    public var architecture: ClassifierArchitecture
    /// One per output logit, in order (may be empty when there are regression targets).
    public var labels: [String]
    /// One linear output each, after the labels' logits.
    public var regressionTargets: [RegressionTarget]
    /// 1 (grey-scale X-rays) or 3 (torchvision's RGB).
    public var inChannels: Int
    /// The side of the square images the network was trained on.
    public var resolution: Int
    /// Per-channel normalisation of images in [0, 1]: (x - mean) / std.
    public var mean: [Double]
    public var std: [Double]
    /// Per-label decision thresholds on probabilities.
    public var thresholds: [Double]

    public init(architecture: ClassifierArchitecture, labels: [String], inChannels: Int = 1, resolution: Int = 224,
                mean: [Double]? = nil, std: [Double]? = nil, thresholds: [Double]? = nil,
                regressionTargets: [RegressionTarget] = []) {
        self.architecture = architecture
        self.labels = labels
        self.regressionTargets = regressionTargets
        self.inChannels = inChannels
        self.resolution = resolution
        // ImageNet's statistics, torchvision's presets; their mean over RGB for one channel.
        self.mean = mean ?? (inChannels == 1 ? [0.449] : [0.485, 0.456, 0.406])
        self.std = std ?? (inChannels == 1 ? [0.226] : [0.229, 0.224, 0.225])
        self.thresholds = thresholds ?? Array(repeating: 0.5, count: labels.count)
    }

    /// The network's outputs: the labels' logits, then the regression targets.
    public var outputCount: Int { labels.count + regressionTargets.count }

    /// The names of the outputs in order: the labels, then the regression targets.
    public var outputNames: [String] { labels + regressionTargets.map(\.name) }

    enum CodingKeys: String, CodingKey {
        case architecture, labels, inChannels = "in_channels", resolution, mean, std, thresholds
        case regressionTargets = "regression_targets"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(architecture, forKey: .architecture)
        try c.encode(labels, forKey: .labels)
        try c.encode(inChannels, forKey: .inChannels)
        try c.encode(resolution, forKey: .resolution)
        try c.encode(mean, forKey: .mean)
        try c.encode(std, forKey: .std)
        try c.encode(thresholds, forKey: .thresholds)
        if !regressionTargets.isEmpty { try c.encode(regressionTargets, forKey: .regressionTargets) }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        architecture = try c.decode(ClassifierArchitecture.self, forKey: .architecture)
        labels = try c.decode([String].self, forKey: .labels)
        inChannels = try c.decode(Int.self, forKey: .inChannels)
        resolution = try c.decode(Int.self, forKey: .resolution)
        mean = try c.decode([Double].self, forKey: .mean)
        std = try c.decode([Double].self, forKey: .std)
        thresholds = try c.decodeIfPresent([Double].self, forKey: .thresholds) ?? Array(repeating: 0.5, count: labels.count)
        regressionTargets = try c.decodeIfPresent([RegressionTarget].self, forKey: .regressionTargets) ?? []
        if let (key, problem) = problem() {
            throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: problem)
        }
    }

    /// The first field that cannot work, and why.
    func problem() -> (CodingKeys, String)? {
        if labels.isEmpty && regressionTargets.isEmpty {
            return (.labels, "expected at least one label (or a regression target in regression_targets)")
        }
        if let repeated = labels.first(where: { label in labels.filter { $0 == label }.count > 1 }) {
            return (.labels, "\"\(repeated)\" appears more than once")
        }
        let names = outputNames
        if let repeated = regressionTargets.map(\.name).first(where: { name in names.filter { $0 == name }.count > 1 }) {
            return (.regressionTargets, "\"\(repeated)\" appears more than once among the labels and regression targets")
        }
        if let bad = regressionTargets.first(where: { !$0.mean.isFinite || !($0.std > 0) || !$0.std.isFinite }) {
            return (.regressionTargets, "\"\(bad.name)\": expected a finite mean and a positive std, found mean \(bad.mean), std \(bad.std)")
        }
        if inChannels != 1 && inChannels != 3 { return (.inChannels, "expected 1 or 3, found \(inChannels)") }
        if resolution < 32 { return (.resolution, "expected at least 32 pixels, found \(resolution)") }
        if mean.count != inChannels { return (.mean, "expected \(inChannels) values (one per input channel), found \(mean.count)") }
        if std.count != inChannels { return (.std, "expected \(inChannels) values (one per input channel), found \(std.count)") }
        if let bad = mean.first(where: { !$0.isFinite }) { return (.mean, "expected finite values, found \(bad)") }
        if let bad = std.first(where: { !($0 > 0) || !$0.isFinite }) { return (.std, "expected positive values, found \(bad)") }
        if thresholds.count != labels.count {
            return (.thresholds, "expected \(labels.count) values (one per label), found \(thresholds.count)")
        }
        if let bad = thresholds.first(where: { !(0...1).contains($0) }) {
            return (.thresholds, "expected values in [0, 1], found \(bad)")
        }
        return nil
    }

    /// The JSON text of a config folder: snake_case keys, sorted, pretty-printed.
    public func encoded() throws -> Data {
        if let (key, problem) = problem() {
            throw JSONFileError(file: "config.json", key: key.rawValue, problem: problem)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self) + Data("\n".utf8)
    }
}
