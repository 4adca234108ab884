import NN
import Testing
import Torch
@testable import Classifiers

/// What training will need: gradients reach every parameter through the batch norms, and a step changes the
/// weights and the logits.
@Suite struct TrainingStepTests {
    static let networks: [(String, @Sendable () -> any ClassifierNetwork)] = [
        ("densenet", { DenseNet(config: DenseNetConfig(growthRate: 8, blockConfig: [2, 2], numInitFeatures: 16,
                                                       dropRate: 0.2, numClasses: 3, inChannels: 1), seed: 3) }),
        ("resnet-bottleneck", { ResNet(config: ResNetConfig(block: .bottleneck, layers: [1, 1, 1, 1], numClasses: 3,
                                                            inChannels: 1), seed: 3) }),
    ]

    @Test(arguments: networks.indices)
    func aStepReachesEveryParameter(_ index: Int) {
        let (label, make) = Self.networks[index]
        let net = make()
        let store = net.store
        let x = Tensor.randn([4, 1, 40, 48], generator: Generator(seed: 1))
        let target = Tensor([1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0] as [Float], shape: [4, 3])
        let before = withNoGrad { net(x) }
        let weights = store.trainableParameters.map { $0.detach().clone() }

        store.isTraining = true
        let loss = F.binaryCrossEntropyWithLogits(net(x), target)
        loss.backward()
        let missing = zip(store.trainableNames, store.trainableParameters).filter { $0.1.grad == nil }.map(\.0)
        #expect(missing.isEmpty, "\(label): no gradient for \(missing.prefix(5))")
        let optimizer = AdamW(parameters: store.trainableParameters, learningRate: 1e-2)
        optimizer.step()
        store.isTraining = false

        let changed = zip(weights, store.trainableParameters).filter { ($0.0 - $0.1).abs().max().item() > 0 }.count
        #expect(changed == weights.count, "\(label): \(weights.count - changed) parameters unchanged")
        let after = withNoGrad { net(x) }
        #expect((after - before).abs().max().item() > 1e-4, "\(label): the logits did not move")
        let lossAfter = withNoGrad { F.binaryCrossEntropyWithLogits(net(x), target).item() }
        #expect(lossAfter.isFinite)
    }
}
