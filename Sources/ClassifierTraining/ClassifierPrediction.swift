import Classifiers
import Core
import Datasets
import Foundation
import Imaging
import NN
import Torch
import Training

/// A classifier's probabilities on images, as inference sees them: eval mode (running batch-norm statistics), no
/// gradients, each image read as ``ImageDataset`` reads it at the classifier's resolution.
public enum ClassifierPrediction {
    /// The probabilities (sigmoid of the logits) of every image of `dataset`, [image][label], in order.
    /// `progress(done, total)` is called after each batch.
    public static func probabilities(_ classifier: Classifier, dataset: ImageDataset, batchSize: Int = 32,
                                     progress: (Int, Int) -> Void = { _, _ in }) throws -> [[Double]] {
        precondition(dataset.resolution == classifier.config.resolution,
                     "the dataset's resolution \(dataset.resolution) is not the classifier's \(classifier.config.resolution)")
        return try probabilities(classifier, count: dataset.count, batchSize: batchSize, progress: progress) {
            try dataset.planes($0)
        }
    }

    /// The probabilities of images in memory (an edit, a rendered phantom), each read as ``ImageDataset`` reads a file.
    public static func probabilities(_ classifier: Classifier, images: [Image], batchSize: Int = 32) throws -> [[Double]] {
        let side = classifier.config.resolution
        return try probabilities(classifier, count: images.count, batchSize: batchSize) { indices in
            indices.map { ImageDataset.plane(images[$0], resolution: side) }
        }
    }

    static func probabilities(_ classifier: Classifier, count: Int, batchSize: Int, progress: (Int, Int) -> Void = { _, _ in },
                              planes: (Range<Int>) throws -> [[Float]]) throws -> [[Double]] {
        let store = classifier.store, wasTraining = store.isTraining
        store.isTraining = false
        defer { store.isTraining = wasTraining }
        var out: [[Double]] = []
        out.reserveCapacity(count)
        for start in stride(from: 0, to: count, by: max(1, batchSize)) {
            let indices = start..<min(start + max(1, batchSize), count)
            let batch = try planes(indices)
            let values: [Float] = withNoGrad {
                let x = ClassifierTrainingTask.networkInput(batch.flatMap { $0 }, count: indices.count, classifier: classifier)
                return classifier(x).to(.float32).sigmoid().to(.float32, .cpu).floats()
            }
            let labels = classifier.config.labels.count
            for k in 0..<indices.count { out.append(values[(k * labels)..<((k + 1) * labels)].map(Double.init)) }
            progress(indices.upperBound, count)
        }
        return out
    }

    /// Writes `path,patient,<label>...` with one row per image (probabilities with 6 decimals), atomically.
    public static func writeCSV(records: [Record], labels: [String], probabilities: [[Double]], to url: URL) throws {
        var text = csvLine(["path", "patient"] + labels) + "\n"
        for (record, p) in zip(records, probabilities) {
            text += csvLine([record.path, record.patientID] + p.map { String(format: "%.6f", $0) }) + "\n"
        }
        try AtomicFile.write(Data(text.utf8), to: url, durability: .unsynced)
    }
}
