import Testing
import Torch
@testable import NN

/// BatchNorm2d's PyTorch semantics, computed here from the batch itself (the models' parity tests check it against
/// torchvision as well).
@Suite struct BatchNormTests {
    let rng = Generator(seed: 5)

    /// A norm with non-trivial affine parameters and the input [4, 3, 5, 5].
    func make(momentum: Double? = 0.1) -> (BatchNorm2d, ParameterStore, Tensor) {
        let store = ParameterStore()
        let bn = BatchNorm2d(store.root / "bn", 3, momentum: momentum)
        withNoGrad {
            bn.weight!.copyFrom(Tensor([1.5, 0.5, 2] as [Float]))
            bn.bias!.copyFrom(Tensor([0.1, -0.2, 0.3] as [Float]))
        }
        return (bn, store, Tensor.randn([4, 3, 5, 5], generator: rng) * 2 + 1)
    }

    func affine(_ bn: BatchNorm2d, _ x: Tensor, mean: Tensor, variance: Tensor) -> Tensor {
        let c = [1, 3, 1, 1]
        return (x - mean.reshape(c)) / (variance.reshape(c) + 1e-5).sqrt() * bn.weight!.reshape(c) + bn.bias!.reshape(c)
    }

    @Test func stateDictHasPyTorchsNamesAndAnInt64Counter() {
        let (_, store, _) = make()
        #expect(store.names == ["bn.weight", "bn.bias", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"])
        #expect(store["bn.num_batches_tracked"]!.dtype == .int64 && store["bn.num_batches_tracked"]!.shape == [])
        #expect(store.trainableNames == ["bn.weight", "bn.bias"])
    }

    @Test func trainingNormalisesWithTheBatchAndUpdatesRunningStatistics() {
        let (bn, store, x) = make()
        store.isTraining = true
        let y = withNoGrad { bn(x) }
        let mean = x.mean(dims: [0, 2, 3]), biased = x.variance(dims: [0, 2, 3], correction: 0)
        let unbiased = x.variance(dims: [0, 2, 3], correction: 1)
        #expect(relativeError(y, affine(bn, x, mean: mean, variance: biased)) < 1e-6)
        #expect(relativeError(bn.runningMean!, mean * 0.1) < 1e-6)
        #expect(relativeError(bn.runningVar!, unbiased * 0.1 + 0.9) < 1e-6)
        #expect(bn.numBatchesTracked!.itemInt() == 1)
        _ = withNoGrad { bn(x) }
        #expect(bn.numBatchesTracked!.itemInt() == 2)
        #expect(relativeError(bn.runningMean!, mean * (0.1 + 0.09)) < 1e-6)
    }

    @Test func evalNormalisesWithRunningStatisticsAndLeavesThemAlone() {
        let (bn, _, x) = make()
        withNoGrad {
            bn.runningMean!.copyFrom(Tensor([0.5, -1, 2] as [Float]))
            bn.runningVar!.copyFrom(Tensor([4, 0.25, 1] as [Float]))
        }
        let y = withNoGrad { bn(x) }
        #expect(relativeError(y, affine(bn, x, mean: bn.runningMean!, variance: bn.runningVar!)) < 1e-6)
        #expect(bn.runningMean!.floats() == [0.5, -1, 2] && bn.runningVar!.floats() == [4, 0.25, 1])
        #expect(bn.numBatchesTracked!.itemInt() == 0)
    }

    @Test func withoutMomentumRunningStatisticsAreTheCumulativeAverage() {
        let (bn, store, x) = make(momentum: nil)
        let x2 = Tensor.randn([4, 3, 5, 5], generator: rng) - 3
        store.isTraining = true
        _ = withNoGrad { (bn(x), bn(x2)) }
        let average = (x.mean(dims: [0, 2, 3]) + x2.mean(dims: [0, 2, 3])) / 2
        #expect(relativeError(bn.runningMean!, average) < 1e-6)
    }

    @Test func gradientsReachTheInputAndTheAffineParameters() {
        let (bn, store, x) = make()
        store.isTraining = true
        let input = x.requiringGrad()
        let r = Tensor.randn([4, 3, 5, 5], generator: rng)
        (bn(input) * r).sum().backward()
        // d(sum y·r)/d bias = sum of r over N, H, W.
        #expect(relativeError(bn.bias!.grad!, r.sum(dims: [0, 2, 3])) < 1e-6)
        #expect(bn.weight!.grad != nil && input.grad != nil)
        // In training the output does not change when the input shifts: the input's gradient sums to zero per channel.
        #expect(input.grad!.sum(dims: [0, 2, 3]).abs().max().item() < 1e-4)
    }
}
