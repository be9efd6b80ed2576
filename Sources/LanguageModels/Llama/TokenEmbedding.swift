import NN
import Tensor

/// A token-embedding table that a decoder reads its input from and, when the head is tied,
/// computes its logits with: NN's float `Embedding` or a `QuantizedEmbedding`.
public protocol TokenEmbedding: Module {
    /// Rows, the vocabulary size `V`.
    var vocabularySize: Int { get }
    /// The width of each vector, `H`.
    var embeddingWidth: Int { get }
    /// The rows of `ids` [N, T] (int64 or int32): [N, T, H].
    /// - Throws: `TensorError.indexOutOfRange` for an id outside `0..<V`.
    func embed(_ ids: Tensor) throws -> Tensor
    /// The tied output head, `h · Eᵀ`: [..., H] → [..., V].
    func tiedLogits(_ h: Tensor) -> Tensor
}

extension Embedding: TokenEmbedding {
    public var vocabularySize: Int { count }
    public var embeddingWidth: Int { dimension }
    public func embed(_ ids: Tensor) throws -> Tensor { try self(ids) }
    public func tiedLogits(_ h: Tensor) -> Tensor { Tensor.linear(h, weight: weight, bias: nil) }
}
