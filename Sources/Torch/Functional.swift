import CTorch

/// Neural-network functions under their `torch.nn.functional` names.
public enum F {
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) -> Tensor {
        Tensor.make("linear", [x, weight]) { pt_linear(x.handle, weight.handle, bias.handle, $0) }
    }

    public static func conv2d(
        _ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0, dilation: Int = 1,
        groups: Int = 1
    ) -> Tensor {
        conv2d(x, weight: weight, bias: bias, stride: (stride, stride), padding: (padding, padding),
               dilation: (dilation, dilation), groups: groups)
    }

    public static func conv2d(
        _ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: (Int, Int), padding: (Int, Int),
        dilation: (Int, Int) = (1, 1), groups: Int = 1
    ) -> Tensor {
        let s = [Int64(stride.0), Int64(stride.1)], p = [Int64(padding.0), Int64(padding.1)]
        let d = [Int64(dilation.0), Int64(dilation.1)]
        return Tensor.make("conv2d", [x, weight]) { pt_conv2d(x.handle, weight.handle, bias.handle, s, p, d, Int64(groups), $0) }
    }

    /// oneDNN's blocked layout of a convolution weight for inputs shaped like `inputShape` (NCHW); pass it to
    /// ``conv2dPrepacked(_:packedWeight:bias:stride:padding:dilation:groups:)``. CPU only.
    public static func conv2dPrepack(
        weight: Tensor, inputShape: [Int], stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int) = (1, 1),
        groups: Int = 1
    ) -> Tensor {
        precondition(inputShape.count == 4, "conv2dPrepack: the input shape must be NCHW")
        let s = [Int64(stride.0), Int64(stride.1)], p = [Int64(padding.0), Int64(padding.1)]
        let d = [Int64(dilation.0), Int64(dilation.1)], size = inputShape.map(Int64.init)
        return Tensor.make("mkldnn::_reorder_convolution_weight", [weight]) {
            pt_mkldnn_conv2d_prepack(weight.handle, s, p, d, Int64(groups), size, $0)
        }
    }

    /// A convolution with a weight from ``conv2dPrepack(weight:inputShape:stride:padding:dilation:groups:)``; no
    /// autograd.
    public static func conv2dPrepacked(
        _ x: Tensor, packedWeight: Tensor, bias: Tensor?, stride: (Int, Int), padding: (Int, Int),
        dilation: (Int, Int) = (1, 1), groups: Int = 1
    ) -> Tensor {
        let s = [Int64(stride.0), Int64(stride.1)], p = [Int64(padding.0), Int64(padding.1)]
        let d = [Int64(dilation.0), Int64(dilation.1)]
        return Tensor.make("mkldnn::_convolution_pointwise", [x, packedWeight]) {
            pt_mkldnn_conv2d_prepacked(x.handle, packedWeight.handle, bias.handle, s, p, d, Int64(groups), $0)
        }
    }

    /// oneDNN's packed layout of a linear weight (out × in); pass it to
    /// ``linearPrepacked(_:packedWeight:bias:)``. CPU only.
    public static func linearPrepack(weight: Tensor) -> Tensor {
        Tensor.make("mkldnn::_reorder_linear_weight", [weight]) { pt_mkldnn_linear_prepack(weight.handle, $0) }
    }

    /// A linear layer with a weight from ``linearPrepack(weight:)``; no autograd.
    public static func linearPrepacked(_ x: Tensor, packedWeight: Tensor, bias: Tensor?) -> Tensor {
        Tensor.make("mkldnn::_linear_pointwise", [x, packedWeight]) {
            pt_mkldnn_linear_prepacked(x.handle, packedWeight.handle, bias.handle, $0)
        }
    }

    public static func convTranspose2d(
        _ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0, outputPadding: Int = 0,
        groups: Int = 1, dilation: Int = 1
    ) -> Tensor {
        let s = [Int64(stride), Int64(stride)], p = [Int64(padding), Int64(padding)]
        let op = [Int64(outputPadding), Int64(outputPadding)], d = [Int64(dilation), Int64(dilation)]
        return Tensor.make("conv_transpose2d", [x, weight]) {
            pt_conv_transpose2d(x.handle, weight.handle, bias.handle, s, p, op, Int64(groups), d, $0)
        }
    }

    public static func groupNorm(_ x: Tensor, groups: Int, weight: Tensor? = nil, bias: Tensor? = nil, eps: Double = 1e-5) -> Tensor {
        Tensor.make("group_norm", [x]) { pt_group_norm(x.handle, Int64(groups), weight.handle, bias.handle, eps, $0) }
    }

    public static func layerNorm(
        _ x: Tensor, normalizedShape: [Int], weight: Tensor? = nil, bias: Tensor? = nil, eps: Double = 1e-5
    ) -> Tensor {
        Tensor.make("layer_norm", [x]) { out in
            withInt64s(normalizedShape) { pt_layer_norm(x.handle, $0, $1, weight.handle, bias.handle, eps, out) }
        }
    }

    /// Batch normalisation over dimension 1, as `torch.nn.functional.batch_norm`. In training the batch's statistics
    /// normalise and `runningMean`/`runningVar`, when given, are updated in place with `momentum` (the variance
    /// unbiased); otherwise the running statistics normalise.
    public static func batchNorm(
        _ x: Tensor, runningMean: Tensor?, runningVar: Tensor?, weight: Tensor? = nil, bias: Tensor? = nil,
        training: Bool = false, momentum: Double = 0.1, eps: Double = 1e-5
    ) -> Tensor {
        Tensor.make("batch_norm", [x]) {
            pt_batch_norm(x.handle, weight.handle, bias.handle, runningMean.handle, runningVar.handle, training, momentum,
                          eps, $0)
        }
    }

    public static func embedding(_ indices: Tensor, weight: Tensor) -> Tensor {
        Tensor.make("embedding", [weight, indices]) { pt_embedding(weight.handle, indices.handle, $0) }
    }

    /// softmax(q kᵀ · scale + mask) v over the last two dimensions; `scale` defaults to 1/sqrt(head dim).
    /// A bool mask keeps positions where it is true; a float mask is added to the scores.
    public static func scaledDotProductAttention(
        query: Tensor, key: Tensor, value: Tensor, mask: Tensor? = nil, dropout: Double = 0,
        isCausal: Bool = false, scale: Double? = nil
    ) -> Tensor {
        Tensor.make("scaled_dot_product_attention", [query, key, value]) {
            pt_scaled_dot_product_attention(query.handle, key.handle, value.handle, mask.handle, dropout, isCausal,
                                            scale != nil, scale ?? 0, $0)
        }
    }

    public enum InterpolationMode: Int32, Sendable { case nearest = 0, bilinear, bicubic, nearestExact, area }

    /// Resizes the last two dimensions of an NCHW tensor to `size` (height, width).
    public static func interpolate(
        _ x: Tensor, size: (Int, Int), mode: InterpolationMode = .nearest, alignCorners: Bool = false
    ) -> Tensor {
        Tensor.make("interpolate", [x]) {
            pt_interpolate(x.handle, Int64(size.0), Int64(size.1), mode.rawValue, alignCorners, -1, -1, $0)
        }
    }

    /// Resizes by a scale factor, passing the factor to the kernel as `F.interpolate(scale_factor=)` does.
    public static func interpolate(
        _ x: Tensor, scaleFactor: Double, mode: InterpolationMode = .nearest, alignCorners: Bool = false
    ) -> Tensor {
        let s = x.shape
        let h = Int((Double(s[s.count - 2]) * scaleFactor).rounded(.down))
        let w = Int((Double(s[s.count - 1]) * scaleFactor).rounded(.down))
        return Tensor.make("interpolate", [x]) {
            pt_interpolate(x.handle, Int64(h), Int64(w), mode.rawValue, alignCorners, scaleFactor, scaleFactor, $0)
        }
    }

    public static func avgPool2d(
        _ x: Tensor, kernelSize: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false,
        countIncludePad: Bool = true
    ) -> Tensor {
        let k = [Int64(kernelSize), Int64(kernelSize)], st = [Int64(stride ?? kernelSize), Int64(stride ?? kernelSize)]
        let p = [Int64(padding), Int64(padding)]
        return Tensor.make("avg_pool2d", [x]) { pt_avg_pool2d(x.handle, k, st, p, ceilMode, countIncludePad, $0) }
    }

    public static func maxPool2d(
        _ x: Tensor, kernelSize: Int, stride: Int? = nil, padding: Int = 0, dilation: Int = 1, ceilMode: Bool = false
    ) -> Tensor {
        let k = [Int64(kernelSize), Int64(kernelSize)], st = [Int64(stride ?? kernelSize), Int64(stride ?? kernelSize)]
        let p = [Int64(padding), Int64(padding)], d = [Int64(dilation), Int64(dilation)]
        return Tensor.make("max_pool2d", [x]) { pt_max_pool2d(x.handle, k, st, p, d, ceilMode, $0) }
    }

    public static func adaptiveAvgPool2d(_ x: Tensor, outputSize: (Int, Int)) -> Tensor {
        Tensor.make("adaptive_avg_pool2d", [x]) { pt_adaptive_avg_pool2d(x.handle, Int64(outputSize.0), Int64(outputSize.1), $0) }
    }

    public static func dropout(_ x: Tensor, p: Double, training: Bool) -> Tensor {
        if !training || p == 0 { return x }
        return Tensor.make("dropout", [x]) { pt_dropout(x.handle, p, training, $0) }
    }

    public enum Reduction: Int32, Sendable { case none = 0, mean, sum }

    public static func mseLoss(_ input: Tensor, _ target: Tensor, reduction: Reduction = .mean) -> Tensor {
        Tensor.make("mse_loss", [input, target]) { pt_mse_loss(input.handle, target.handle, reduction.rawValue, $0) }
    }
    public static func l1Loss(_ input: Tensor, _ target: Tensor, reduction: Reduction = .mean) -> Tensor {
        Tensor.make("l1_loss", [input, target]) { pt_l1_loss(input.handle, target.handle, reduction.rawValue, $0) }
    }
    /// Cross-entropy of logits (N, C) against class indices (N) (int64) or class probabilities (N, C).
    public static func crossEntropy(
        _ logits: Tensor, _ target: Tensor, weight: Tensor? = nil, reduction: Reduction = .mean, labelSmoothing: Double = 0
    ) -> Tensor {
        Tensor.make("cross_entropy", [logits, target]) {
            pt_cross_entropy(logits.handle, target.handle, weight.handle, reduction.rawValue, labelSmoothing, $0)
        }
    }
    public static func binaryCrossEntropyWithLogits(
        _ logits: Tensor, _ target: Tensor, weight: Tensor? = nil, posWeight: Tensor? = nil, reduction: Reduction = .mean
    ) -> Tensor {
        Tensor.make("binary_cross_entropy_with_logits", [logits, target]) {
            pt_bce_with_logits(logits.handle, target.handle, weight.handle, posWeight.handle, reduction.rawValue, $0)
        }
    }
}
