import DiffusersConfig
import Foundation
import NN
import Torch

/// Sinusoidal timestep features, as diffusers' `Timesteps` (`get_timestep_embedding`): for
/// `half = channels / 2` frequencies `exp(-ln(10000) · i / (half − freqShift))`, the features are
/// `[sin(t·f), cos(t·f)]`, or `[cos, sin]` with `flipSinToCos`. Always float32, as in diffusers.
public struct Timesteps: Sendable {
    public let channels: Int
    public let flipSinToCos: Bool
    public let downscaleFreqShift: Double
    public let scale: Double
    public let maxPeriod: Double

    public init(channels: Int, flipSinToCos: Bool, downscaleFreqShift: Double, scale: Double = 1,
                maxPeriod: Double = 10000) {
        self.channels = channels
        self.flipSinToCos = flipSinToCos
        self.downscaleFreqShift = downscaleFreqShift
        self.scale = scale
        self.maxPeriod = maxPeriod
    }

    /// `timesteps`: one value per batch element (any numeric dtype). Returns [N, channels] float32.
    public func callAsFunction(_ timesteps: Tensor) -> Tensor {
        precondition(timesteps.rank == 1, "Timesteps: expected a 1-D tensor of timesteps, got \(timesteps.shape)")
        let half = channels / 2
        // Same op order as diffusers, so float32 rounding matches.
        var exponent = Tensor.arange(0, Double(half), dtype: .float32, device: timesteps.device) * (-Foundation.log(maxPeriod))
        exponent = exponent / (Double(half) - downscaleFreqShift)
        var emb = timesteps.to(.float32).unsqueeze(1) * exponent.exp().unsqueeze(0)
        if scale != 1 { emb = emb * scale }
        emb = flipSinToCos ? Tensor.cat([emb.cos(), emb.sin()], dim: -1) : Tensor.cat([emb.sin(), emb.cos()], dim: -1)
        if channels % 2 == 1 { emb = emb.pad([0, 1, 0, 0]) }
        return emb
    }
}

/// Two linear layers with an activation between, as diffusers' `TimestepEmbedding`
/// (`linear_1`, `act`, `linear_2`, optional `post_act`).
public final class TimestepEmbedding: Module {
    public let linear1: Linear
    public let linear2: Linear
    public let activation: Activation
    public let postActivation: Activation?

    public init(_ path: ParameterPath, inChannels: Int, timeEmbedDim: Int, activation: Activation = .silu,
                outDim: Int? = nil, postActivation: Activation? = nil) {
        linear1 = Linear(path / "linear_1", inChannels, timeEmbedDim)
        linear2 = Linear(path / "linear_2", timeEmbedDim, outDim ?? timeEmbedDim)
        self.activation = activation
        self.postActivation = postActivation
    }

    public func callAsFunction(_ sample: Tensor) -> Tensor {
        let h = linear2(activation(linear1(sample)))
        return postActivation.map { $0(h) } ?? h
    }
}
