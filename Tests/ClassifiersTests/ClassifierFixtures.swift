import Foundation
import NN
import TestSupport
import Torch
@testable import Classifiers

let fixtures = FixtureFolder(Bundle.module)

/// One parity case of scripts/make_classifier_fixtures.py (Fixtures/cases.json).
struct ParityCase: Decodable, Sendable, CustomStringConvertible {
    let name: String
    let arch: String
    /// "stored": torchvision's weights are in `<name>-weights.safetensors`; "seeded": they are those of
    /// `torch.manual_seed(seed)` before torchvision's constructor, which Prism's seeded initialisation reproduces.
    let weights: String
    let inChannels: Int
    let numClasses: Int
    let seed: UInt64
    let perturbSeed: UInt64
    let growthRate: Int?
    let blockConfig: [Int]?
    let numInitFeatures: Int?
    let bnSize: Int?

    enum CodingKeys: String, CodingKey {
        case name, arch, weights, seed, inChannels = "in_channels", numClasses = "num_classes",
             perturbSeed = "perturb_seed", growthRate = "growth_rate", blockConfig = "block_config",
             numInitFeatures = "num_init_features", bnSize = "bn_size"
    }

    var description: String { name }

    static let all: [ParityCase] = {
        struct File: Decodable { let cases: [ParityCase] }
        let data = try! Data(contentsOf: fixtures.url("cases.json"))
        return try! JSONDecoder().decode(File.self, from: data).cases
    }()

    static func named(_ name: String) -> ParityCase { all.first { $0.name == name }! }

    /// The network as torchvision built it: seeded (and for seeded cases its batch norms perturbed as the script
    /// did), or with the stored weights loaded strictly.
    func network() throws -> any ClassifierNetwork {
        let store = ParameterStore(seed: seed)
        let net: any ClassifierNetwork
        switch arch {
        case "densenet":
            net = DenseNet(config: DenseNetConfig(growthRate: growthRate!, blockConfig: blockConfig!,
                                                  numInitFeatures: numInitFeatures!, bnSize: bnSize!,
                                                  numClasses: numClasses, inChannels: inChannels), path: store.root)
        case "densenet121": net = DenseNet(config: .densenet121(numClasses: numClasses), path: store.root)
        case "resnet18": net = ResNet(config: .resnet18(numClasses: numClasses), path: store.root)
        case "resnet50": net = ResNet(config: .resnet50(numClasses: numClasses), path: store.root)
        default: fatalError("unknown architecture \(arch)")
        }
        if weights == "stored" {
            try store.load(contentsOf: fixtures.url("\(name)-weights.safetensors"))
        } else {
            perturbBatchNorms(store, seed: perturbSeed)
        }
        return net
    }

    /// The reference outputs: input, logits_eval, logits_train, after_train.<key>, fingerprint.<key>.
    func reference() throws -> [String: Tensor] { try Safetensors.load(fixtures.url("\(name).safetensors")) }
}

/// The script's `perturb_batch_norms`: for each batch norm in sorted name order, weight += 0.1·n, bias += 0.1·n,
/// running_mean += 0.1·n, running_var *= exp(0.2·n), n drawn from `torch.Generator().manual_seed(seed)`.
func perturbBatchNorms(_ store: ParameterStore, seed: UInt64) {
    let generator = Generator(seed: seed)
    let norms = store.names.filter { $0.hasSuffix(".running_var") }.map { String($0.dropLast(".running_var".count)) }
    withNoGrad {
        for norm in norms.sorted() {
            let weight = store["\(norm).weight"]!
            let noise = { Tensor.randn(weight.shape, generator: generator) }
            weight.addInPlace(noise() * 0.1)
            store["\(norm).bias"]!.addInPlace(noise() * 0.1)
            store["\(norm).running_mean"]!.addInPlace(noise() * 0.1)
            store["\(norm).running_var"]!.mulInPlace((noise() * 0.2).exp())
        }
    }
}

/// The script's fingerprint of a tensor: float64 sum, sum of squares and first four values.
func fingerprint(_ t: Tensor) -> [Double] {
    let d = t.detach().to(.float64).flatten().toArray(Double.self)
    return [d.reduce(0, +), d.reduce(0) { $0 + $1 * $1 }] + d.prefix(4)
}

/// ||a - b|| / ||b|| in float64.
func relativeError(_ a: Tensor, _ b: Tensor) -> Double {
    relativeError(a.detach().floats(), b.detach().to(.float64).toArray(Double.self))
}

/// A fresh folder under the temporary directory, removed by the caller.
func temporaryFolder(_ label: String) -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("prism-\(label)-\(UUID().uuidString)")
}
