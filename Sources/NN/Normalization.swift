import Tensor

/// Layer normalisation over the trailing dimensions (PyTorch's `nn.LayerNorm`, Ba et al. 2016):
///
///     y = (x − E[x]) / √(Var[x] + ε) ⊙ weight + bias
///
/// with the mean and the biased variance taken over the last `shape.count` dimensions of each
/// sample. Shapes: `x` [..., *shape] → the same shape; `weight` and `bias` have `shape`
/// (keys `weight`, `bias`; both absent when `affine` is false).
open class LayerNorm: Module, UnaryLayer {
    @OptionalParameter public var weight: Tensor?
    @OptionalParameter public var bias: Tensor?
    /// The normalised trailing dimensions.
    public let shape: [Int]
    /// Added to the variance.
    public let epsilon: Float

    /// PyTorch's default initialisation: `weight = 1`, `bias = 0`.
    /// - Parameters:
    ///   - shape: the trailing dimensions to normalise over (`[hiddenSize]` for Transformers).
    ///   - epsilon: added to the variance (PyTorch's default 1e-5; BERT uses 1e-12).
    ///   - affine: whether to learn `weight` and `bias` (PyTorch's `elementwise_affine`).
    ///   - bias: whether to learn `bias` when `affine` (PyTorch's `bias`).
    public init(shape: [Int], epsilon: Float = 1e-5, affine: Bool = true, bias: Bool = true) {
        precondition(!shape.isEmpty && shape.allSatisfy { $0 > 0 }, "LayerNorm shape must be non-empty and positive, got \(shape)")
        self.shape = shape
        self.epsilon = epsilon
        weight = affine ? Tensor.ones(shape) : nil
        self.bias = affine && bias ? Tensor.zeros(shape) : nil
        super.init()
    }

    /// Normalisation over the last dimension of size `dimension`.
    public convenience init(_ dimension: Int, epsilon: Float = 1e-5, affine: Bool = true, bias: Bool = true) {
        self.init(shape: [dimension], epsilon: epsilon, affine: affine, bias: bias)
    }

    /// A layer with the given weight and optional bias, both of the normalised shape.
    public init(weight: Tensor, bias: Tensor?, epsilon: Float = 1e-5) {
        if let bias {
            precondition(bias.shape == weight.shape, "LayerNorm bias \(bias.shape) must match weight \(weight.shape)")
        }
        shape = weight.shape
        self.epsilon = epsilon
        self.weight = weight
        self.bias = bias
        super.init()
    }

    /// `x` [..., *shape] → [..., *shape].
    open func callAsFunction(_ x: Tensor) -> Tensor {
        x.layerNorm(normalizedShape: shape, weight: weight, bias: bias, epsilon: epsilon)
    }
}

/// Root-mean-square normalisation over the last dimension (PyTorch's `nn.RMSNorm`; Llama, T5):
///
///     y = x / √(mean(x²) + ε) ⊙ weight
///
/// Shapes: `x` [..., D] → [..., D]; `weight` [D] (key `weight`).
open class RMSNorm: Module, UnaryLayer {
    @Parameter public var weight: Tensor
    /// Added to the mean square.
    public let epsilon: Float

    public var dimension: Int { weight.shape[0] }

    /// PyTorch's default initialisation: `weight = 1`.
    /// - Parameters:
    ///   - dimension: the size `D` of the normalised last dimension.
    ///   - epsilon: added to the mean square. The default is PyTorch's (Float32's machine
    ///     epsilon, 2⁻²³); Llama checkpoints use 1e-5 or 1e-6, T5 1e-6.
    public init(_ dimension: Int, epsilon: Float = .ulpOfOne) {
        precondition(dimension > 0, "RMSNorm dimension must be positive, got \(dimension)")
        self.epsilon = epsilon
        weight = Tensor.ones([dimension])
        super.init()
    }

    /// A layer with the given weight [D].
    public init(weight: Tensor, epsilon: Float = .ulpOfOne) {
        precondition(weight.rank == 1, "RMSNorm weight must be [D], got \(weight.shape)")
        self.epsilon = epsilon
        self.weight = weight
        super.init()
    }

    /// `x` [..., D] → [..., D].
    open func callAsFunction(_ x: Tensor) -> Tensor {
        x.rmsNorm(normalizedShape: [dimension], weight: weight, epsilon: epsilon)
    }
}
