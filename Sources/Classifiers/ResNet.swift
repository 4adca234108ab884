import NN
import Torch

/// torchvision's `ResNet(block, layers, num_classes=)` arguments, plus the number of input channels.
public struct ResNetConfig: Sendable, Equatable {
    /// torchvision's `BasicBlock` (two 3×3 convolutions, expansion 1) or `Bottleneck` (1×1, 3×3 with the stride,
    /// 1×1 to 4× the width: ResNet v1.5).
    public enum Block: String, Sendable { case basic, bottleneck }

    public var block: Block
    public var layers: [Int]
    public var numClasses = 1000
    public var inChannels = 3

    public init(block: Block, layers: [Int], numClasses: Int = 1000, inChannels: Int = 3) {
        self.block = block
        self.layers = layers
        self.numClasses = numClasses
        self.inChannels = inChannels
    }

    /// `torchvision.models.resnet18(num_classes=)`.
    public static func resnet18(numClasses: Int = 1000, inChannels: Int = 3) -> ResNetConfig {
        ResNetConfig(block: .basic, layers: [2, 2, 2, 2], numClasses: numClasses, inChannels: inChannels)
    }

    /// `torchvision.models.resnet50(num_classes=)`.
    public static func resnet50(numClasses: Int = 1000, inChannels: Int = 3) -> ResNetConfig {
        ResNetConfig(block: .bottleneck, layers: [3, 4, 6, 3], numClasses: numClasses, inChannels: inChannels)
    }

    var expansion: Int { block == .basic ? 1 : 4 }
}

/// A residual block's shortcut when the shape changes: `downsample.0` (1×1 conv with the stride), `downsample.1`
/// (batch norm).
public final class Downsample: Module {
    public let conv: Conv2d, norm: BatchNorm2d

    init(_ path: ParameterPath, _ inChannels: Int, _ outChannels: Int, stride: Int, convolutions: ConvolutionList) {
        conv = convolutions.conv(path / 0, inChannels, outChannels, kernelSize: 1, stride: stride)
        norm = BatchNorm2d(path / 1, outChannels)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { norm(conv(x)) }
}

/// torchvision's `BasicBlock` and `Bottleneck` in one type: `conv1`/`bn1`, `conv2`/`bn2`, (`conv3`/`bn3`) and
/// the optional `downsample`, under torchvision's names.
public final class ResidualBlock: Module {
    public let convs: [Conv2d]
    public let norms: [BatchNorm2d]
    public let downsample: Downsample?

    init(_ path: ParameterPath, block: ResNetConfig.Block, inChannels: Int, planes: Int, stride: Int,
         convolutions: ConvolutionList) {
        let expansion = block == .basic ? 1 : 4
        // (in, out, kernel, stride) of each convolution; the stride sits on the 3×3 one.
        let shapes: [(Int, Int, Int, Int)] = block == .basic
            ? [(inChannels, planes, 3, stride), (planes, planes, 3, 1)]
            : [(inChannels, planes, 1, 1), (planes, planes, 3, stride), (planes, planes * expansion, 1, 1)]
        var convs: [Conv2d] = [], norms: [BatchNorm2d] = []
        for (i, (cin, cout, kernel, s)) in shapes.enumerated() {
            convs.append(convolutions.conv(path / "conv\(i + 1)", cin, cout, kernelSize: kernel, stride: s,
                                           padding: kernel / 2))
            norms.append(BatchNorm2d(path / "bn\(i + 1)", cout))
        }
        self.convs = convs
        self.norms = norms
        downsample = stride != 1 || inChannels != planes * expansion
            ? Downsample(path / "downsample", inChannels, planes * expansion, stride: stride, convolutions: convolutions)
            : nil
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        var out = x
        for (i, (conv, norm)) in zip(convs, norms).enumerated() {
            out = norm(conv(out))
            // In place, as torchvision's `ReLU(inplace=True)`: the batch norm's output and the sum are ours to overwrite.
            if i < convs.count - 1 { out.reluInPlace() }
        }
        return (out + (downsample?(x) ?? x)).reluInPlace()
    }
}

/// torchvision's `ResNet`, with its state-dict keys: `conv1`, `bn1`, `layer{1-4}.{i}.{conv,bn}{1-3}`,
/// `layer{1-4}.{i}.downsample.{0,1}`, `fc`. Any input size ≥ 32 pixels; logits out.
public final class ResNet: Module {
    public let config: ResNetConfig
    public let store: ParameterStore
    public let conv1: Conv2d, bn1: BatchNorm2d
    /// `layer1` … `layer4`.
    public let stages: [[ResidualBlock]]
    public let fc: Linear

    public init(config: ResNetConfig, path: ParameterPath) {
        precondition(config.layers.count == 4, "torchvision's ResNet has four stages (layers has \(config.layers.count) counts)")
        self.config = config
        store = path.store
        let convolutions = ConvolutionList()
        conv1 = convolutions.conv(path / "conv1", config.inChannels, 64, kernelSize: 7, stride: 2, padding: 3)
        bn1 = BatchNorm2d(path / "bn1", 64)
        var channels = 64
        stages = zip([64, 128, 256, 512], config.layers).enumerated().map { stage, item in
            let (planes, count) = item
            return (0..<count).map { i in
                defer { channels = planes * config.expansion }
                return ResidualBlock(path / "layer\(stage + 1)" / i, block: config.block, inChannels: channels,
                                     planes: planes, stride: i == 0 && stage > 0 ? 2 : 1, convolutions: convolutions)
            }
        }
        fc = Linear(path / "fc", 512 * config.expansion, config.numClasses)
        // torchvision: kaiming_normal_(mode="fan_out", nonlinearity="relu") on convolutions, constants on batch norms
        // (their defaults already); the fc layer keeps PyTorch's default.
        convolutions.kaimingNormal(mode: .fanOut, store: store)
    }

    public convenience init(config: ResNetConfig, seed: UInt64 = 0, dtype: DType = .float32, device: Device = .cpu) {
        self.init(config: config, path: ParameterStore(dtype: dtype, device: device, seed: seed).root)
    }

    /// Images [N, C, H, W] → logits [N, classes].
    public func callAsFunction(_ x: Tensor) -> Tensor { fc(embedding(x)) }

    /// Images [N, C, H, W] → the pooled features [N, 512 · expansion] the final layer reads.
    public func embedding(_ x: Tensor) -> Tensor {
        var h = F.maxPool2d(bn1(conv1(x.to(store.dtype))).reluInPlace(), kernelSize: 3, stride: 2, padding: 1)
        for block in stages.joined() { h = block(h) }
        return F.adaptiveAvgPool2d(h, outputSize: (1, 1)).flatten(start: 1)
    }
}
