import Tensor

/// A lookup table of learned vectors, one row per id (PyTorch's `nn.Embedding`).
///
///     y[i₀, …, iₖ, :] = weight[ids[i₀, …, iₖ], :]
///
/// Shapes: `weight` [V, D] (key `weight`); `ids` [i₀, …, iₖ] of `int64` or `int32` → [i₀, …, iₖ, D].
///
/// The row at `paddingIndex` (PyTorch's `padding_idx`) starts at zero and receives no gradient,
/// so the padding token's vector stays what it is.
open class Embedding: Module {
    @Parameter public var weight: Tensor
    /// The id whose row gets no gradient, in `0..<count` (a negative index given to an
    /// initialiser is counted from the end, as in PyTorch).
    public let paddingIndex: Int?

    /// The number of ids, `V`.
    public var count: Int { weight.shape[0] }
    /// The width of each vector, `D`.
    public var dimension: Int { weight.shape[1] }

    /// PyTorch's default initialisation: `weight ~ N(0, 1)`, then the padding row set to zero.
    /// - Parameters:
    ///   - count: the number of ids `V` (vocabulary size).
    ///   - dimension: the vector width `D`.
    ///   - paddingIndex: an id in `-V..<V` whose row is zero and never trained.
    ///   - generator: the random source for the initial weights.
    public init(_ count: Int, _ dimension: Int, paddingIndex: Int? = nil, generator: inout RandomGenerator) {
        precondition(count > 0 && dimension > 0, "Embedding needs a positive count and dimension, got \(count)×\(dimension)")
        let padding = Embedding.normalizedPadding(paddingIndex, count: count)
        var values = Tensor.randn([count, dimension], generator: &generator).scalars
        if let padding {
            for j in 0..<dimension { values[padding * dimension + j] = 0 }
        }
        self.paddingIndex = padding
        weight = Tensor(values, shape: [count, dimension])
        super.init()
    }

    /// A table with the given weight [V, D], used as it is (the padding row is not zeroed, as
    /// PyTorch's `Embedding.from_pretrained`).
    public init(weight: Tensor, paddingIndex: Int? = nil) {
        precondition(weight.rank == 2, "Embedding weight must be [V, D], got \(weight.shape)")
        self.paddingIndex = Embedding.normalizedPadding(paddingIndex, count: weight.shape[0])
        self.weight = weight
        super.init()
    }

    /// Looks up `ids` [i₀, …, iₖ] (`int64` or `int32`) → [i₀, …, iₖ, D].
    /// - Throws: `TensorError.indexOutOfRange` for an id outside `0..<V` (ids come from data),
    ///   `TensorError.unsupportedDType` for a float `ids` tensor.
    open func callAsFunction(_ ids: Tensor) throws -> Tensor {
        try Tensor.embedding(weight, indices: ids, paddingIndex: paddingIndex)
    }

    private static func normalizedPadding(_ index: Int?, count: Int) -> Int? {
        guard let index else { return nil }
        precondition(index >= -count && index < count,
                     "Embedding paddingIndex \(index) is outside -\(count)..<\(count)")
        return index < 0 ? index + count : index
    }
}
