import ClassifierTraining
import Classifiers
import Datasets
import Foundation
import Phantom
import Training

/// A small phantom set, generated once per test process: 48 images of 32 pixels whose support devices are tied to
/// pleural effusion, enough for a network to take a few steps on and for every metric to be defined.
enum TinyPhantom {
    static let folder: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("prism-clf-phantom-\(UUID().uuidString)")
        var dataset = PhantomDataset(output: url, count: 48, seed: 5)
        dataset.size = 32
        dataset.parameters.spurious = 0.8
        _ = try! dataset.generate()
        return url
    }()

    static var manifest: URL { folder.appendingPathComponent("manifest.csv") }
    static var records: [Record] { try! Manifest.load(manifest) }
    static let labels = ["Pleural Effusion", "Cardiomegaly"]

    /// A fresh folder under the temporary directory; each caller removes it.
    static func scratch() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("prism-clf-\(UUID().uuidString)")
    }

    /// A quick run: resnet18 at 32 px, batch 8, validation every 2 steps, on the first 36 images (validating on the rest).
    static func options(output: URL, steps: Int) -> ClassifierTrainingOptions {
        let all = records
        var o = ClassifierTrainingOptions(train: Array(all.prefix(36)), validation: Array(all.dropFirst(36)),
                                          imageRoot: folder, output: output, labels: labels)
        o.architecture = .resnet18
        o.resolution = 32
        o.settings.batchSize = 8
        o.settings.totalSteps = steps
        o.settings.learningRate = 1e-3
        o.settings.seed = 3
        o.validateEvery = 2
        return o
    }
}
