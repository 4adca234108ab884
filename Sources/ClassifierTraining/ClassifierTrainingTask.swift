import Classifiers
import Foundation
import NN
import Torch
import Training

/// One training image as the classifier task takes it: the (augmented) gray plane in [0, 1], per label the
/// target, the mask of known labels and the loss weight, and per regression target the standardised value and the
/// mask of known values.
public struct ClassifierSample: Sendable {
    public var pixels: [Float]
    public var targets: [Float]
    public var mask: [Float]
    public var weights: [Float]
    /// (value − mean) / std per regression target, 0 where unknown.
    public var regression: [Float]
    /// 1 where the regression target is known.
    public var regressionMask: [Float]

    public init(pixels: [Float], targets: [Float], mask: [Float], weights: [Float], regression: [Float] = [],
                regressionMask: [Float] = []) {
        precondition(regression.count == regressionMask.count, "ClassifierSample: one mask entry per regression target")
        self.pixels = pixels
        self.targets = targets
        self.mask = mask
        self.weights = weights
        self.regression = regression
        self.regressionMask = regressionMask
    }
}

/// Multi-label classification, with regression targets beside the labels, as a ``TrainingTask`` for the one
/// ``Trainer``: binary cross-entropy on the label logits, masked where a label is unknown and weighted per entry
/// (group balancing; 1 otherwise), plus the mean squared error of the regression outputs against the standardised
/// targets, masked where a value is unknown. Checkpoints hold a complete classifier folder (`model/config.json`,
/// `model/model.safetensors`).
public final class ClassifierTrainingTask: TrainingTask {
    public typealias Sample = ClassifierSample
    public let classifier: Classifier

    /// Puts the classifier in training mode (batch statistics, running averages updated) with every parameter trainable.
    public init(classifier: Classifier) {
        self.classifier = classifier
        classifier.store.unfreeze()
        classifier.store.isTraining = true
    }

    public var parameters: [Tensor] { classifier.store.trainableParameters }

    public func loss(_ batch: [ClassifierSample], generator: Generator) -> Tensor {
        let store = classifier.store, n = batch.count, labels = classifier.config.labels.count
        let regressions = classifier.config.regressionTargets.count
        func tensor(_ values: [Float], _ shape: [Int]) -> Tensor { Tensor(values, shape: shape).to(store.dtype, store.device) }
        let images = Self.networkInput(batch.flatMap(\.pixels), count: n, classifier: classifier)
        let outputs = classifier(images)
        var loss: Tensor?
        if labels > 0 {
            let logits = regressions > 0 ? outputs.slice(dim: 1, start: 0, end: labels) : outputs
            loss = Self.maskedBinaryCrossEntropy(logits: logits, targets: tensor(batch.flatMap(\.targets), [n, labels]),
                                                 mask: tensor(batch.flatMap(\.mask), [n, labels]),
                                                 weights: tensor(batch.flatMap(\.weights), [n, labels]))
        }
        if regressions > 0 {
            let mse = Self.maskedMeanSquaredError(outputs.slice(dim: 1, start: labels, end: labels + regressions),
                                                  targets: tensor(batch.flatMap(\.regression), [n, regressions]),
                                                  mask: tensor(batch.flatMap(\.regressionMask), [n, regressions]))
            loss = loss.map { $0 + mse } ?? mse
        }
        return loss!
    }

    /// Σ m·(y − t)² / Σ m over the [N, targets] entries, m the mask of known targets: the mean squared error over the
    /// known values (0 when none is known). With standardised targets a network that predicts the mean scores 1.
    public static func maskedMeanSquaredError(_ outputs: Tensor, targets: Tensor, mask: Tensor) -> Tensor {
        let m = mask.to(.float32)
        return ((outputs.to(.float32) - targets.to(.float32)).square() * m).sum() / m.sum().clamp(min: 1)
    }

    /// Gray planes in [0, 1] ([count · side²] floats) → the network's input: repeated over its input channels,
    /// normalised by the config's mean and std, in the store's dtype and device.
    public static func networkInput(_ planes: [Float], count: Int, classifier: Classifier) -> Tensor {
        let config = classifier.config, side = config.resolution
        var x = Tensor(planes, shape: [count, 1, side, side]).to(classifier.store.dtype, classifier.store.device)
        if config.inChannels > 1 { x = x.repeated([1, config.inChannels, 1, 1]) }
        return classifier.normalize(x)
    }

    /// Σ w·m·ℓ / Σ m over the [N, labels] entries, ℓ the binary cross-entropy of a logit against its target, m the mask
    /// of known entries, w the weight: the mean loss over the known labels, an unknown one counting for nothing
    /// (0 when none is known).
    public static func maskedBinaryCrossEntropy(logits: Tensor, targets: Tensor, mask: Tensor, weights: Tensor) -> Tensor {
        let perEntry = F.binaryCrossEntropyWithLogits(logits.to(.float32), targets.to(.float32), reduction: .none)
        let m = mask.to(.float32)
        return (perEntry * m * weights.to(.float32)).sum() / m.sum().clamp(min: 1)
    }

    public func saveModel(to folder: URL) throws { try classifier.save(to: folder) }

    public func loadModel(from folder: URL) throws {
        try classifier.store.load(contentsOf: folder.appendingPathComponent(Classifier.weightsName))
    }
}
