import NN
import Torch

/// torchvision's `DenseNet` constructor arguments (`DenseNet(growth_rate=32, block_config=(6, 12, 24, 16), ...)`),
/// plus the number of input channels (torchvision's first convolution takes 3; chest X-rays have 1).
public struct DenseNetConfig: Sendable, Equatable {
    public var growthRate = 32
    public var blockConfig = [6, 12, 24, 16]
    public var numInitFeatures = 64
    public var bnSize = 4
    public var dropRate = 0.0
    public var numClasses = 1000
    public var inChannels = 3

    public init(growthRate: Int = 32, blockConfig: [Int] = [6, 12, 24, 16], numInitFeatures: Int = 64, bnSize: Int = 4,
                dropRate: Double = 0, numClasses: Int = 1000, inChannels: Int = 3) {
        self.growthRate = growthRate
        self.blockConfig = blockConfig
        self.numInitFeatures = numInitFeatures
        self.bnSize = bnSize
        self.dropRate = dropRate
        self.numClasses = numClasses
        self.inChannels = inChannels
    }

    /// `torchvision.models.densenet121(num_classes=)`.
    public static func densenet121(numClasses: Int = 1000, inChannels: Int = 3) -> DenseNetConfig {
        DenseNetConfig(numClasses: numClasses, inChannels: inChannels)
    }
}

/// torchvision's `_DenseLayer`: BN-ReLU-1×1 conv to `bn_size · growth` channels, BN-ReLU-3×3 conv to `growth`.
public final class DenseLayer: Module {
    public let norm1: BatchNorm2d, conv1: Conv2d, norm2: BatchNorm2d, conv2: Conv2d
    public let dropout: Dropout

    init(_ path: ParameterPath, inputFeatures: Int, config: DenseNetConfig, convolutions: ConvolutionList) {
        let bottleneck = config.bnSize * config.growthRate
        norm1 = BatchNorm2d(path / "norm1", inputFeatures)
        conv1 = convolutions.conv(path / "conv1", inputFeatures, bottleneck, kernelSize: 1)
        norm2 = BatchNorm2d(path / "norm2", bottleneck)
        conv2 = convolutions.conv(path / "conv2", bottleneck, config.growthRate, kernelSize: 3, padding: 1)
        dropout = Dropout(path, p: config.dropRate)
    }

    /// The new features from all the block's earlier ones (concatenated along the channels).
    public func callAsFunction(_ previous: [Tensor]) -> Tensor {
        // In-place ReLUs on the batch norms' outputs, as torchvision's `ReLU(inplace=True)`: no extra tensor per layer.
        let bottleneckOutput = conv1(norm1(Tensor.cat(previous, dim: 1)).reluInPlace())
        return dropout(conv2(norm2(bottleneckOutput).reluInPlace()))
    }
}

/// torchvision's `_DenseBlock`: `denselayer1` … `denselayerN`, each fed every earlier output.
public final class DenseBlock: Module {
    public let layers: [DenseLayer]

    init(_ path: ParameterPath, layerCount: Int, inputFeatures: Int, config: DenseNetConfig,
         convolutions: ConvolutionList) {
        layers = (0..<layerCount).map { i in
            DenseLayer(path / "denselayer\(i + 1)", inputFeatures: inputFeatures + i * config.growthRate, config: config,
                       convolutions: convolutions)
        }
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        var features = [x]
        for layer in layers { features.append(layer(features)) }
        return Tensor.cat(features, dim: 1)
    }
}

/// torchvision's `_Transition`: BN-ReLU-1×1 conv halving the channels, then 2×2 average pooling.
public final class Transition: Module {
    public let norm: BatchNorm2d, conv: Conv2d

    init(_ path: ParameterPath, inputFeatures: Int, outputFeatures: Int, convolutions: ConvolutionList) {
        norm = BatchNorm2d(path / "norm", inputFeatures)
        conv = convolutions.conv(path / "conv", inputFeatures, outputFeatures, kernelSize: 1)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { F.avgPool2d(conv(norm(x).reluInPlace()), kernelSize: 2, stride: 2) }
}

/// torchvision's `DenseNet` (Densely Connected Convolutional Networks, BC variant), with its state-dict keys:
/// `features.conv0`, `features.norm0`, `features.denseblock{i}.denselayer{j}.{norm1,conv1,norm2,conv2}`,
/// `features.transition{i}.{norm,conv}`, `features.norm5`, `classifier`. Any input size ≥ 32 pixels; logits out.
public final class DenseNet: Module {
    public let config: DenseNetConfig
    public let store: ParameterStore
    public let conv0: Conv2d, norm0: BatchNorm2d
    public let blocks: [DenseBlock]
    public let transitions: [Transition]
    public let norm5: BatchNorm2d
    public let classifier: Linear

    public init(config: DenseNetConfig, path: ParameterPath) {
        precondition(!config.blockConfig.isEmpty, "DenseNet needs at least one dense block")
        self.config = config
        store = path.store
        let convolutions = ConvolutionList(), features = path / "features"
        conv0 = convolutions.conv(features / "conv0", config.inChannels, config.numInitFeatures, kernelSize: 7,
                                  stride: 2, padding: 3)
        norm0 = BatchNorm2d(features / "norm0", config.numInitFeatures)
        var channels = config.numInitFeatures
        var blocks: [DenseBlock] = [], transitions: [Transition] = []
        for (i, layerCount) in config.blockConfig.enumerated() {
            blocks.append(DenseBlock(features / "denseblock\(i + 1)", layerCount: layerCount, inputFeatures: channels,
                                     config: config, convolutions: convolutions))
            channels += layerCount * config.growthRate
            if i != config.blockConfig.count - 1 {
                transitions.append(Transition(features / "transition\(i + 1)", inputFeatures: channels,
                                              outputFeatures: channels / 2, convolutions: convolutions))
                channels /= 2
            }
        }
        self.blocks = blocks
        self.transitions = transitions
        norm5 = BatchNorm2d(features / "norm5", channels)
        classifier = Linear(path / "classifier", channels, config.numClasses)
        // torchvision's "official init": kaiming_normal_ (fan_in) on convolutions, constants on batch norms (their
        // defaults already), a zero bias for the classifier.
        convolutions.kaimingNormal(mode: .fanIn, store: store)
        if !store.skipsInitialization { withNoGrad { classifier.bias?.zeroInPlace() } }
    }

    public convenience init(config: DenseNetConfig, seed: UInt64 = 0, dtype: DType = .float32, device: Device = .cpu) {
        self.init(config: config, path: ParameterStore(dtype: dtype, device: device, seed: seed).root)
    }

    /// `model.features(x)`: the last feature map, before the final ReLU.
    public func features(_ x: Tensor) -> Tensor {
        var h = F.maxPool2d(norm0(conv0(x.to(store.dtype))).reluInPlace(), kernelSize: 3, stride: 2, padding: 1)
        for (i, block) in blocks.enumerated() {
            h = block(h)
            if i < transitions.count { h = transitions[i](h) }
        }
        return norm5(h)
    }

    /// Images [N, C, H, W] → logits [N, classes].
    public func callAsFunction(_ x: Tensor) -> Tensor { classifier(embedding(x)) }

    /// Images [N, C, H, W] → the pooled features [N, 1024] the final layer reads.
    public func embedding(_ x: Tensor) -> Tensor {
        F.adaptiveAvgPool2d(features(x).reluInPlace(), outputSize: (1, 1)).flatten(start: 1)
    }
}
