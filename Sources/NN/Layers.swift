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

    public func callAsFunction(_ x: Tensor) -> Tensor { F.linear(x, weight: weight, bias: bias) }
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
        F.conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding, groups: groups)
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
