import Foundation
import NN
import Tensor

/// A BERT-style Transformer encoder (Devlin et al. 2019) laid out as Hugging Face's `BertModel`,
/// so that its checkpoints (BERT, MiniLM, sentence-transformers models) load unchanged:
///
///     embeddings:  word + position + token type → LayerNorm → dropout        [N, T, H]
///     encoder:     L post-LN layers (self-attention, GELU feed-forward)       [N, T, H]
///     pooler:      tanh(h[:, 0]·Wᵀ + b), optional                            [N, H]
///
/// Keys are Hugging Face's: `embeddings.word_embeddings.weight`,
/// `encoder.layer.N.attention.self.query.weight`, `encoder.layer.N.attention.output.dense.weight`,
/// `encoder.layer.N.attention.output.LayerNorm.weight`, `encoder.layer.N.intermediate.dense.weight`,
/// `encoder.layer.N.output.dense.weight`, `encoder.layer.N.output.LayerNorm.weight`,
/// `pooler.dense.weight`, … Every projection is a replaceable `Linear` child, so LoRA targets
/// such as `query`, `value` or `dense` are injected through the module tree.
///
/// Padding: positions whose attention mask is 0 are never attended to, so a sentence's token
/// states do not depend on how much padding follows it.
public final class BertModel: Module {
    @Child public var embeddings: BertEmbeddings
    @Child public var encoder: BertEncoder
    @OptionalChild public var pooler: BertPooler?

    /// The architecture this model was built with.
    public let config: BertConfig

    /// A freshly initialised model, as Hugging Face initialises one: every `Linear` and embedding
    /// weight `~ N(0, initializerRange)` (the padding row zero), biases 0, layer norms (1, 0).
    /// - Parameters:
    ///   - config: the architecture; must be valid (`config.validationError() == nil`).
    ///   - addPooler: whether to build `pooler` (Hugging Face's `add_pooling_layer`).
    ///   - generator: the random source for the weights and the dropout generators.
    public convenience init(config: BertConfig, addPooler: Bool = true, generator: inout RandomGenerator) {
        self.init(config: config, addPooler: addPooler, generator: &generator, drawWeights: true)
    }

    /// A model whose weights are zero (layer norms at identity), to be filled from a checkpoint
    /// with `load(_:)`: skips drawing the random weights a load would overwrite.
    /// - Parameter seed: seeds the dropout generators.
    public static func forLoading(config: BertConfig, addPooler: Bool = true, seed: UInt64 = 0) -> BertModel {
        var generator = RandomGenerator(seed: seed)
        return BertModel(config: config, addPooler: addPooler, generator: &generator, drawWeights: false)
    }

    init(config: BertConfig, addPooler: Bool, generator: inout RandomGenerator, drawWeights: Bool) {
        if let problem = config.validationError() {
            preconditionFailure("BertModel: invalid configuration: \(problem.key) \(problem.reason)")
        }
        self.config = config
        embeddings = BertEmbeddings(config: config, generator: &generator, drawWeights: drawWeights)
        encoder = BertEncoder(config: config, generator: &generator, drawWeights: drawWeights)
        pooler = addPooler ? BertPooler(config: config, generator: &generator, drawWeights: drawWeights) : nil
        super.init()
    }

    // MARK: - Forward

    /// The last layer's token states.
    /// - Parameters:
    ///   - ids: token ids [N, T] (int64).
    ///   - tokenTypeIds: segment ids [N, T] (all 0 when nil).
    ///   - attentionMask: [N, T], 1 for a token and 0 for padding (any numeric type); when nil,
    ///     derived from `ids != config.padTokenId`.
    /// - Returns: [N, T, H].
    /// - Throws: `BertError.invalidInput` for ids outside the vocabulary, a sequence longer than
    ///   the position table or shapes that disagree.
    public func hiddenStates(_ ids: Tensor, tokenTypeIds: Tensor? = nil, attentionMask: Tensor? = nil) throws -> Tensor {
        let mask = try attentionMask.map { try checkedMask($0, ids: ids) } ?? paddingMask(ids)
        let x = try embeddings(ids, tokenTypeIds: tokenTypeIds)
        return encoder(x, mask: BertModel.attentionMask(mask))
    }

    /// `hiddenStates` for inputs known to be valid (ids from the model's tokenizer, sequences no
    /// longer than `config.maxPositionEmbeddings`): [N, T] → [N, T, H]. Invalid input stops the
    /// program with the reason; call `hiddenStates` to handle it as an error instead.
    public func callAsFunction(_ ids: Tensor, tokenTypeIds: Tensor? = nil, attentionMask: Tensor? = nil) -> Tensor {
        do { return try hiddenStates(ids, tokenTypeIds: tokenTypeIds, attentionMask: attentionMask) } catch {
            fatalError("BertModel: \(error)")
        }
    }

    /// One vector per sequence from the token states.
    /// - Parameters:
    ///   - hidden: token states [N, T, H].
    ///   - attentionMask: [N, T], 1 for a token and 0 for padding (used by `.mean`).
    ///   - pooling: `.cls`, `.mean` or `.pooler` (which needs `pooler`).
    /// - Returns: [N, H].
    public func pool(_ hidden: Tensor, attentionMask: Tensor, pooling: BertPooling) -> Tensor {
        switch pooling {
        case .cls:
            return hidden.slice(axis: 1, start: 0, end: 1).squeezed(1)
        case .mean:
            return BertPooling.meanPool(hidden, attentionMask: attentionMask)
        case .pooler:
            guard let pooler else { preconditionFailure("BertModel: .pooler pooling needs a pooler (build it with addPooler)") }
            return pooler(hidden)
        }
    }

    /// 1 where `ids` is not the padding id, else 0: [N, T] float.
    public func paddingMask(_ ids: Tensor) -> Tensor {
        let pad = config.padTokenId
        let values = ids.indexScalars.map { $0 == pad ? Float(0) : 1 }
        return Tensor(values, shape: ids.shape)
    }

    private func checkedMask(_ mask: Tensor, ids: Tensor) throws -> Tensor {
        guard mask.shape == ids.shape else {
            throw BertError.invalidInput("the attention mask \(mask.shape) must match the input ids \(ids.shape)")
        }
        return mask.detached().toFloat32()
    }

    /// The encoder's mask from a [N, T] 0/1 mask: [N, 1, 1, T] broadcasting over heads and
    /// queries, or nil when nothing is padding (the scores then need no mask at all).
    static func attentionMask(_ keep: Tensor) -> AttentionMask? {
        if keep.scalars.allSatisfy({ $0 != 0 }) { return nil }
        return .keyPadding(keep)
    }
}

/// The pooler of `BertModel` (Hugging Face's `BertPooler`): `tanh(h[:, 0]·Wᵀ + b)`, the first
/// (`[CLS]`) token's state through a dense layer, [N, T, H] → [N, H]. Key `dense`.
public final class BertPooler: Module {
    @Child public var dense: Linear

    init(config: BertConfig, generator: inout RandomGenerator, drawWeights: Bool) {
        dense = BertInitialization.linear(config.hiddenSize, config.hiddenSize, config: config,
                                          generator: &generator, draw: drawWeights)
        super.init()
    }

    public func callAsFunction(_ hidden: Tensor) -> Tensor {
        dense(hidden.slice(axis: 1, start: 0, end: 1).squeezed(1)).tanh()
    }
}

/// How a sequence's token states become one vector.
public enum BertPooling: String, Codable, Sendable, CaseIterable {
    /// The first token's (`[CLS]`) state.
    case cls
    /// The mean of the token states over the attention mask (sentence-transformers' pooling):
    /// `Σ_t m_t·h_t / max(Σ_t m_t, 1e-9)`.
    case mean
    /// `tanh(dense(h_[CLS]))`, Hugging Face's pooler (what `BertForSequenceClassification` feeds
    /// its classifier).
    case pooler

    /// `Σ_t m[n, t]·h[n, t] / max(Σ_t m[n, t], 1e-9)`: `hidden` [N, T, H], `attentionMask` [N, T] → [N, H].
    public static func meanPool(_ hidden: Tensor, attentionMask: Tensor) -> Tensor {
        precondition(hidden.rank == 3 && attentionMask.shape == Array(hidden.shape.prefix(2)),
                     "meanPool: hidden \(hidden.shape) and mask \(attentionMask.shape) must be [N, T, H] and [N, T]")
        let m = attentionMask.detached().toFloat32().unsqueezed(2)                 // [N, T, 1]
        let counts = m.sum(axis: 1).clamped(min: 1e-9)                              // [N, 1]
        return (hidden * m).sum(axis: 1) / counts
    }
}
