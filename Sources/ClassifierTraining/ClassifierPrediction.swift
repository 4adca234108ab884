import Classifiers
import Core
import Datasets
import Foundation
import Imaging
import NN
import Torch
import Training

/// What a classifier says of each image: the probability of each label and the value of each regression target
/// in the target's units (the patient's age in years).
public struct ClassifierOutputs: Sendable, Equatable {
    /// The classifier's labels and regression targets, in its output order.
    public var labels: [String]
    public var regressionNames: [String]
    /// [image][label]: the sigmoid of each label's logit.
    public var probabilities: [[Double]]
    /// [image][target]: `mean + std · output` of each regression output (see ``RegressionTarget``).
    public var regressions: [[Double]]

    public init(labels: [String], regressionNames: [String], probabilities: [[Double]], regressions: [[Double]]) {
        self.labels = labels
        self.regressionNames = regressionNames
        self.probabilities = probabilities
        self.regressions = regressions
    }

    public var count: Int { probabilities.count }

    /// The value of regression target `name` (`Age`) for every image, in its units; nil when the classifier has no
    /// such target.
    public func regression(_ name: String) -> [Double]? {
        regressionNames.firstIndex(of: RegressionTargets.canonical(name)).map { j in regressions.map { $0[j] } }
    }

    /// [image][output]: each label's probability, then each regression target in its units: the classifier's
    /// `config.outputNames` order. What an audit measures, age included.
    public var measurements: [[Double]] { zip(probabilities, regressions).map { $0 + $1 } }

    /// The probability of label `name` for every image; nil when the classifier has no such label.
    public func probability(_ name: String) -> [Double]? {
        labels.firstIndex(of: name).map { k in probabilities.map { $0[k] } }
    }
}

/// A classifier's outputs on images, as inference sees them: eval mode (running batch-norm statistics), no
/// gradients, each image read as ``ImageDataset`` reads it at the classifier's resolution.
public enum ClassifierPrediction {
    /// The probabilities (sigmoid of the logits) of every image of `dataset`, [image][label], in order.
    /// `progress(done, total)` is called after each batch.
    public static func probabilities(_ classifier: Classifier, dataset: ImageDataset, batchSize: Int = 32,
                                     progress: (Int, Int) -> Void = { _, _ in }) throws -> [[Double]] {
        try outputs(classifier, dataset: dataset, batchSize: batchSize, progress: progress).probabilities
    }

    /// The probabilities of images in memory (an edit, a rendered phantom), each read as ``ImageDataset`` reads a file.
    public static func probabilities(_ classifier: Classifier, images: [Image], batchSize: Int = 32) throws -> [[Double]] {
        try outputs(classifier, images: images, batchSize: batchSize).probabilities
    }

    /// The probabilities and the regression targets in their units (age in years) of every image of `dataset`.
    public static func outputs(_ classifier: Classifier, dataset: ImageDataset, batchSize: Int = 32,
                               progress: (Int, Int) -> Void = { _, _ in }) throws -> ClassifierOutputs {
        precondition(dataset.resolution == classifier.config.resolution,
                     "the dataset's resolution \(dataset.resolution) is not the classifier's \(classifier.config.resolution)")
        return try outputs(classifier, count: dataset.count, batchSize: batchSize, progress: progress) {
            try dataset.planes($0)
        }
    }

    /// The probabilities and regression targets of images in memory (an edit, a rendered phantom), each read as
    /// ``ImageDataset`` reads a file: what scores "make the patient 20 years older" by the change of predicted age.
    public static func outputs(_ classifier: Classifier, images: [Image], batchSize: Int = 32) throws -> ClassifierOutputs {
        let side = classifier.config.resolution
        return try outputs(classifier, count: images.count, batchSize: batchSize) { indices in
            indices.map { ImageDataset.plane(images[$0], resolution: side) }
        }
    }

    /// The penultimate layer's pooled features of images in memory, [image][feature], in eval mode: the domain feature
    /// space in which realism is measured as a Fréchet distance.
    public static func embeddings(_ classifier: Classifier, images: [Image], batchSize: Int = 32) throws -> [[Double]] {
        let store = classifier.store, wasTraining = store.isTraining, side = classifier.config.resolution
        store.isTraining = false
        defer { store.isTraining = wasTraining }
        var out: [[Double]] = []
        for start in stride(from: 0, to: images.count, by: max(1, batchSize)) {
            let indices = start..<min(start + max(1, batchSize), images.count)
            let planes = indices.flatMap { ImageDataset.plane(images[$0], resolution: side) }
            let (values, width): ([Float], Int) = withNoGrad {
                let x = ClassifierTrainingTask.networkInput(planes, count: indices.count, classifier: classifier)
                let e = classifier.network.embedding(x).to(.float32, .cpu)
                return (e.floats(), e.size(1))
            }
            for k in 0..<indices.count { out.append(values[(k * width)..<((k + 1) * width)].map(Double.init)) }
        }
        return out
    }

    static func outputs(_ classifier: Classifier, count: Int, batchSize: Int, progress: (Int, Int) -> Void = { _, _ in },
                        planes: (Range<Int>) throws -> [[Float]]) throws -> ClassifierOutputs {
        let store = classifier.store, wasTraining = store.isTraining
        store.isTraining = false
        defer { store.isTraining = wasTraining }
        let config = classifier.config, labels = config.labels.count, targets = config.regressionTargets, width = config.outputCount
        var probabilities: [[Double]] = [], regressions: [[Double]] = []
        probabilities.reserveCapacity(count)
        regressions.reserveCapacity(count)
        for start in stride(from: 0, to: count, by: max(1, batchSize)) {
            let indices = start..<min(start + max(1, batchSize), count)
            let batch = try planes(indices)
            // The labels' sigmoid as libtorch computes it (float32), the regression outputs as they come.
            let (sigmoid, raw): ([Float], [Float]) = withNoGrad {
                let x = ClassifierTrainingTask.networkInput(batch.flatMap { $0 }, count: indices.count, classifier: classifier)
                let out = classifier(x).to(.float32)
                return (out.sigmoid().to(.float32, .cpu).floats(), targets.isEmpty ? [] : out.to(.float32, .cpu).floats())
            }
            for k in 0..<indices.count {
                let row = k * width
                probabilities.append(sigmoid[row..<(row + labels)].map(Double.init))
                regressions.append(targets.indices.map { j in targets[j].value(Double(raw[row + labels + j])) })
            }
            progress(indices.upperBound, count)
        }
        return ClassifierOutputs(labels: config.labels, regressionNames: targets.map(\.name), probabilities: probabilities,
                                 regressions: regressions)
    }

    /// Writes `path,patient,<label>...` with one row per image (probabilities with 6 decimals), atomically.
    public static func writeCSV(records: [Record], labels: [String], probabilities: [[Double]], to url: URL) throws {
        try writeCSV(records: records, outputs: ClassifierOutputs(labels: labels, regressionNames: [], probabilities: probabilities,
                                                                  regressions: probabilities.map { _ in [] }), to: url)
    }

    /// Writes `path,patient,<label>...,<regression target>...` with one row per image (probabilities with 6
    /// decimals, regression targets in their units with 4), atomically.
    public static func writeCSV(records: [Record], outputs: ClassifierOutputs, to url: URL) throws {
        var text = csvLine(["path", "patient"] + outputs.labels + outputs.regressionNames) + "\n"
        for (record, (p, r)) in zip(records, zip(outputs.probabilities, outputs.regressions)) {
            text += csvLine([record.path, record.patientID] + p.map { String(format: "%.6f", $0) }
                            + r.map { String(format: "%.4f", $0) }) + "\n"
        }
        try AtomicFile.write(Data(text.utf8), to: url, durability: .unsynced)
    }
}
