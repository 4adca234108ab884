import NN
import Torch

/// torchvision's initialisation, draw for draw. A torchvision model first initialises every layer as PyTorch's
/// defaults do while it is built (each `Conv2d` and `Linear` draws its uniform weights), then walks
/// `self.modules()` and redraws each convolution's weight with `kaiming_normal_`. Prism's `Conv2d` and `Linear`
/// draw the same defaults from the store's generator when they are built, so building the layers in torchvision's
/// order and then redrawing the convolutions in `modules()` order consumes the generator exactly as
/// `torch.manual_seed(seed); torchvision.models.resnet18()` does: the same seed gives the same weights.
///
/// Only the number of draws of the first pass matters (the convolutions' values are redrawn), and it depends on
/// the tensors' sizes alone, so the layers may register in state-dict order even where torchvision builds a block's
/// `downsample` before the block.
final class ConvolutionList {
    private(set) var convolutions: [Conv2d] = []

    /// A bias-free convolution, as every one of torchvision's DenseNet and ResNet convolutions.
    func conv(_ path: ParameterPath, _ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1,
              padding: Int = 0) -> Conv2d {
        let conv = Conv2d(path, inChannels, outChannels, kernelSize: kernelSize, stride: stride, padding: padding,
                          bias: false)
        convolutions.append(conv)
        return conv
    }

    /// `nn.init.kaiming_normal_(weight, mode=mode, nonlinearity="relu")` on every convolution, in the order they were
    /// made (torchvision's `modules()` order); `nonlinearity` "leaky_relu" with a = 0, DenseNet's default, has
    /// the same gain √2.
    func kaimingNormal(mode: FanMode, store: ParameterStore) {
        guard !store.skipsInitialization else { return }
        withNoGrad {
            for conv in convolutions {
                let s = conv.weight.shape
                let receptive = s[2] * s[3]
                let fan = mode == .fanIn ? s[1] * receptive : s[0] * receptive
                // gain / math.sqrt(fan) with gain = math.sqrt(2.0), as torch.nn.init computes it.
                conv.weight.normalInPlace(std: 2.0.squareRoot() / Double(fan).squareRoot(), generator: store.generator)
            }
        }
    }

    enum FanMode { case fanIn, fanOut }
}
