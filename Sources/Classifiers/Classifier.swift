import Core
import Foundation
import NN
import Torch

/// A network that maps images to one output per label and regression target: ``DenseNet`` or ``ResNet``.
public protocol ClassifierNetwork: Module {
    var store: ParameterStore { get }
    /// Normalised images [N, C, H, W] → outputs [N, labels + regression targets].
    func callAsFunction(_ x: Tensor) -> Tensor
    /// Normalised images [N, C, H, W] → the penultimate layer's pooled features [N, D] (what the final layer reads).
    func embedding(_ x: Tensor) -> Tensor
}

extension DenseNet: ClassifierNetwork {}
extension ResNet: ClassifierNetwork {}

/// A chest X-ray classifier: a torchvision architecture under torchvision's state-dict keys, and its
/// ``ClassifierConfig``. Its folder holds `config.json` and `model.safetensors`, which is exactly
/// `model.state_dict()` of the torchvision model (batch-norm buffers included, `num_batches_tracked` int64), so
/// that `load_state_dict(strict=True)` in torchvision takes it and Prism takes torchvision's.
///
/// Logits come out, one per label, then one linear output per regression target (the final layer simply has
/// `labels + regression targets` outputs, so the weights stay torchvision's); callers apply the sigmoid to the
/// logits and compare with ``ClassifierConfig/thresholds``, and map a regression output to its units with
/// ``RegressionTarget/value(_:)``. Train and eval mode follow `store.isTraining` (batch normalisation).
public final class Classifier {
    public private(set) var config: ClassifierConfig
    public let network: any ClassifierNetwork
    public var store: ParameterStore { network.store }

    public static let configName = "config.json"
    public static let weightsName = "model.safetensors"

    /// A new network with torchvision's initialisation drawn from `seed` (the weights of
    /// `torch.manual_seed(seed); torchvision.models.densenet121(num_classes=…)` for 3 input channels).
    public convenience init(config: ClassifierConfig, seed: UInt64 = 0, dtype: DType = .float32, device: Device = .cpu) {
        self.init(config: config, store: ParameterStore(dtype: dtype, device: device, seed: seed))
    }

    init(config: ClassifierConfig, store: ParameterStore) {
        self.config = config
        let classes = config.outputCount
        switch config.architecture {
        case .densenet121:
            network = DenseNet(config: .densenet121(numClasses: classes, inChannels: config.inChannels), path: store.root)
        case .resnet18:
            network = ResNet(config: .resnet18(numClasses: classes, inChannels: config.inChannels), path: store.root)
        case .resnet50:
            network = ResNet(config: .resnet50(numClasses: classes, inChannels: config.inChannels), path: store.root)
        }
    }

    /// Normalised images [N, C, H, W] → outputs [N, labels + regression targets].
    public func callAsFunction(_ images: Tensor) -> Tensor { network(images) }

    /// Sets the per-label decision thresholds (chosen on validation data, say) that ``save(to:dtype:)`` writes.
    public func setThresholds(_ thresholds: [Double]) throws {
        var changed = config
        changed.thresholds = thresholds
        if let (key, problem) = changed.problem() { throw JSONFileError(file: Self.configName, key: key.rawValue, problem: problem) }
        config = changed
    }

    /// Images in [0, 1] → the network's input: (x - mean) / std per channel.
    public func normalize(_ images: Tensor) -> Tensor {
        let shape = [1, config.inChannels, 1, 1]
        let mean = Tensor(config.mean.map(Float.init), shape: shape).to(images.dtype, images.device)
        let std = Tensor(config.std.map(Float.init), shape: shape).to(images.dtype, images.device)
        return (images - mean) / std
    }

    // MARK: Folder

    /// Reads a classifier folder: `config.json` (through Core's JSON reader: errors name the file and key) and
    /// `model.safetensors`, loaded strictly (one error names every missing or unexpected key and wrong shape).
    /// The classifier comes back in eval mode with its parameters frozen (`store.unfreeze()` to train).
    public static func load(from folder: URL, dtype: DType = .float32, device: Device = .cpu) throws -> Classifier {
        let config = try JSONFile.decode(ClassifierConfig.self, from: folder.appendingPathComponent(configName))
        let weights = folder.appendingPathComponent(weightsName)
        guard FileManager.default.fileExists(atPath: weights.path) else {
            throw FileSystemError(path: weights.path, reason: "missing (a classifier folder holds config.json and \(weightsName))")
        }
        let store = ParameterStore(dtype: dtype, device: device)
        store.skipsInitialization = true
        let classifier = Classifier(config: config, store: store)
        try store.load(contentsOf: weights)
        store.freeze()
        return classifier
    }

    /// Writes the folder whole or not at all (an interrupted save leaves the previous folder): `config.json` and
    /// `model.safetensors` in float32 (or `dtype`), under torchvision's keys.
    public func save(to folder: URL, dtype: DType? = .float32) throws {
        let config = try config.encoded()
        try StagedFolder.write(folder) { staged in
            try config.write(to: staged.appendingPathComponent(Self.configName))
            try store.save(to: staged.appendingPathComponent(Self.weightsName), dtype: dtype, metadata: ["format": "pt"])
        }
    }
}
