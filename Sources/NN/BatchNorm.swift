import Tensor

/// Batch normalisation over channel axis 1 (Ioffe & Szegedy 2015), shared by `BatchNorm1d` and
/// `BatchNorm2d`, with PyTorch's keys, initialisation and running-statistics update:
///
///     y = (x − μ_c) / √(σ²_c + ε) · weight_c + bias_c
///
/// In training mode μ and σ² are the batch's (mean and biased variance over every axis but 1),
/// and the buffers are updated:
///
///     running_mean ← (1 − m)·running_mean + m·μ
///     running_var  ← (1 − m)·running_var  + m·σ²·n/(n − 1)     (unbiased; n values per channel)
///     num_batches_tracked ← num_batches_tracked + 1
///
/// with `m = momentum`, or `m = 1/num_batches_tracked` (a cumulative average) when `momentum` is
/// nil. In evaluation mode the running statistics are used and nothing changes.
///
/// Keys: `weight` [C] (ones), `bias` [C] (zeros), absent when not `affine`; buffers
/// `running_mean` [C] (zeros), `running_var` [C] (ones), `num_batches_tracked` (an `int64`
/// scalar, 0). PyTorch's `track_running_stats=False` is not supported.
///
/// A checkpoint may lack `num_batches_tracked` (torchvision's and timm's ImageNet ResNet files
/// are saved without it, and PyTorch's loader accepts them): it then loads as 0 (`default:` on
/// the buffer). The running statistics are required.
open class BatchNorm: Module {
    @OptionalParameter public var weight: Tensor?
    @OptionalParameter public var bias: Tensor?
    @Buffer public var runningMean: Tensor
    @Buffer public var runningVar: Tensor
    /// The number of training batches seen, `int64` (PyTorch's `num_batches_tracked`); 0 when a
    /// checkpoint without it is loaded.
    @Buffer public var batchesTracked: Tensor
    /// Added to the variance.
    public let epsilon: Float
    /// The batch statistics' weight in the running update; nil for a cumulative average.
    public let momentum: Float?

    /// The number of channels `C`.
    public var featureCount: Int { runningMean.shape[0] }

    /// PyTorch's defaults: `weight = 1`, `bias = 0`, `running_mean = 0`, `running_var = 1`,
    /// `num_batches_tracked = 0`.
    /// - Parameters:
    ///   - featureCount: the channel count `C` (axis 1 of the input).
    ///   - epsilon: added to the variance (PyTorch's 1e-5).
    ///   - momentum: the running update's factor (PyTorch's 0.1); nil for a cumulative average.
    ///   - affine: whether to learn `weight` and `bias`.
    public init(_ featureCount: Int, epsilon: Float = 1e-5, momentum: Float? = 0.1, affine: Bool = true) {
        precondition(featureCount > 0, "BatchNorm: feature count must be positive, got \(featureCount)")
        if let momentum { precondition(momentum >= 0 && momentum <= 1, "BatchNorm: momentum must lie in [0, 1], got \(momentum)") }
        weight = affine ? Tensor.ones([featureCount]) : nil
        bias = affine ? Tensor.zeros([featureCount]) : nil
        _runningMean = Buffer(wrappedValue: Tensor.zeros([featureCount]), key: "running_mean")
        _runningVar = Buffer(wrappedValue: Tensor.ones([featureCount]), key: "running_var")
        _batchesTracked = Buffer(wrappedValue: Tensor(indices: [0], shape: []), key: "num_batches_tracked",
                                 default: Tensor(indices: [0], shape: []))
        self.epsilon = epsilon
        self.momentum = momentum
        super.init()
    }

    /// Normalises `x` [N, C, …] as described above; subclasses check the rank.
    func normalize(_ x: Tensor) -> Tensor {
        precondition(x.rank >= 2 && x.shape[1] == featureCount,
                     "\(type(of: self)): input \(x.shape) must have \(featureCount) channels on axis 1")
        var factor = momentum ?? 0
        if isTraining {
            let count = batchesTracked.indexScalars[0] + 1
            batchesTracked = Tensor(indices: [count], shape: [])
            if momentum == nil { factor = 1 / Float(count) }
        }
        let r = Tensor.batchNorm(x, weight: weight, bias: bias, runningMean: runningMean, runningVar: runningVar,
                                 training: isTraining, momentum: factor, epsilon: epsilon)
        if isTraining, let mean = r.runningMean, let variance = r.runningVar {
            runningMean = mean
            runningVar = variance
        }
        return r.output
    }
}

/// Batch normalisation of `[N, C]` or `[N, C, L]` inputs (PyTorch's `nn.BatchNorm1d`); see
/// `BatchNorm` for the math, keys and modes. Shapes: any of those → the same.
open class BatchNorm1d: BatchNorm, UnaryLayer {
    open func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 2 || x.rank == 3, "BatchNorm1d: input must be [N, C] or [N, C, L], got \(x.shape)")
        return normalize(x)
    }
}

/// Batch normalisation of `[N, C, H, W]` inputs (PyTorch's `nn.BatchNorm2d`); see `BatchNorm`
/// for the math, keys and modes. Runs on oneDNN in the input's layout (blocked stays blocked).
open class BatchNorm2d: BatchNorm, UnaryLayer {
    open func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4, "BatchNorm2d: input must be [N, C, H, W], got \(x.shape)")
        return normalize(x)
    }
}
