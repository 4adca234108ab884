import Torch

/// Batch normalisation over the channels of NCHW, as `torch.nn.BatchNorm2d`: while the store is training it
/// normalises with the batch's statistics and updates `running_mean`, `running_var` (unbiased) and
/// `num_batches_tracked`; otherwise it normalises with the running statistics. The buffers are saved and loaded
/// with the parameters, under PyTorch's names.
public final class BatchNorm2d: Module {
    public let weight: Tensor?, bias: Tensor?
    public let runningMean: Tensor?, runningVar: Tensor?
    /// int64, as PyTorch keeps it: a state dict from torchvision has it and a strict load asks for it.
    public let numBatchesTracked: Tensor?
    public let channels: Int, eps: Double
    /// The weight of a new batch in the running statistics; nil means a cumulative average, as `momentum=None`.
    public let momentum: Double?
    let path: ParameterPath

    public init(
        _ path: ParameterPath, _ channels: Int, eps: Double = 1e-5, momentum: Double? = 0.1, affine: Bool = true,
        trackRunningStats: Bool = true
    ) {
        weight = affine ? path.parameter("weight", [channels], .ones) : nil
        bias = affine ? path.parameter("bias", [channels], .zeros) : nil
        // Running statistics in the parameters' dtype, as `module.to(dtype)` leaves them in PyTorch.
        let dtype = path.store.dtype.isFloatingPoint ? path.store.dtype : .float32
        runningMean = trackRunningStats ? path.buffer("running_mean", Tensor.zeros([channels], dtype: dtype)) : nil
        runningVar = trackRunningStats ? path.buffer("running_var", Tensor.ones([channels], dtype: dtype)) : nil
        numBatchesTracked = trackRunningStats
            ? path.buffer("num_batches_tracked", Tensor.zeros([], dtype: .int64)) : nil
        self.channels = channels
        self.eps = eps
        self.momentum = momentum
        self.path = path
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let training = path.isTraining
        var factor = momentum ?? 0
        if training, let count = numBatchesTracked {
            // `count + 1` keeps int64 (an in-place add of a double would not).
            withNoGrad { count.copyFrom(count + 1) }
            if momentum == nil { factor = 1 / Double(count.itemInt()) }
        }
        // Without running statistics a module normalises with the batch's even in eval mode, as PyTorch's does.
        let useBatchStatistics = training || runningMean == nil
        return F.batchNorm(x, runningMean: runningMean, runningVar: runningVar, weight: weight, bias: bias,
                           training: useBatchStatistics, momentum: factor, eps: eps)
    }
}
