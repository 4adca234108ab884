import Core
import Foundation
import NN
import Testing
import Torch
@testable import Classifiers

/// The classifier folder: config.json and model.safetensors under torchvision's keys, loaded strictly.
@Suite struct ClassifierFolderTests {
    func classifier(_ arch: ClassifierArchitecture = .resnet18, channels: Int = 1, seed: UInt64 = 7) -> Classifier {
        let config = ClassifierConfig(architecture: arch, labels: ["Cardiomegaly", "Effusion", "Pacemaker"],
                                      inChannels: channels, resolution: 64, thresholds: [0.4, 0.5, 0.65])
        let classifier = Classifier(config: config, seed: seed)
        perturbBatchNorms(classifier.store, seed: seed + 1)
        return classifier
    }

    @Test func saveThenLoadGivesTheSameClassifier() throws {
        let folder = temporaryFolder("classifier")
        defer { try? FileManager.default.removeItem(at: folder) }
        let original = classifier()
        try original.save(to: folder)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == ["config.json", "model.safetensors"])

        let loaded = try Classifier.load(from: folder)
        #expect(loaded.config == original.config)
        #expect(loaded.store.names == original.store.names)
        for ((name, a), (_, b)) in zip(original.store.stateDict(), loaded.store.stateDict()) {
            #expect(a.dtype == b.dtype && (a.detach().to(.float64) - b.to(.float64)).abs().max().item() == 0, "\(name)")
        }
        let x = loaded.normalize(Tensor.rand([2, 1, 64, 64], generator: Generator(seed: 2)))
        #expect((withNoGrad { original(x) } - withNoGrad { loaded(x) }).abs().max().item() == 0)
        #expect(!loaded.store.isTraining && loaded.store.trainableParameters.isEmpty)
    }

    @Test func theWeightFileHoldsExactlyTorchvisionsStateDict() throws {
        let folder = temporaryFolder("classifier-keys")
        defer { try? FileManager.default.removeItem(at: folder) }
        try classifier(.densenet121).save(to: folder)
        let file = try SafetensorsFile(url: folder.appendingPathComponent("model.safetensors"))
        let counters = file.tensors.filter { $0.name.hasSuffix("num_batches_tracked") }
        #expect(counters.count == 121)  // one per batch norm: norm0, 2 × 58 dense layers, 3 transitions, norm5
        #expect(counters.allSatisfy { $0.dtype == .I64 && $0.shape == [] })
        let fresh = ParameterStore()
        fresh.skipsInitialization = true
        _ = Classifier(config: classifier(.densenet121).config, store: fresh)
        #expect(Set(file.tensors.map(\.name)) == Set(fresh.names))
        let config = try JSONFile.object(from: folder.appendingPathComponent("config.json"))
        #expect(config["architecture"] as? String == "densenet121" && config["in_channels"] as? Int == 1)
    }

    @Test func strictLoadNamesMissingUnexpectedAndMisshapenKeys() throws {
        let folder = temporaryFolder("classifier-strict")
        defer { try? FileManager.default.removeItem(at: folder) }
        try classifier().save(to: folder)
        let weights = folder.appendingPathComponent("model.safetensors")
        var tensors = try Safetensors.load(weights)
        tensors["layer1.0.bn1.running_var"] = nil
        tensors["layer1.0.bn1.num_batches_tracked"] = nil
        tensors["fc.extra"] = Tensor.zeros([1])
        tensors["conv1.weight"] = Tensor.zeros([64, 3, 7, 7])
        try Safetensors.save(tensors.map { (name: $0.key, tensor: $0.value) }, to: weights)
        let error = #expect(throws: StateDictError.self) { try Classifier.load(from: folder) }
        let text = error?.description ?? ""
        #expect(text.hasPrefix(weights.path))
        for key in ["layer1.0.bn1.running_var", "layer1.0.bn1.num_batches_tracked", "fc.extra",
                    "conv1.weight: file [64, 3, 7, 7], model [64, 1, 7, 7]"] {
            #expect(text.contains(key), "\(key) not in \(text)")
        }
    }

    @Test func configProblemsNameTheFileAndTheKey() throws {
        let folder = temporaryFolder("classifier-config")
        defer { try? FileManager.default.removeItem(at: folder) }
        try classifier().save(to: folder)
        let url = folder.appendingPathComponent("config.json")
        let good = try JSONFile.object(from: url)
        let cases: [(String, (inout [String: Any]) -> Void)] = [
            ("architecture", { $0["architecture"] = "vgg16" }),
            ("resolution", { $0["resolution"] = nil }),
            ("thresholds", { $0["thresholds"] = [0.5] }),
            ("thresholds", { $0["thresholds"] = [0.5, 1.5, 0.2] }),
            ("mean", { $0["mean"] = [0.5, 0.5, 0.5] }),
            ("labels", { $0["labels"] = ["a", "b", "a"] }),
            ("in_channels", { $0["in_channels"] = 2 }),
        ]
        for (key, change) in cases {
            var fields = good
            change(&fields)
            try JSONSerialization.data(withJSONObject: fields).write(to: url)
            let error = #expect(throws: JSONFileError.self) { try Classifier.load(from: folder) }
            #expect(error?.file == url.path && error?.key == key, "\(key): \(String(describing: error))")
        }
        var fields = good
        fields["thresholds"] = nil
        try JSONSerialization.data(withJSONObject: fields).write(to: url)
        #expect(try Classifier.load(from: folder).config.thresholds == [0.5, 0.5, 0.5])
    }

    @Test func normalisationUsesTheConfigsMeanAndStd() {
        let c = Classifier(config: ClassifierConfig(architecture: .resnet18, labels: ["x"], inChannels: 3,
                                                    mean: [0.5, 0.25, 0], std: [0.5, 0.25, 2]))
        let x = Tensor.ones([1, 3, 1, 1])
        #expect(c.normalize(x).flatten().floats() == [1, 3, 0.5])
    }

    /// Writes Prism-saved folders for the torchvision check of scripts/make_classifier_fixtures.py
    /// (`--check-prism-folder`): set PRISM_CLASSIFIER_EXPORT to a folder.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["PRISM_CLASSIFIER_EXPORT"] != nil))
    func exportForTheTorchvisionCheck() throws {
        let root = URL(fileURLWithPath: ProcessInfo.processInfo.environment["PRISM_CLASSIFIER_EXPORT"]!)
        for (arch, channels) in [(ClassifierArchitecture.densenet121, 1), (.resnet18, 3), (.resnet50, 1)] {
            let model = classifier(arch, channels: channels, seed: 100)
            let folder = root.appendingPathComponent("\(arch.rawValue)-\(channels)ch")
            try model.save(to: folder)
            let input = Tensor.randn([2, channels, 64, 56], generator: Generator(seed: 9))
            let logits = withNoGrad { model(input) }
            try Safetensors.save([(name: "input", tensor: input), (name: "logits", tensor: logits)],
                                 to: folder.appendingPathComponent("check.safetensors"))
        }
    }
}
