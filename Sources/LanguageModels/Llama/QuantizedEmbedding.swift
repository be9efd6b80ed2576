import NN
import Tensor

/// A frozen token embedding whose table stays in its compact format (GGUF's Q8_0 `token_embd`):
/// a lookup decodes only the rows it returns, and the tied head multiplies by the table with the
/// quantised product (`Tensor.linear(_:quantizedWeight:)`).
///
/// The table is frozen (no gradient; LoRA does not target embeddings here), so it is not a
/// parameter of the module tree; gradients still flow through the tied head to its input.
public final class QuantizedEmbedding: Module, TokenEmbedding {
    /// The table [V, H].
    public let weight: QuantizedMatrix

    public init(weight: QuantizedMatrix) {
        self.weight = weight
        super.init()
    }

    /// The table's elements, for parameter counts.
    public override var frozenWeightCount: Int { weight.rows * weight.columns }

    public var vocabularySize: Int { weight.rows }
    public var embeddingWidth: Int { weight.columns }

    public func embed(_ ids: Tensor) throws -> Tensor {
        guard !ids.dtype.isFloatingPoint else {
            throw TensorError.unsupportedDType(operation: "embedding ids", dtype: ids.dtype)
        }
        let indices = ids.indexScalars
        for id in indices where !(0..<weight.rows).contains(id) {
            throw TensorError.indexOutOfRange(operation: "embedding", index: id, bound: weight.rows)
        }
        return try weight.rows(indices).reshaped(ids.shape + [weight.columns])
    }

    public func tiedLogits(_ h: Tensor) -> Tensor { Tensor.linear(h, quantizedWeight: weight) }
}
