import NN
import Tensor

/// Multi-head self-attention of a BERT layer (Hugging Face's `BertSelfAttention`):
///
///     q, k, v = x·Wqᵀ + bq, x·Wkᵀ + bk, x·Wvᵀ + bv          [N, T, H] → heads [N, A, T, D]
///     context = dropout(softmax(q·kᵀ/√D + mask)) · v          [N, A, T, D] → [N, T, H]
///
/// with `A` heads of width `D = H / A`. Keys `query`, `key`, `value` (each a `Linear` [H, H], so
/// LoRA targets them by name). Attention dropout draws from the layer's own generator (saved
/// with checkpoints through `StochasticModule`).
public final class BertSelfAttention: Module, StochasticModule {
    @Child public var query: Linear
    @Child public var key: Linear
    @Child public var value: Linear
    /// Heads `A`.
    public let headCount: Int
    /// Dropout probability on the attention weights (training only).
    public let attentionDropout: Float
    /// The random source for attention dropout.
    public var generator: RandomGenerator

    init(config: BertConfig, generator: inout RandomGenerator, drawWeights: Bool) {
        let h = config.hiddenSize
        query = BertInitialization.linear(h, h, config: config, generator: &generator, draw: drawWeights)
        key = BertInitialization.linear(h, h, config: config, generator: &generator, draw: drawWeights)
        value = BertInitialization.linear(h, h, config: config, generator: &generator, draw: drawWeights)
        headCount = config.headCount
        attentionDropout = config.attentionDropout
        self.generator = generator.split()
        super.init()
    }

    public var generatorState: [UInt64] {
        get { generator.state }
        set { generator = RandomGenerator(state: newValue) }
    }

    /// `x` [N, T, H] → the attention context [N, T, H], before the output projection.
    /// - Parameter mask: which keys each query may attend to, broadcasting to [N, A, T, T]
    ///   (BERT's padding mask is [N, 1, 1, T]); nil lets every token attend to every token.
    ///
    /// With a padding mask (or none) and dropout below 1 it runs as one fused operation on the
    /// [N, T, H] projections (`Tensor.multiHeadAttention`: no head permutes, the dropped weights
    /// regenerated in backward); other masks take the composed path. Both draw one dropout seed
    /// from `generator` per call in training, and drop the same elements.
    public func callAsFunction(_ x: Tensor, mask: AttentionMask?) -> Tensor {
        let (n, t, h) = (x.shape[0], x.shape[1], x.shape[2])
        let d = h / headCount
        let dropping = isTraining && attentionDropout > 0
        if attentionDropout < 1, let keyMask = Self.keyPaddingMask(mask, batch: n, length: t) {
            return Tensor.multiHeadAttention(query: query(x), key: key(x), value: value(x), heads: headCount,
                                             keyMask: keyMask.tensor, dropoutProbability: dropping ? attentionDropout : 0,
                                             dropoutSeed: dropping ? generator.next() : nil)
        }
        func heads(_ y: Tensor) -> Tensor {                                   // [N, T, H] → [N, A, T, D]
            y.reshaped([n, t, headCount, d]).permuted([0, 2, 1, 3])
        }
        let q = heads(query(x)), k = heads(key(x)), v = heads(value(x))
        let context: Tensor                                                    // [N, A, T, D]
        if isTraining && attentionDropout > 0 {
            context = scaledDotProductAttention(query: q, key: k, value: v, mask: mask, dropout: attentionDropout,
                                                generator: &generator)
        } else {
            context = scaledDotProductAttention(query: q, key: k, value: v, mask: mask)
        }
        return context.permuted([0, 2, 1, 3]).reshaped([n, t, h])
    }

    /// A mask the fused attention takes: none, or additive values per key [N, T].
    struct KeyMask {
        var tensor: Tensor?
    }

    /// `mask` as the fused attention's key mask, if it is one: none, or a padding mask
    /// [N, 1, 1, T] that needs no gradient. Nil for any other mask.
    static func keyPaddingMask(_ mask: AttentionMask?, batch n: Int, length t: Int) -> KeyMask? {
        guard let mask else { return KeyMask(tensor: nil) }
        let additive = mask.additiveTensor
        guard additive.shape == [n, 1, 1, t], !additive.requiresGrad else { return nil }
        return KeyMask(tensor: additive.reshaped([n, t]))
    }
}

/// The projection after attention with its residual connection and post-norm (Hugging Face's
/// `BertSelfOutput`, also the shape of `BertOutput`):
///
///     y = LayerNorm(dropout(h·Wᵀ + b) + residual)
///
/// Keys `dense` (a `Linear`) and `LayerNorm`.
public final class BertResidualOutput: Module {
    @Child public var dense: Linear
    @Child public var layerNorm: LayerNorm
    @Child public var dropout: Dropout

    init(inputs: Int, config: BertConfig, generator: inout RandomGenerator, drawWeights: Bool) {
        dense = BertInitialization.linear(inputs, config.hiddenSize, config: config, generator: &generator,
                                          draw: drawWeights)
        _layerNorm = Child(wrappedValue: LayerNorm(config.hiddenSize, epsilon: config.layerNormEpsilon), key: "LayerNorm")
        dropout = BertInitialization.dropout(config.hiddenDropout, generator: &generator)
        super.init()
    }

    /// `h` [N, T, inputs], `residual` [N, T, H] → [N, T, H].
    public func callAsFunction(_ h: Tensor, residual: Tensor) -> Tensor {
        layerNorm(dropout(dense(h)) + residual)
    }
}

/// Self-attention and its output block (Hugging Face's `BertAttention`): keys `self.*` and
/// `output.*`.
public final class BertAttention: Module {
    @Child public var selfAttention: BertSelfAttention
    @Child public var output: BertResidualOutput

    init(config: BertConfig, generator: inout RandomGenerator, drawWeights: Bool) {
        _selfAttention = Child(wrappedValue: BertSelfAttention(config: config, generator: &generator,
                                                               drawWeights: drawWeights), key: "self")
        output = BertResidualOutput(inputs: config.hiddenSize, config: config, generator: &generator,
                                    drawWeights: drawWeights)
        super.init()
    }

    /// `x` [N, T, H] → `LayerNorm(x + dropout(dense(attention(x))))` [N, T, H].
    public func callAsFunction(_ x: Tensor, mask: AttentionMask?) -> Tensor {
        output(selfAttention(x, mask: mask), residual: x)
    }
}
