import DiffusersConfig
import NN
import Torch

/// A residual block of two 3×3 convolutions with group norms, with the timestep embedding added between
/// them, as diffusers' `ResnetBlock2D` (`time_embedding_norm="default"`, pre-norm).
public final class ResnetBlock2D: Module {
    public let norm1: GroupNorm
    public let conv1: Conv2d
    public let timeEmbProj: Linear?
    public let norm2: GroupNorm
    public let conv2: Conv2d
    public let convShortcut: Conv2d?
    public let activation: Activation
    public let outputScaleFactor: Double
    let dropout: Dropout

    /// `tembChannels` nil: no timestep input (the VAE's blocks).
    public init(
        _ path: ParameterPath, inChannels: Int, outChannels: Int? = nil, tembChannels: Int?, groups: Int = 32,
        groupsOut: Int? = nil, eps: Double = 1e-6, activation: Activation = .silu, outputScaleFactor: Double = 1,
        dropout: Double = 0
    ) {
        let out = outChannels ?? inChannels
        norm1 = GroupNorm(path / "norm1", groups: groups, channels: inChannels, eps: eps)
        conv1 = Conv2d(path / "conv1", inChannels, out, kernelSize: 3, padding: 1)
        timeEmbProj = tembChannels.map { Linear(path / "time_emb_proj", $0, out) }
        norm2 = GroupNorm(path / "norm2", groups: groupsOut ?? groups, channels: out, eps: eps)
        self.dropout = Dropout(path / "dropout", p: dropout)
        conv2 = Conv2d(path / "conv2", out, out, kernelSize: 3, padding: 1)
        convShortcut = inChannels != out ? Conv2d(path / "conv_shortcut", inChannels, out, kernelSize: 1) : nil
        self.activation = activation
        self.outputScaleFactor = outputScaleFactor
    }

    public func callAsFunction(_ input: Tensor, temb: Tensor?) -> Tensor {
        var h = conv1(activation(norm1(input)))
        if let timeEmbProj, let temb {
            h = h + timeEmbProj(activation(temb)).unsqueeze(-1).unsqueeze(-1)
        }
        h = conv2(dropout(activation(norm2(h))))
        let shortcut = convShortcut.map { $0(input) } ?? input
        let sum = shortcut + h
        return outputScaleFactor == 1 ? sum : sum / outputScaleFactor
    }
}
