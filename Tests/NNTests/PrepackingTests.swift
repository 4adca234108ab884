import Foundation
import Testing
@testable import NN
@testable import Torch

/// CPU inference runs `Conv2d` and `Linear` on weights prepacked in oneDNN's layouts; they must compute what
/// libtorch's plain convolution and linear compute, for every input shape, and follow the weight when it changes.
@Suite(.enabled(if: Prepacking.isEnabled,
                 "prepacking is off here: it needs a libtorch with oneDNN's ops and PRISM_PREPACK unset (or not 0)"))
struct PrepackingTests {
    /// This test's own random numbers (libtorch's global generator is shared by tests that run in parallel).
    let rng = Generator(seed: 7)

    func relativeError(_ a: Tensor, _ b: Tensor) -> Double {
        let x = a.floats(), y = b.floats()
        #expect(x.count == y.count)
        var num = 0.0, den = 0.0
        for (p, q) in zip(x, y) {
            num += Double(p - q) * Double(p - q)
            den += Double(q) * Double(q)
        }
        return (num / den).squareRoot()
    }

    func layer(_ inChannels: Int = 32, _ outChannels: Int = 48, kernel: Int = 3, stride: Int = 1) -> Conv2d {
        Conv2d(ParameterStore(seed: 7).root / "conv", inChannels, outChannels, kernelSize: kernel, stride: stride,
               padding: kernel / 2)
    }

    func plain(_ conv: Conv2d, _ x: Tensor) -> Tensor {
        F.conv2d(x, weight: conv.weight, bias: conv.bias, stride: conv.stride, padding: conv.padding)
    }

    @Test(arguments: [(3, 1), (1, 1), (3, 2)])
    func packedEqualsPlainForEveryShape(kernel: Int, stride: Int) {
        let conv = layer(kernel: kernel, stride: stride)
        withNoGrad {
            // Several shapes, then the first again: each gives the plain convolution's result.
            for shape in [[1, 32, 8, 8], [3, 32, 16, 16], [2, 32, 4, 4], [1, 32, 8, 8]] {
                let x = Tensor.randn(shape, generator: rng)
                #expect(conv.prepackedWeight(for: x) != nil, "the packed path runs for \(shape)")
                #expect(relativeError(conv(x), plain(conv, x)) < 1e-5, "\(shape)")
            }
        }
    }

    @Test func aConvolutionIsPackedForItsInputShapeAndLinearOnce() {
        let conv = layer(kernel: 1), proj = linear()
        withNoGrad {
            let small = Tensor.randn([1, 32, 4, 4], generator: rng), large = Tensor.randn([1, 32, 16, 16], generator: rng)
            let first = conv.prepackedWeight(for: small)
            #expect(first === conv.prepackedWeight(for: Tensor.randn([1, 32, 4, 4], generator: rng)), "the same shape reuses its copy")
            // oneDNN's layout depends on the shape (a 1×1 layer packed for 4×4 ran 100× slower on 16×16).
            #expect(first !== conv.prepackedWeight(for: large), "a new shape packs anew")
            let packed = proj.prepackedWeight(for: Tensor.randn([5, 40], generator: rng))
            #expect(packed === proj.prepackedWeight(for: Tensor.randn([2, 77, 40], generator: rng)), "one layout for every input")
        }
    }

    @Test func packedBFloat16EqualsPlainBFloat16() {
        let conv = layer()
        let weight = conv.weight.to(.bfloat16), bias = conv.bias!.to(.bfloat16)
        let store = ParameterStore()
        let half = Conv2d(store.root / "conv", 32, 48, kernelSize: 3, padding: 1)
        withNoGrad {
            half.weight.setData(weight)
            half.bias!.setData(bias)
            let x = Tensor.randn([2, 32, 8, 8], generator: rng).to(.bfloat16)
            // Packed where this CPU's oneDNN packs bfloat16 (AVX-512 or AVX-NE-CONVERT), plain elsewhere: right on both.
            #expect((half.prepackedWeight(for: x) != nil) == Prepacking.supportsBFloat16)
            #expect(relativeError(half(x), plain(half, x)) < 1e-2)
            let proj = Linear(store.root / "proj", 40, 24)
            let v = Tensor.randn([3, 40], generator: rng).to(.bfloat16)
            proj.weight.setData(proj.weight.to(.bfloat16))
            proj.bias!.setData(proj.bias!.to(.bfloat16))
            #expect((proj.prepackedWeight(for: v) != nil) == Prepacking.supportsBFloat16)
            #expect(relativeError(proj(v), F.linear(v, weight: proj.weight, bias: proj.bias)) < 1e-2)
        }
    }

    @Test func aWeightChangedInPlaceIsPackedAgain() {
        let conv = layer()
        let x = Tensor.randn([1, 32, 8, 8], generator: rng)
        withNoGrad {
            let before = conv(x)
            conv.weight.copyFrom(conv.weight * 2)
            let after = conv(x)
            #expect(relativeError(after, plain(conv, x)) < 1e-5)
            #expect(relativeError(after, before) > 0.5)
        }
    }

    @Test func aWeightGivenNewDataIsPackedAgain() {
        let conv = layer()
        let x = Tensor.randn([1, 32, 8, 8], generator: rng)
        withNoGrad {
            let before = conv(x)
            conv.weight.setData(conv.weight * -1)
            #expect(relativeError(conv(x), plain(conv, x)) < 1e-5)
            #expect(relativeError(conv(x), before) > 0.5)
        }
    }

    @Test func recordingGradientsRunsThePlainConvolution() {
        let conv = layer()
        let x = Tensor.randn([1, 32, 8, 8], generator: rng).requiringGrad()
        #expect(conv.prepackedWeight(for: x) == nil)
        conv(x).sum().backward()
        #expect(x.grad?.shape == [1, 32, 8, 8])
        #expect(conv.weight.grad?.shape == [48, 32, 3, 3])
    }

    @Test func trainingSamplesCanSuspendPrepacking() {
        let conv = layer(), proj = linear()
        withNoGrad {
            Prepacking.withoutPrepacking {
                #expect(conv.prepackedWeight(for: Tensor.randn([1, 32, 8, 8], generator: rng)) == nil)
                #expect(proj.prepackedWeight(for: Tensor.randn([2, 40], generator: rng)) == nil)
            }
            #expect(conv.prepackedWeight(for: Tensor.randn([1, 32, 8, 8], generator: rng)) != nil)
        }
    }

    @Test func thinLayersAndAutocastRunThePlainConvolution() {
        let thin = layer(4, 48)
        withNoGrad {
            #expect(thin.prepackedWeight(for: Tensor.randn([1, 4, 8, 8], generator: rng)) == nil)
            let conv = layer()
            withAutocast(.bfloat16) { #expect(conv.prepackedWeight(for: Tensor.randn([1, 32, 8, 8], generator: rng)) == nil) }
        }
    }

    // MARK: Linear

    func linear(_ inFeatures: Int = 40, _ outFeatures: Int = 24) -> Linear {
        Linear(ParameterStore(seed: 11).root / "proj", inFeatures, outFeatures)
    }

    @Test func packedLinearEqualsPlainForAnyLeadingDimensions() {
        let layer = linear()
        withNoGrad {
            for shape in [[5, 40], [2, 77, 40], [3, 4, 9, 40], [1, 40]] {
                let x = Tensor.randn(shape, generator: rng)
                #expect(layer.prepackedWeight(for: x) != nil, "the packed path runs for \(shape)")
                let y = layer(x)
                #expect(y.shape == Array(shape.dropLast()) + [24])
                #expect(relativeError(y, F.linear(x, weight: layer.weight, bias: layer.bias)) < 1e-5, "\(shape)")
            }
            let noBias = Linear(ParameterStore().root / "proj", 40, 24, bias: false)
            let x = Tensor.randn([6, 40], generator: rng)
            #expect(relativeError(noBias(x), F.linear(x, weight: noBias.weight)) < 1e-5)
            // A non-contiguous input (a transposed view), as attention produces.
            let t = Tensor.randn([40, 6], generator: rng).transpose(0, 1)
            #expect(relativeError(layer(t), F.linear(t, weight: layer.weight, bias: layer.bias)) < 1e-5)
        }
    }

    @Test func packedLinearFollowsItsWeightAndStepsAsideForGradients() {
        let layer = linear()
        let x = Tensor.randn([3, 40], generator: rng)
        withNoGrad {
            let before = layer(x)
            layer.weight.copyFrom(layer.weight * 3)
            #expect(relativeError(layer(x), F.linear(x, weight: layer.weight, bias: layer.bias)) < 1e-5)
            #expect(relativeError(layer(x), before) > 0.5)
        }
        let input = x.requiringGrad()
        #expect(layer.prepackedWeight(for: input) == nil)
        layer(input).sum().backward()
        #expect(input.grad?.shape == [3, 40])
    }
}
