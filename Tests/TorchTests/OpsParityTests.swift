import Foundation
import TestSupport
import Testing
@testable import Torch

let fixtures = FixtureFolder(Bundle.module)

/// Every op against values PyTorch computed (scripts/make_torch_fixtures.py → Fixtures/ops.json).
@Suite struct OpsParityTests {
    static let cases = try! fixtures.loadCases("ops.json")

    /// Computes the Swift side of a fixture case.
    static func compute(_ c: FixtureCase) -> [Tensor] {
        let t = c.inputs.map(\.tensor)
        switch c.op {
        case "add_broadcast": return [t[0] + t[1]]
        case "sub": return [t[0] - t[1]]
        case "mul": return [t[0] * t[1]]
        case "div": return [t[0] / t[1]]
        case "rsub_scalar": return [c.double("scalar") - t[0]]
        case "div_scalar_reversed": return [c.double("scalar") / t[0]]
        case "pow_scalar": return [t[0].pow(c.double("exponent"))]
        case "maximum": return [t[0].maximum(t[1])]
        case "exp": return [t[0].exp()]
        case "tanh": return [t[0].tanh()]
        case "sigmoid": return [t[0].sigmoid()]
        case "sin": return [t[0].sin()]
        case "cos": return [t[0].cos()]
        case "abs": return [t[0].abs()]
        case "neg": return [-t[0]]
        case "erf": return [t[0].erf()]
        case "log": return [t[0].log()]
        case "sqrt": return [t[0].sqrt()]
        case "rsqrt": return [t[0].rsqrt()]
        case "silu": return [t[0].silu()]
        case "relu": return [t[0].relu()]
        case "gelu": return [t[0].gelu()]
        case "gelu_tanh": return [t[0].gelu(approximate: true)]
        case "clamp": return [t[0].clamp(min: c.double("min"), max: c.double("max"))]
        case "softmax": return [t[0].softmax(dim: c.int("dim"))]
        case "log_softmax": return [t[0].logSoftmax(dim: c.int("dim"))]
        case "lt": return [t[0].lt(t[1])]
        case "where": return [Tensor.where(t[0], t[1], t[2])]
        case "sum_dims": return [t[0].sum(dims: c.ints("dims"), keepDim: true)]
        case "sum_all": return [t[0].sum()]
        case "mean_dims": return [t[0].mean(dims: c.ints("dims"))]
        case "var_dims": return [t[0].variance(dims: c.ints("dims"))]
        case "var_all_biased": return [t[0].variance(correction: 0)]
        case "std_dims": return [t[0].std(dims: c.ints("dims"))]
        case "max_all": return [t[0].max()]
        case "max_dim": let r = t[0].max(dim: c.int("dim")); return [r.values, r.indices]
        case "argmax_dim": return [t[0].argmax(dim: c.int("dim"))]
        case "norm_all": return [t[0].norm()]
        case "norm_dims": return [t[0].norm(p: 2, dims: c.ints("dims"))]
        case "cumsum": return [t[0].cumsum(dim: c.int("dim"))]
        case "matmul": return [t[0].matmul(t[1])]
        case "bmm": return [t[0].bmm(t[1])]
        case "baddbmm": return [t[0].baddbmm(t[1], t[2], beta: c.double("beta"), alpha: c.double("alpha"))]
        case "linear": return [F.linear(t[0], weight: t[1], bias: t[2])]
        case "conv2d":
            return [F.conv2d(t[0], weight: t[1], bias: t[2], stride: c.int("stride"), padding: c.int("padding"))]
        case "conv2d_groups":
            return [F.conv2d(t[0], weight: t[1], stride: c.int("stride"), padding: c.int("padding"), groups: c.int("groups"))]
        case "group_norm": return [F.groupNorm(t[0], groups: c.int("groups"), weight: t[1], bias: t[2], eps: c.double("eps"))]
        case "layer_norm": return [F.layerNorm(t[0], normalizedShape: [4], weight: t[1], bias: t[2], eps: c.double("eps"))]
        case "embedding": return [F.embedding(t[1], weight: t[0])]
        case "sdpa": return [F.scaledDotProductAttention(query: t[0], key: t[1], value: t[2])]
        case "sdpa_causal": return [F.scaledDotProductAttention(query: t[0], key: t[1], value: t[2], isCausal: true)]
        case "sdpa_scale": return [F.scaledDotProductAttention(query: t[0], key: t[1], value: t[2], scale: c.double("scale"))]
        case "upsample_nearest_scale2": return [F.interpolate(t[0], scaleFactor: 2)]
        case "interpolate_bilinear": return [F.interpolate(t[0], size: (c.int("h"), c.int("w")), mode: .bilinear)]
        case "avg_pool2d": return [F.avgPool2d(t[0], kernelSize: c.int("kernel"), stride: c.int("stride"))]
        case "max_pool2d":
            return [F.maxPool2d(t[0], kernelSize: c.int("kernel"), stride: c.int("stride"), padding: c.int("padding"))]
        case "pad_constant": return [t[0].pad(c.ints("pads"), value: c.double("value"))]
        case "pad_reflect": return [t[0].pad(c.ints("pads"), mode: .reflect)]
        case "cat": return [Tensor.cat([t[0], t[1]], dim: c.int("dim"))]
        case "stack": return [Tensor.stack([t[0], t[1]], dim: c.int("dim"))]
        case "chunk": return t[0].chunk(c.int("chunks"), dim: c.int("dim"))
        case "split": return t[0].split(c.ints("sizes"), dim: c.int("dim"))
        case "permute": return [t[0].permute(c.ints("dims"))]
        case "transpose": return [t[0].transpose(c.int("d0"), c.int("d1"))]
        case "slice": return [t[0].slice(dim: 1, start: 1, end: 3).slice(dim: 2, step: 2)]
        case "index_select": return [t[0].indexSelect(dim: c.int("dim"), index: t[1])]
        case "cross_entropy": return [F.crossEntropy(t[0], t[1])]
        case "bce_with_logits": return [F.binaryCrossEntropyWithLogits(t[0], t[1])]
        case "mse_loss": return [F.mseLoss(t[0], t[1])]
        case "randn_seed0":
            return GlobalGenerator.exclusive {
                Torch.manualSeed(UInt64(c.int("seed")))
                return [Tensor.randn(c.ints("shape"))]
            }
        case "randn_generator42": return [Tensor.randn(c.ints("shape"), generator: Generator(seed: UInt64(c.int("seed"))))]
        case "rand_generator7": return [Tensor.rand(c.ints("shape"), generator: Generator(seed: UInt64(c.int("seed"))))]
        default: return []
        }
    }

    static let opNames = cases.keys.filter { !$0.hasPrefix("grad_") }.sorted()

    @Test(arguments: opNames)
    func matchesPyTorch(_ op: String) throws {
        let c = try #require(Self.cases[op])
        let results = Self.compute(c)
        #expect(results.count == c.outputs.count, "\(op): the test does not know this op")
        for (i, (actual, expected)) in zip(results, c.outputs).enumerated() {
            expectMatches(actual, expected, "\(op)[\(i)]")
        }
    }

    @Test func everyFixtureCaseIsCovered() {
        #expect(Self.cases.count >= 70)
    }

    @Test func compositeGradientMatchesPyTorch() throws {
        let c = try #require(Self.cases["grad_composite"])
        let x = c.inputs[0].tensor.requiringGrad()
        let w = c.inputs[1].tensor.requiringGrad()
        let b = c.inputs[2].tensor.requiringGrad()
        let y = (x.matmul(w) + b).silu()
        let loss = (y.softmax(dim: -1) * y).sum() + w.pow(2).mean()
        loss.backward()
        expectMatches(loss, c.outputs[0], "loss")
        expectMatches(try #require(x.grad), c.outputs[1], "dx")
        expectMatches(try #require(w.grad), c.outputs[2], "dw")
        expectMatches(try #require(b.grad), c.outputs[3], "db")
        x.zeroGrad()
        #expect(x.grad == nil)
    }

    @Test func backwardWithGradientArgumentMatchesPyTorch() throws {
        let c = try #require(Self.cases["grad_with_argument"])
        let x = c.inputs[0].tensor.requiringGrad()
        (x.tanh() * 3).backward(gradient: c.inputs[1].tensor)
        expectMatches(try #require(x.grad), c.outputs[0], "dx")
    }
}
