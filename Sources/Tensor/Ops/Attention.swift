/// Scaled dot-product attention, composed from matmul, mask addition, softmax and dropout, so it
/// needs no backward of its own.

/// Which query–key pairs attention may use, for `scaledDotProductAttention`.
///
/// Either form broadcasts to the scores' shape `[B, H, Tq, Tk]`, e.g. a padding mask `[B, 1, 1, Tk]`
/// or a per-pair mask `[Tq, Tk]`.
public enum AttentionMask {
    /// Added to the scaled scores before the softmax: 0 where a query may attend, −∞ where it may
    /// not; other values act as biases (ALiBi, relative positions) and receive gradients if they
    /// require them.
    case additive(Tensor)
    /// Boolean, of any element type: any nonzero value means "may attend", 0 means "masked"
    /// (becomes −∞). No gradient flows into it.
    case boolean(Tensor)

    /// The mask as an additive tensor.
    public var additiveTensor: Tensor {
        switch self {
        case .additive(let m):
            return m
        case .boolean(let m):
            // Any element type (an int64 attention mask from a tokenizer): converted, not reread as floats.
            return Tensor.unaryKernel(m.detached().toFloat32(), op: "boolean attention mask", zeroPreserving: false) {
                $0 != 0 ? 0 : -.infinity
            }
        }
    }
}

/// Attention (Vaswani et al. 2017): `softmax(q kᵀ · scale + mask) v`.
///
/// - Parameters:
///   - query: `[B, H, Tq, D]` (any leading batch dimensions that broadcast against the key's).
///   - key: `[B, H, Tk, D]`.
///   - value: `[B, H, Tk, Dv]`.
///   - mask: optional padding/attention mask broadcasting to `[B, H, Tq, Tk]` (see `AttentionMask`).
///   - isCausal: when true, query position `i` attends only to key positions `j ≤ i` (aligned at
///     the top left, as PyTorch's `is_causal`; with a key cache longer than the queries pass an
///     explicit mask instead). Combines with `mask`.
///   - scale: the factor on the scores; defaults to `1/√D`.
/// - Returns: `[B, H, Tq, Dv]`.
///
/// A query whose keys are all masked (every score −∞, as with a boolean mask over only padding)
/// gets a zero output and zero gradients, where PyTorch gives NaN. With a finite "large negative"
/// additive mask (−1e9, as some checkpoints use) such a row attends uniformly instead.
public func scaledDotProductAttention(query: Tensor, key: Tensor, value: Tensor, mask: AttentionMask? = nil,
                                      isCausal: Bool = false, scale: Float? = nil) -> Tensor {
    let weights = attentionWeights(query: query, key: key, value: value, mask: mask, isCausal: isCausal,
                                   scale: scale)
    return weights.matmul(value)
}

/// Attention with dropout of probability `dropout` on the attention weights (after the softmax,
/// as PyTorch's `dropout_p`); the weights of kept pairs are scaled by `1/(1 − dropout)`.
/// Other parameters as in `scaledDotProductAttention(query:key:value:mask:isCausal:scale:)`.
public func scaledDotProductAttention(query: Tensor, key: Tensor, value: Tensor, mask: AttentionMask? = nil,
                                      isCausal: Bool = false, scale: Float? = nil, dropout: Float,
                                      generator: inout RandomGenerator) -> Tensor {
    let weights = attentionWeights(query: query, key: key, value: value, mask: mask, isCausal: isCausal,
                                   scale: scale)
    return weights.dropout(dropout, generator: &generator).matmul(value)
}

/// `softmax(q kᵀ · scale + mask)`, `[B, H, Tq, Tk]`.
private func attentionWeights(query: Tensor, key: Tensor, value: Tensor, mask: AttentionMask?,
                              isCausal: Bool, scale: Float?) -> Tensor {
    precondition(query.rank >= 2 && key.rank >= 2 && value.rank >= 2,
                 "attention needs [..., T, D] operands, got query \(query.shape), key \(key.shape), value \(value.shape)")
    let d = query.shape[query.rank - 1]
    let tq = query.shape[query.rank - 2], tk = key.shape[key.rank - 2]
    precondition(key.shape[key.rank - 1] == d,
                 "attention: query \(query.shape) and key \(key.shape) differ in the last dimension")
    precondition(value.shape[value.rank - 2] == tk,
                 "attention: key \(key.shape) and value \(value.shape) differ in sequence length")
    let s = scale ?? 1 / Float(d).squareRoot()
    // Scaling the query costs Tq·D per head rather than Tq·Tk for the scores.
    var scores = query.scaled(by: s).matmul(key, transposeB: true)   // [B, H, Tq, Tk]
    if let mask {
        let m = mask.additiveTensor
        precondition(Broadcast.shape(m.shape, scores.shape) == scores.shape,
                     "attention mask \(m.shape) does not broadcast to the scores' shape \(scores.shape)")
        scores = scores + m
    }
    if isCausal { scores = scores + causalMask(queries: tq, keys: tk) }
    return scores.softmax(axis: -1)
}

/// `[Tq, Tk]`: 0 where `j ≤ i`, −∞ above the diagonal.
func causalMask(queries: Int, keys: Int) -> Tensor {
    let m = Tensor(uninitialized: [queries, keys])
    let p = m.storage.floats
    for i in 0..<queries { for j in 0..<keys { p[i * keys + j] = j <= i ? 0 : -.infinity } }
    return m
}
