import NN
import Tensor

/// The self-attention of a Llama layer (Hugging Face's `LlamaAttention`), grouped-query with
/// rotary positions and a causal mask:
///
///     q = x·Wqᵀ, k = x·Wkᵀ, v = x·Wvᵀ           [N, T, H] → [N, T, A·D], [N, T, G·D], [N, T, G·D]
///     q, k = rope(q), rope(k)                   rotate-half form, per head
///     c = softmax(q·kᵀ/√D + causal + mask)·v    query head a reads key/value head a / (A/G)
///     y = c·Woᵀ                                 [N, T, A·D] → [N, T, H]
///
/// with A query heads and G key/value heads of width D. Keys `q_proj`, `k_proj`, `v_proj`,
/// `o_proj`; each is any `UnaryLayer` (float `Linear` or `QuantizedLinear`), so LoRA targets them
/// by name (plain quantised projections run as one grouped product, `QuantizedLinear.groupedOutputs`).
/// The attention runs as one fused operation on the projections' layout
/// (`Tensor.causalAttention`), reading earlier keys and values from a `LlamaKVCache` when given one.
public final class LlamaAttention: Module {
    @LayerChild(key: "q_proj") public var qProj: any UnaryLayer
    @LayerChild(key: "k_proj") public var kProj: any UnaryLayer
    @LayerChild(key: "v_proj") public var vProj: any UnaryLayer
    @LayerChild(key: "o_proj") public var oProj: any UnaryLayer
    /// Query heads `A`.
    public let headCount: Int
    /// Key/value heads `G`.
    public let keyValueHeadCount: Int

    public init(headCount: Int, keyValueHeadCount: Int, qProj: any UnaryLayer, kProj: any UnaryLayer,
                vProj: any UnaryLayer, oProj: any UnaryLayer) {
        self.headCount = headCount
        self.keyValueHeadCount = keyValueHeadCount
        _qProj = LayerChild(wrappedValue: qProj, key: "q_proj")
        _kProj = LayerChild(wrappedValue: kProj, key: "k_proj")
        _vProj = LayerChild(wrappedValue: vProj, key: "v_proj")
        _oProj = LayerChild(wrappedValue: oProj, key: "o_proj")
        super.init()
    }

    /// `x` [N, T, H] → [N, T, H].
    /// - Parameters:
    ///   - rope: the angles of the T tokens' positions.
    ///   - masking: padding and document boundaries beyond the causal mask.
    ///   - cache: earlier keys and values; this call's are appended (`layer` names the slot).
    func callAsFunction(_ x: Tensor, rope: RotaryAngles, masking: AttentionMasking, cache: LlamaKVCache?, layer: Int) -> Tensor {
        let projected = QuantizedLinear.groupedOutputs([qProj, kProj, vProj], x) ?? [qProj(x), kProj(x), vProj(x)]
        let q = projected[0].rotaryEmbedding(cos: rope.cos, sin: rope.sin, heads: headCount)          // [N, T, A·D]
        let k = projected[1].rotaryEmbedding(cos: rope.cos, sin: rope.sin, heads: keyValueHeadCount)  // [N, T, G·D]
        let v = projected[2]                                                                         // [N, T, G·D]
        let context: Tensor
        if let cache {
            let stored = cache.store(layer: layer, key: k, value: v)                                // [N, S, G·D]
            context = Tensor.causalAttention(query: q, key: stored.keys, value: stored.values, heads: headCount,
                                             kvHeads: keyValueHeadCount, keyLength: stored.length,
                                             queryOffset: cache.length, keyMask: masking.keyMask)
        } else {
            context = Tensor.causalAttention(query: q, key: k, value: v, heads: headCount, kvHeads: keyValueHeadCount,
                                             keyMask: masking.keyMask, firstKeys: masking.firstKeys)
        }
        return oProj(context)
    }
}

/// RoPE's cosines and sines for the tokens of one forward ([T, D/2] shared by the batch, or
/// [N·T, D/2] per token), computed once and used by every layer.
struct RotaryAngles {
    let cos: Tensor
    let sin: Tensor
}

/// What limits attention beyond causality, shared by every layer of one forward.
struct AttentionMasking {
    /// Additive [N, L] over every key (cached ones first): −∞ for padding; nil when none.
    var keyMask: Tensor?
    /// Packed documents: the first key each query may see, [N·T] (see `Tensor.causalAttention`);
    /// nil when each row is one sequence.
    var firstKeys: [Int]?
}
