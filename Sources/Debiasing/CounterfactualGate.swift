import ClassifierTraining
import Classifiers
import Core
import Datasets
import Foundation
import Training

/// Keeps only the counterfactuals a classifier judges effective: the edited label's probability on the edited side
/// of the classifier's threshold (config.json's `thresholds`): at or above it after an addition, below it after a
/// removal.
public struct CounterfactualGate {
    public let classifier: Classifier
    /// Who the classifier is, for run.json (shards and reruns must use the same one): say,
    /// `InversionCache.modelIdentity(folder)`, which does not depend on where the folder lies.
    public let identity: String

    public init(classifier: Classifier, identity: String) {
        self.classifier = classifier
        self.identity = identity
    }

    /// The classifier's output for `finding`, refused naming the classifier's labels when it has none.
    public func labelIndex(_ finding: String) throws -> Int {
        guard let k = classifier.config.labels.firstIndex(where: { Findings.canonical($0) == finding }) else {
            throw DataFileError(file: "--gate", "the gate classifier has no label \"\(finding)\" (an --edit changes it); its labels: "
                                + classifier.config.labels.joined(separator: ", "))
        }
        return k
    }

    /// The probability of `finding` on each image file (as `prism classifier predict` reads it).
    public func scores(_ files: [URL], finding: String) throws -> [Double] {
        let k = try labelIndex(finding)
        let records = files.map { Record(path: $0.path, patientID: "") }
        let dataset = ImageDataset(records: records, imageRoot: URL(fileURLWithPath: "/"), resolution: classifier.config.resolution)
        return try ClassifierPrediction.probabilities(classifier, dataset: dataset).map { $0[k] }
    }

    /// Whether `score` lies on the edited side of the threshold.
    public func keeps(score: Double, edit: DatasetEdit) throws -> Bool {
        let threshold = classifier.config.thresholds[try labelIndex(edit.finding)]
        return edit.makesPresent ? score >= threshold : score < threshold
    }
}
