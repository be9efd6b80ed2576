import Foundation
import NN
import Tensor

/// A BERT encoder with a linear classifier on one pooled vector per sequence, laid out as Hugging
/// Face's `BertForSequenceClassification` (keys `bert.*` and `classifier.*`), so its checkpoints
/// load unchanged and a fine-tuned model saves as one:
///
///     logits = classifier(dropout(pool(bert(ids))))                       [N, T] → [N, C]
///
/// `pooling` chooses the vector: `.pooler` (Hugging Face's, `tanh(dense(h_[CLS]))`), `.cls` or
/// `.mean` over the attention mask (the pooling sentence-transformers models such as MiniLM are
/// trained with).
public final class BertForSequenceClassification: Module {
    @Child public var bert: BertModel
    @Child public var dropout: Dropout
    @Child public var classifier: Linear
    /// How token states become the classifier's input.
    public let pooling: BertPooling

    /// A model around `bert` with a freshly initialised head, `classifier` `~ N(0, initializerRange)`
    /// with bias 0 (Hugging Face's initialisation).
    /// - Parameters:
    ///   - bert: the encoder; `.pooler` pooling needs its `pooler`.
    ///   - classes: outputs of `classifier`, `C ≥ 1`.
    ///   - pooling: see `BertPooling`.
    ///   - generator: the random source for the classifier and the dropout generator.
    public init(bert: BertModel, classes: Int, pooling: BertPooling = .pooler, generator: inout RandomGenerator) {
        precondition(classes >= 1, "BertForSequenceClassification: classes must be positive, got \(classes)")
        precondition(pooling != .pooler || bert.pooler != nil,
                     "BertForSequenceClassification: .pooler pooling needs a BertModel built with a pooler")
        let config = bert.config
        self.bert = bert
        dropout = BertInitialization.dropout(config.classifierDropout ?? config.hiddenDropout, generator: &generator)
        classifier = BertInitialization.linear(config.hiddenSize, classes, config: config, generator: &generator,
                                               draw: true)
        self.pooling = pooling
        super.init()
        train(bert.isTraining)
    }

    /// A freshly initialised model (encoder and head) for `config`.
    public convenience init(config: BertConfig, classes: Int, pooling: BertPooling = .pooler,
                            generator: inout RandomGenerator) {
        let bert = BertModel(config: config, addPooler: pooling == .pooler, generator: &generator)
        self.init(bert: bert, classes: classes, pooling: pooling, generator: &generator)
    }

    /// The architecture of the encoder.
    public var config: BertConfig { bert.config }

    /// Outputs of the classifier, `C`.
    public var classCount: Int { classifier.outputFeatures }

    // MARK: - Forward

    /// Class logits.
    /// - Parameters:
    ///   - ids: token ids [N, T] (int64).
    ///   - tokenTypeIds: segment ids [N, T] (all 0 when nil).
    ///   - attentionMask: [N, T], 1 for a token and 0 for padding; when nil, derived from
    ///     `ids != config.padTokenId`.
    /// - Returns: [N, C].
    /// - Throws: `BertError.invalidInput` as `BertModel.hiddenStates`.
    public func logits(_ ids: Tensor, tokenTypeIds: Tensor? = nil, attentionMask: Tensor? = nil) throws -> Tensor {
        let mask = attentionMask ?? bert.paddingMask(ids)
        let hidden = try bert.hiddenStates(ids, tokenTypeIds: tokenTypeIds, attentionMask: mask)    // [N, T, H]
        let pooled = bert.pool(hidden, attentionMask: mask.detached().toFloat32(), pooling: pooling) // [N, H]
        return classifier(dropout(pooled))
    }

    /// Logits for ids known to be valid, padding (id `config.padTokenId`) masked: [N, T] → [N, C].
    /// Invalid input stops the program with the reason; `logits(_:tokenTypeIds:attentionMask:)`
    /// throws instead.
    public func callAsFunction(_ ids: Tensor) -> Tensor {
        do { return try logits(ids) } catch { fatalError("BertForSequenceClassification: \(error)") }
    }
}
