import Tensor

/// Multi-head attention (Vaswani et al. 2017), batch first:
///
///     qᵢ = Q Wᵢ^q,  kᵢ = K Wᵢ^k,  vᵢ = V Wᵢ^v          (head i of H, width D = E / H)
///     headᵢ = softmax(qᵢ kᵢᵀ / √D + mask) vᵢ
///     y = concat(head₁, …, head_H) W^o + b^o
///
/// Shapes: query [B, Tq, E], key [B, Tk, Ekv], value [B, Tk, Ekv] → [B, Tq, E]; inside, heads are
/// split as [B, H, T, D]. `Ekv` is `kvDimension` (default `E`).
///
/// Two forms with different state-dict keys:
///
/// - **separate** (`fused: false`): four child `Linear`s keyed `q_proj`, `k_proj`, `v_proj`,
///   `out_proj` (weights [E, E], [E, Ekv], [E, Ekv], [E, E], biases [E]), the naming of BART,
///   Whisper and Llama-style attention. Each is a replaceable child, so LoRA can adapt any of
///   the four projections. (Models whose checkpoints use other names, such as BERT's
///   `query`/`key`/`value`, build their attention from `Linear`s themselves.)
/// - **fused** (`fused: true`): PyTorch's `nn.MultiheadAttention` keys exactly, so its state dicts
///   load unchanged: `in_proj_weight` [3E, E] (rows: query, key, value), `in_proj_bias` [3E],
///   `out_proj.weight` [E, E], `out_proj.bias` [E]. When `Ekv ≠ E`, as in PyTorch, the input
///   projections are separate tensors `q_proj_weight` [E, E], `k_proj_weight` [E, Ekv],
///   `v_proj_weight` [E, Ekv] (with `in_proj_bias` [3E]). Only `out_proj` is a child module here.
///
/// PyTorch's `add_bias_kv`, `add_zero_attn` and unbatched inputs are not supported.
///
/// Dropout with probability `dropout` applies to the attention weights in training mode, drawn
/// from the layer's own `generator` (saved with checkpoints through `StochasticModule`).
open class MultiHeadAttention: Module, StochasticModule {
    // Separate form.
    @OptionalChild public var queryProjection: Linear?
    @OptionalChild public var keyProjection: Linear?
    @OptionalChild public var valueProjection: Linear?
    // Fused form (PyTorch's nn.MultiheadAttention).
    @OptionalParameter public var inProjectionWeight: Tensor?
    @OptionalParameter public var queryProjectionWeight: Tensor?
    @OptionalParameter public var keyProjectionWeight: Tensor?
    @OptionalParameter public var valueProjectionWeight: Tensor?
    @OptionalParameter public var inProjectionBias: Tensor?
    // Both forms.
    @Child public var outputProjection: Linear

    /// The model width `E`.
    public let embedDimension: Int
    /// The number of heads `H`.
    public let heads: Int
    /// The width of the key and value inputs, `Ekv`.
    public let kvDimension: Int
    /// Dropout probability on the attention weights (training only).
    public let dropout: Float
    /// Whether the input projections are PyTorch's fused parameters rather than child `Linear`s.
    public let isFused: Bool
    /// The random source for attention dropout.
    public var generator: RandomGenerator

    /// The width of one head, `D = E / H`.
    public var headDimension: Int { embedDimension / heads }

    /// A layer with PyTorch's initialisation for its form:
    ///
    /// - separate: every projection is a `Linear` with its default init, `W, b ~ U(±1/√fanIn)`;
    /// - fused (`nn.MultiheadAttention._reset_parameters`): `in_proj_weight` (or each of
    ///   `q/k/v_proj_weight`) ~ Xavier-uniform `U(±√(6 / (fanIn + fanOut)))`, `in_proj_bias = 0`,
    ///   `out_proj` a default `Linear` whose bias is then set to 0.
    ///
    /// - Parameters:
    ///   - embedDimension: the model width `E`; must be divisible by `heads`.
    ///   - heads: the number of heads `H`.
    ///   - bias: whether the projections have biases.
    ///   - dropout: dropout probability on the attention weights in training.
    ///   - kvDimension: the width of key and value inputs (PyTorch's `kdim`/`vdim`); default `E`.
    ///   - fused: PyTorch `nn.MultiheadAttention`'s parameters and keys instead of four `Linear`s.
    ///   - generator: the random source for the weights; the dropout generator is split from it.
    public init(_ embedDimension: Int, heads: Int, bias: Bool = true, dropout: Float = 0,
                kvDimension: Int? = nil, fused: Bool = false, generator: inout RandomGenerator) {
        precondition(embedDimension > 0 && heads > 0 && embedDimension % heads == 0,
                     "MultiHeadAttention: embedDimension \(embedDimension) must be a positive multiple of heads \(heads)")
        precondition(dropout >= 0 && dropout <= 1, "MultiHeadAttention: dropout must lie in [0, 1], got \(dropout)")
        let e = embedDimension, kv = kvDimension ?? embedDimension
        precondition(kv > 0, "MultiHeadAttention: kvDimension must be positive, got \(kv)")
        self.embedDimension = e
        self.heads = heads
        self.kvDimension = kv
        self.dropout = dropout
        isFused = fused
        _queryProjection = OptionalChild(key: "q_proj")
        _keyProjection = OptionalChild(key: "k_proj")
        _valueProjection = OptionalChild(key: "v_proj")
        _inProjectionWeight = OptionalParameter(key: "in_proj_weight")
        _queryProjectionWeight = OptionalParameter(key: "q_proj_weight")
        _keyProjectionWeight = OptionalParameter(key: "k_proj_weight")
        _valueProjectionWeight = OptionalParameter(key: "v_proj_weight")
        _inProjectionBias = OptionalParameter(key: "in_proj_bias")
        if fused {
            if kv == e {
                _inProjectionWeight = OptionalParameter(
                    wrappedValue: MultiHeadAttention.xavierUniform([3 * e, e], generator: &generator), key: "in_proj_weight")
            } else {
                _queryProjectionWeight = OptionalParameter(
                    wrappedValue: MultiHeadAttention.xavierUniform([e, e], generator: &generator), key: "q_proj_weight")
                _keyProjectionWeight = OptionalParameter(
                    wrappedValue: MultiHeadAttention.xavierUniform([e, kv], generator: &generator), key: "k_proj_weight")
                _valueProjectionWeight = OptionalParameter(
                    wrappedValue: MultiHeadAttention.xavierUniform([e, kv], generator: &generator), key: "v_proj_weight")
            }
            if bias { _inProjectionBias = OptionalParameter(wrappedValue: Tensor.zeros([3 * e]), key: "in_proj_bias") }
            let out = Linear(e, e, bias: bias, generator: &generator)
            if bias { out.bias = Tensor.zeros([e]) }
            _outputProjection = Child(wrappedValue: out, key: "out_proj")
        } else {
            _queryProjection = OptionalChild(wrappedValue: Linear(e, e, bias: bias, generator: &generator), key: "q_proj")
            _keyProjection = OptionalChild(wrappedValue: Linear(kv, e, bias: bias, generator: &generator), key: "k_proj")
            _valueProjection = OptionalChild(wrappedValue: Linear(kv, e, bias: bias, generator: &generator), key: "v_proj")
            _outputProjection = Child(wrappedValue: Linear(e, e, bias: bias, generator: &generator), key: "out_proj")
        }
        self.generator = generator.split()
        super.init()
    }

    /// A layer sharing `other`'s parameters, children, configuration and generator state (its
    /// LoRA form is built this way).
    public init(sharing other: MultiHeadAttention) {
        embedDimension = other.embedDimension
        heads = other.heads
        kvDimension = other.kvDimension
        dropout = other.dropout
        isFused = other.isFused
        generator = other.generator
        _queryProjection = OptionalChild(wrappedValue: other.queryProjection, key: "q_proj")
        _keyProjection = OptionalChild(wrappedValue: other.keyProjection, key: "k_proj")
        _valueProjection = OptionalChild(wrappedValue: other.valueProjection, key: "v_proj")
        _inProjectionWeight = OptionalParameter(wrappedValue: other.inProjectionWeight, key: "in_proj_weight")
        _queryProjectionWeight = OptionalParameter(wrappedValue: other.queryProjectionWeight, key: "q_proj_weight")
        _keyProjectionWeight = OptionalParameter(wrappedValue: other.keyProjectionWeight, key: "k_proj_weight")
        _valueProjectionWeight = OptionalParameter(wrappedValue: other.valueProjectionWeight, key: "v_proj_weight")
        _inProjectionBias = OptionalParameter(wrappedValue: other.inProjectionBias, key: "in_proj_bias")
        _outputProjection = Child(wrappedValue: other.outputProjection, key: "out_proj")
        super.init()
        for key in ["in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias"] {
            if let mine = parameterSlot(key), let theirs = other.parameterSlot(key) { mine.setTrainable(theirs.isTrainable) }
        }
        train(other.isTraining)
    }

    /// Xavier (Glorot) uniform for a [fanOut, fanIn] weight: `U(±√(6 / (fanIn + fanOut)))`.
    static func xavierUniform(_ shape: [Int], generator: inout RandomGenerator) -> Tensor {
        let bound = (6 / Float(shape[0] + shape[1])).squareRoot()
        return Tensor.uniform(shape, low: -bound, high: bound, generator: &generator)
    }

    public var generatorState: [UInt64] {
        get { generator.state }
        set { generator = RandomGenerator(state: newValue) }
    }

    // MARK: - Forward

    /// Attention of `query` over `key`/`value`.
    /// - Parameters:
    ///   - query: [B, Tq, E].
    ///   - key: [B, Tk, Ekv].
    ///   - value: [B, Tk, Ekv].
    ///   - mask: which query–key pairs may attend, broadcasting to [B, H, Tq, Tk]; a key-padding
    ///     mask is `.keyPadding(keep)` with `keep` [B, Tk] (1: token, 0: padding).
    ///   - isCausal: query `i` attends only to keys `j ≤ i` (combines with `mask`).
    /// - Returns: [B, Tq, E].
    open func callAsFunction(query: Tensor, key: Tensor, value: Tensor, mask: AttentionMask? = nil,
                             isCausal: Bool = false) -> Tensor {
        checkShapes(query: query, key: key, value: value)
        let (q, k, v) = projectInputs(query: query, key: key, value: value)
        return attend(q, k, v, batch: query.shape[0], length: query.shape[1], mask: mask, isCausal: isCausal)
    }

    /// Self-attention: `x` [B, T, E] is query, key and value (needs `Ekv = E`). The fused form
    /// projects with one matrix product.
    open func callAsFunction(_ x: Tensor, mask: AttentionMask? = nil, isCausal: Bool = false) -> Tensor {
        precondition(kvDimension == embedDimension,
                     "MultiHeadAttention: self-attention needs kvDimension \(kvDimension) == embedDimension \(embedDimension)")
        checkShapes(query: x, key: x, value: x)
        guard inProjectionWeight != nil else {
            let (q, k, v) = projectInputs(query: x, key: x, value: x)
            return attend(q, k, v, batch: x.shape[0], length: x.shape[1], mask: mask, isCausal: isCausal)
        }
        let (b, t, e, h) = (x.shape[0], x.shape[1], embedDimension, heads)
        let qkv = fusedInputProjection(x)                                       // [B, T, 3E]
        // One copy splits both the projections and the heads: [B, T, 3, H, D] → [3, B, H, T, D].
        let split = qkv.reshaped([b, t, 3, h, e / h]).permuted([2, 0, 3, 1, 4])
        let parts = split.split(sizes: [1, 1, 1], axis: 0).map { $0.squeezed(0) }
        return attendHeads(parts[0], parts[1], parts[2], batch: b, length: t, mask: mask, isCausal: isCausal)
    }

    private func checkShapes(query: Tensor, key: Tensor, value: Tensor) {
        precondition(query.rank == 3 && query.shape[2] == embedDimension,
                     "MultiHeadAttention: query must be [B, T, \(embedDimension)], got \(query.shape)")
        precondition(key.rank == 3 && key.shape[2] == kvDimension,
                     "MultiHeadAttention: key must be [B, T, \(kvDimension)], got \(key.shape)")
        precondition(value.rank == 3 && value.shape[2] == kvDimension,
                     "MultiHeadAttention: value must be [B, T, \(kvDimension)], got \(value.shape)")
        precondition(key.shape[0] == query.shape[0] && value.shape[0] == query.shape[0],
                     "MultiHeadAttention: batch sizes differ: query \(query.shape), key \(key.shape), value \(value.shape)")
        precondition(key.shape[1] == value.shape[1],
                     "MultiHeadAttention: key \(key.shape) and value \(value.shape) differ in length")
    }

    /// The input projections, each [B, T, E].
    private func projectInputs(query: Tensor, key: Tensor, value: Tensor) -> (Tensor, Tensor, Tensor) {
        if let qp = queryProjection, let kp = keyProjection, let vp = valueProjection {
            return (qp(query), kp(key), vp(value))
        }
        let e = embedDimension
        let weights: [Tensor]
        if inProjectionWeight != nil {
            return (fusedInputProjection(query, part: 0), fusedInputProjection(key, part: 1),
                    fusedInputProjection(value, part: 2))
        } else if let wq = queryProjectionWeight, let wk = keyProjectionWeight, let wv = valueProjectionWeight {
            weights = [wq, wk, wv]
        } else {
            preconditionFailure("MultiHeadAttention has no input projections")
        }
        let biases = inProjectionBias.map { $0.split(sizes: [e, e, e], axis: 0) }
        let inputs = [query, key, value]
        let out = (0..<3).map { i -> Tensor in
            let y = inputs[i].matmul(weights[i], transposeB: true)
            return biases.map { y + $0[i] } ?? y
        }
        return (out[0], out[1], out[2])
    }

    /// The fused input projection `x · W_inᵀ + b_in` → [B, T, 3E] (a LoRA form overrides it).
    open func fusedInputProjection(_ x: Tensor) -> Tensor {
        guard let w = inProjectionWeight else { preconditionFailure("MultiHeadAttention has no in_proj_weight") }
        let y = x.matmul(w, transposeB: true)
        return inProjectionBias.map { y + $0 } ?? y
    }

    /// One part (0: query, 1: key, 2: value) of the fused input projection → [B, T, E].
    open func fusedInputProjection(_ x: Tensor, part: Int) -> Tensor {
        guard let w = inProjectionWeight else { preconditionFailure("MultiHeadAttention has no in_proj_weight") }
        let e = embedDimension
        let y = x.matmul(w.slice(axis: 0, start: part * e, end: (part + 1) * e), transposeB: true)
        return inProjectionBias.map { y + $0.slice(axis: 0, start: part * e, end: (part + 1) * e) } ?? y
    }

    /// Splits projected [B, T, E] tensors into heads and attends.
    private func attend(_ q: Tensor, _ k: Tensor, _ v: Tensor, batch: Int, length: Int, mask: AttentionMask?,
                        isCausal: Bool) -> Tensor {
        func heads(_ t: Tensor) -> Tensor {                                     // [B, T, E] → [B, H, T, D]
            t.reshaped([t.shape[0], t.shape[1], self.heads, headDimension]).permuted([0, 2, 1, 3])
        }
        return attendHeads(heads(q), heads(k), heads(v), batch: batch, length: length, mask: mask, isCausal: isCausal)
    }

    /// Attention over [B, H, T, D] heads, then the output projection: → [B, Tq, E].
    private func attendHeads(_ q: Tensor, _ k: Tensor, _ v: Tensor, batch: Int, length: Int, mask: AttentionMask?,
                             isCausal: Bool) -> Tensor {
        let context: Tensor                                                     // [B, H, Tq, D]
        if isTraining && dropout > 0 {
            context = scaledDotProductAttention(query: q, key: k, value: v, mask: mask, isCausal: isCausal,
                                                dropout: dropout, generator: &generator)
        } else {
            context = scaledDotProductAttention(query: q, key: k, value: v, mask: mask, isCausal: isCausal)
        }
        let merged = context.permuted([0, 2, 1, 3]).reshaped([batch, length, embedDimension])
        return outputProjection(merged)
    }
}

extension AttentionMask {
    /// A key-padding mask from `keep` [B, Tk]: nonzero for a real token, 0 for padding (the
    /// convention of Hugging Face's `attention_mask`; PyTorch's `key_padding_mask` is the
    /// opposite, `True` for padding). Broadcasts as [B, 1, 1, Tk] over heads and queries.
    public static func keyPadding(_ keep: Tensor) -> AttentionMask {
        precondition(keep.rank == 2, "key-padding mask must be [B, Tk], got \(keep.shape)")
        return .boolean(keep.toFloat32().reshaped([keep.shape[0], 1, 1, keep.shape[1]]))
    }
}
