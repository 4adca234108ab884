import Foundation
import Torch

/// A network part whose parameters live in a ``ParameterStore`` under diffusers' names.
public protocol Module: AnyObject {}

/// y = x Wᵀ + b, as `torch.nn.Linear` (weight: out × in).
public final class Linear: Module {
    public let weight: Tensor
    public let bias: Tensor?

    public init(_ path: ParameterPath, _ inFeatures: Int, _ outFeatures: Int, bias: Bool = true) {
        let bound = 1 / Double(inFeatures).squareRoot()
        weight = path.parameter("weight", [outFeatures, inFeatures], .uniform(bound: bound))
        self.bias = bias ? path.parameter("bias", [outFeatures], .uniform(bound: bound)) : nil
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        if let packed = prepackedWeight(for: x) { return F.linearPrepacked(x, packedWeight: packed, bias: bias) }
        return F.linear(x, weight: weight, bias: bias)
    }

    private let packed = PrepackedWeights()

    /// The weight in oneDNN's packed layout where CPU inference can use it (see ``Prepacking``); one layout
    /// serves every input shape.
    func prepackedWeight(for x: Tensor) -> Tensor? {
        guard x.rank >= 2, Prepacking.applies(to: x, weight: weight) else { return nil }
        return packed.value(for: PrepackedWeights.Key(shape: [], weight: weight)) { F.linearPrepack(weight: weight) }
    }
}

/// 2-D convolution over NCHW, as `torch.nn.Conv2d` (weight: out × in/groups × k × k).
public final class Conv2d: Module {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int, padding: Int, groups: Int

    public init(
        _ path: ParameterPath, _ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1,
        padding: Int = 0, groups: Int = 1, bias: Bool = true
    ) {
        let fanIn = inChannels / groups * kernelSize * kernelSize
        let bound = 1 / Double(fanIn).squareRoot()
        weight = path.parameter("weight", [outChannels, inChannels / groups, kernelSize, kernelSize], .uniform(bound: bound))
        self.bias = bias ? path.parameter("bias", [outChannels], .uniform(bound: bound)) : nil
        self.stride = stride
        self.padding = padding
        self.groups = groups
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        if let packed = prepackedWeight(for: x) {
            return F.conv2dPrepacked(x, packedWeight: packed, bias: bias, stride: (stride, stride),
                                     padding: (padding, padding), groups: groups)
        }
        return F.conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding, groups: groups)
    }

    private let packed = PrepackedWeights()

    /// The weight in oneDNN's blocked layout for `x`'s shape where CPU inference can use it (see ``Prepacking``),
    /// for layers of ≥ 16 channels each way (thinner ones run slower packed).
    func prepackedWeight(for x: Tensor) -> Tensor? {
        guard groups == 1, x.rank == 4, weight.size(0) >= 16, weight.size(1) >= 16,
              Prepacking.applies(to: x, weight: weight) else { return nil }
        // oneDNN picks the blocked layout for the input's shape: a 1×1 layer packed for 4×4 inputs runs 100×
        // slower on 16×16 ones.
        return packed.value(for: PrepackedWeights.Key(shape: x.shape, weight: weight)) {
            F.conv2dPrepack(weight: weight, inputShape: x.shape, stride: (stride, stride),
                            padding: (padding, padding), groups: groups)
        }
    }
}

/// CPU inference runs `Linear` and `Conv2d` on weights prepacked in oneDNN's layouts, as torch.compile's CPU
/// backend does for frozen weights. libtorch's plain convolution reorders the weight on every call, which costs
/// as much as the convolution itself for the UNet's 1280-channel layers at 8×8 or 4×4, and its linear layers go
/// through MKL's sgemm, which runs a generic kernel on AMD CPUs: with both prepacked an SD 1.5 UNet forward at
/// 32×32 latents ran 1.2× (fp32) and 1.4× (bf16) faster than diffusers' on a 2-core EPYC (docs/benchmarks.md).
/// `PRISM_PREPACK=0` turns it off.
///
/// The price is memory: each packed weight is a second copy (an SD 1.5 UNet in fp32 holds 3.4 GB of weights and
/// 3.4 GB of packed copies). Training runs its samples with ``Prepacking/withoutPrepacking(_:)``: its weights
/// change every step, so packed copies would be made again for each sample and kept between samples.
public enum Prepacking {
    public static let isEnabled = ProcessInfo.processInfo.environment["PRISM_PREPACK"] != "0" && Torch.hasMKLDNN

    @TaskLocal static var isSuspended = false

    /// Runs `body` on libtorch's plain ops only.
    public static func withoutPrepacking<R>(_ body: () throws -> R) rethrows -> R {
        try $isSuspended.withValue(true) { try body() }
    }

    /// Whether a packed weight may replace `weight` for input `x`: not while gradients are recorded (the packed
    /// ops have no backward) or autocast is on (it would cast), and only for CPU float32 or bfloat16 tensors of
    /// one dtype (bfloat16 where this CPU's oneDNN packs it).
    static func applies(to x: Tensor, weight: Tensor) -> Bool {
        guard isEnabled, !isSuspended, !Torch.isGradEnabled, !Torch.isAutocastEnabled() else { return false }
        let dtype = x.dtype
        return (dtype == .float32 || (dtype == .bfloat16 && supportsBFloat16)) && weight.dtype == dtype
            && x.device == .cpu && weight.device == .cpu
    }

    /// Whether oneDNN packs and runs bfloat16 convolution and linear weights on this CPU. It needs AVX-512 (BW, VL,
    /// DQ) or AVX-NE-CONVERT and refuses otherwise (an AVX2-only EPYC, for one); bfloat16 layers then take
    /// libtorch's plain path. Found by asking it once, on two small layers.
    public static let supportsBFloat16: Bool = {
        guard Torch.hasMKLDNN else { return false }
        let works = try? Torch.catching {
            withNoGrad {
                let x = Tensor.zeros([1, 16, 8, 8], dtype: .bfloat16), w = Tensor.zeros([16, 16, 3, 3], dtype: .bfloat16)
                let conv = F.conv2dPrepack(weight: w, inputShape: x.shape, stride: (1, 1), padding: (1, 1))
                guard conv.isDefined else { return false }
                let y = F.conv2dPrepacked(x, packedWeight: conv, bias: nil, stride: (1, 1), padding: (1, 1))
                let linear = F.linearPrepack(weight: Tensor.zeros([16, 16], dtype: .bfloat16))
                guard y.isDefined, linear.isDefined else { return false }
                return F.linearPrepacked(Tensor.zeros([2, 16], dtype: .bfloat16), packedWeight: linear, bias: nil).isDefined
            }
        }
        return works == true
    }()
}

/// A layer's prepacked weight for its most recent input shape. One copy bounds the memory at twice the weights;
/// a new shape (an edit's one-image inversion, then its batched denoising loop) costs one repack, about one plain
/// call of the layer.
final class PrepackedWeights: @unchecked Sendable {
    /// Which weight a packed copy was made from: the weight may change in place (training, loading; libtorch's
    /// version counter) or be given new data (a dtype or device move; its address).
    struct Version: Equatable {
        var dtype: Int32
        var counter: Int
        var address: UInt
    }

    struct Key: Equatable {
        var shape: [Int]
        var version: Version

        init(shape: [Int], weight: Tensor) {
            self.shape = shape
            version = Version(dtype: weight.dtype.rawValue, counter: weight.versionCounter, address: weight.dataAddress)
        }
    }

    private let lock = NSLock()
    private var entry: (key: Key, weight: Tensor)?

    func value(for key: Key, make: () -> Tensor) -> Tensor {
        lock.lock()
        defer { lock.unlock() }
        if let entry, entry.key == key { return entry.weight }
        entry = nil  // released before the new copy is made
        let weight = make()
        entry = (key, weight)
        return weight
    }
}

/// Group normalisation over NCHW, as `torch.nn.GroupNorm`.
public final class GroupNorm: Module {
    public let weight: Tensor?, bias: Tensor?
    public let groups: Int, eps: Double

    public init(_ path: ParameterPath, groups: Int, channels: Int, eps: Double = 1e-5, affine: Bool = true) {
        weight = affine ? path.parameter("weight", [channels], .ones) : nil
        bias = affine ? path.parameter("bias", [channels], .zeros) : nil
        self.groups = groups
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { F.groupNorm(x, groups: groups, weight: weight, bias: bias, eps: eps) }
}

/// Layer normalisation over the last dimension, as `torch.nn.LayerNorm`.
public final class LayerNorm: Module {
    public let weight: Tensor?, bias: Tensor?
    public let size: Int, eps: Double

    public init(_ path: ParameterPath, _ size: Int, eps: Double = 1e-5, affine: Bool = true, bias: Bool = true) {
        weight = affine ? path.parameter("weight", [size], .ones) : nil
        self.bias = affine && bias ? path.parameter("bias", [size], .zeros) : nil
        self.size = size
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        F.layerNorm(x, normalizedShape: [size], weight: weight, bias: bias, eps: eps)
    }
}

/// A lookup table, as `torch.nn.Embedding` (initialised N(0, 1)).
public final class Embedding: Module {
    public let weight: Tensor

    public init(_ path: ParameterPath, count: Int, dimension: Int) {
        weight = path.parameter("weight", [count, dimension], .normal(std: 1))
    }

    public func callAsFunction(_ indices: Tensor) -> Tensor { F.embedding(indices, weight: weight) }
}

/// Zeroes elements with probability p while the store is training, scaling the rest by 1/(1-p).
public final class Dropout: Module {
    public let p: Double
    let path: ParameterPath

    public init(_ path: ParameterPath, p: Double) {
        self.p = p
        self.path = path
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { F.dropout(x, p: p, training: path.isTraining) }
}
