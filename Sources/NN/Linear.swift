import Tensor

/// A fully connected layer: `y = x · Wᵀ + b`, with `W` [out, in] and `b` [out] as in PyTorch.
open class Linear: Module, UnaryLayer {
    @Parameter public var weight: Tensor
    @OptionalParameter public var bias: Tensor?

    public var inputFeatures: Int { weight.shape[1] }
    public var outputFeatures: Int { weight.shape[0] }

    /// PyTorch's default initialisation: `W, b ~ U(−1/√in, 1/√in)` (kaiming-uniform with a = √5).
    public init(_ inputFeatures: Int, _ outputFeatures: Int, bias: Bool = true,
                generator: inout RandomGenerator) {
        let bound = 1 / Float(inputFeatures).squareRoot()
        weight = Tensor.uniform([outputFeatures, inputFeatures], low: -bound, high: bound, generator: &generator)
        self.bias = bias ? Tensor.uniform([outputFeatures], low: -bound, high: bound, generator: &generator) : nil
        super.init()
    }

    /// A layer with the given weight [out, in] and optional bias [out].
    public init(weight: Tensor, bias: Tensor? = nil) {
        precondition(weight.rank == 2, "Linear weight must be [out, in], got \(weight.shape)")
        if let bias { precondition(bias.shape == [weight.shape[0]], "Linear bias \(bias.shape) != [\(weight.shape[0])]") }
        self.weight = weight
        self.bias = bias
        super.init()
    }

    /// `x` [..., in] → [..., out].
    open func callAsFunction(_ x: Tensor) -> Tensor {
        Tensor.linear(x, weight: weight, bias: bias)
    }
}
