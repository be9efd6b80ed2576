import NN
import Tensor

/// BERT's input embeddings (Hugging Face's `BertEmbeddings`): the sum of a word, an absolute
/// position and a token-type vector per token, layer-normalised, then dropout.
///
///     e[n, t] = LayerNorm(word[ids[n, t]] + position[t] + tokenType[types[n, t]])
///
/// Keys: `word_embeddings.weight` [V, H], `position_embeddings.weight` [P, H],
/// `token_type_embeddings.weight` [types, H], `LayerNorm.weight`, `LayerNorm.bias` [H]. The word
/// table's padding row receives no gradient (PyTorch's `padding_idx`).
public final class BertEmbeddings: Module {
    @Child public var wordEmbeddings: Embedding
    @Child public var positionEmbeddings: Embedding
    @Child public var tokenTypeEmbeddings: Embedding
    @Child public var layerNorm: LayerNorm
    @Child public var dropout: Dropout

    /// Draws the tables from `N(0, initializerRange)` (the padding row zero) when `drawWeights`,
    /// as Hugging Face initialises them, and leaves them zero otherwise (to be loaded); the
    /// dropout generator is split from `generator` either way.
    init(config: BertConfig, generator: inout RandomGenerator, drawWeights: Bool) {
        let h = config.hiddenSize
        _wordEmbeddings = Child(wrappedValue: BertInitialization.embedding(
            config.vocabularySize, h, paddingIndex: config.padTokenId, config: config, generator: &generator,
            draw: drawWeights), key: "word_embeddings")
        _positionEmbeddings = Child(wrappedValue: BertInitialization.embedding(
            config.maxPositionEmbeddings, h, paddingIndex: nil, config: config, generator: &generator,
            draw: drawWeights), key: "position_embeddings")
        _tokenTypeEmbeddings = Child(wrappedValue: BertInitialization.embedding(
            config.typeVocabularySize, h, paddingIndex: nil, config: config, generator: &generator,
            draw: drawWeights), key: "token_type_embeddings")
        _layerNorm = Child(wrappedValue: LayerNorm(h, epsilon: config.layerNormEpsilon), key: "LayerNorm")
        dropout = BertInitialization.dropout(config.hiddenDropout, generator: &generator)
        super.init()
    }

    /// Embeds `ids` [N, T] (int64) with token types `tokenTypeIds` [N, T] (all 0 when nil) at
    /// positions `0..<T` → [N, T, H].
    /// - Throws: `BertError.invalidInput` for an id or token type outside its table or a
    ///   sequence longer than the position table.
    public func callAsFunction(_ ids: Tensor, tokenTypeIds: Tensor? = nil) throws -> Tensor {
        guard ids.rank == 2 else { throw BertError.invalidInput("BERT input ids must be [N, T], got \(ids.shape)") }
        let t = ids.shape[1]
        guard t <= positionEmbeddings.count else {
            throw BertError.invalidInput(
                "a sequence of \(t) tokens is longer than the model's \(positionEmbeddings.count) positions")
        }
        let words = try lookup(wordEmbeddings, ids, "token id")                                 // [N, T, H]
        let positions = try positionEmbeddings(Tensor(indices: Array(0..<t), shape: [t]))     // [T, H]
        let types: Tensor
        if let tokenTypeIds {
            guard tokenTypeIds.shape == ids.shape else {
                throw BertError.invalidInput("token type ids \(tokenTypeIds.shape) must match the input ids \(ids.shape)")
            }
            types = try lookup(tokenTypeEmbeddings, tokenTypeIds, "token type")              // [N, T, H]
            return dropout(layerNorm(words + (types + positions)))
        }
        types = try tokenTypeEmbeddings(Tensor(indices: [0], shape: [1]))                     // [1, H]
        return dropout(layerNorm(words + (positions + types)))
    }

    private func lookup(_ table: Embedding, _ ids: Tensor, _ what: String) throws -> Tensor {
        do { return try table(ids) } catch let TensorError.indexOutOfRange(_, index, bound) {
            throw BertError.invalidInput("\(what) \(index) is outside the model's table 0..<\(bound)")
        } catch let TensorError.unsupportedDType(_, dtype) {
            throw BertError.invalidInput("\(what)s must be an integer tensor, got \(dtype.rawValue)")
        }
    }
}

/// Hugging Face's `BertPreTrainedModel._init_weights`, or zeros for a model about to be loaded.
enum BertInitialization {
    /// `W ~ N(0, initializerRange)`, `b = 0`; both zero unless `draw`.
    static func linear(_ inputs: Int, _ outputs: Int, config: BertConfig, generator: inout RandomGenerator,
                       draw: Bool) -> Linear {
        let weight = draw ? Tensor.randn([outputs, inputs], std: config.initializerRange, generator: &generator)
                          : Tensor.zeros([outputs, inputs])
        return Linear(weight: weight, bias: Tensor.zeros([outputs]))
    }

    /// `W ~ N(0, initializerRange)` with the padding row zero; all zero unless `draw`.
    static func embedding(_ count: Int, _ dimension: Int, paddingIndex: Int?, config: BertConfig,
                          generator: inout RandomGenerator, draw: Bool) -> Embedding {
        guard draw else { return Embedding(weight: Tensor.zeros([count, dimension]), paddingIndex: paddingIndex) }
        var values = Tensor.randn([count, dimension], std: config.initializerRange, generator: &generator).scalars
        if let paddingIndex { for j in 0..<dimension { values[paddingIndex * dimension + j] = 0 } }
        return Embedding(weight: Tensor(values, shape: [count, dimension]), paddingIndex: paddingIndex)
    }

    /// A dropout layer whose generator is split from `generator`.
    static func dropout(_ probability: Float, generator: inout RandomGenerator) -> Dropout {
        Dropout(probability, generator: &generator)
    }
}
