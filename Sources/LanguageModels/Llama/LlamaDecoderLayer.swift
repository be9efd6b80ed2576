import NN
import Tensor

/// One pre-norm decoder layer (Hugging Face's `LlamaDecoderLayer`):
///
///     h = x + attention(rmsNorm₁(x))
///     y = h + mlp(rmsNorm₂(h))
///
/// Keys `self_attn`, `mlp`, `input_layernorm`, `post_attention_layernorm`.
public final class LlamaDecoderLayer: Module {
    @Child(key: "self_attn") public var selfAttention: LlamaAttention
    @Child(key: "mlp") public var mlp: LlamaMLP
    @Child(key: "input_layernorm") public var inputLayerNorm: RMSNorm
    @Child(key: "post_attention_layernorm") public var postAttentionLayerNorm: RMSNorm

    public init(selfAttention: LlamaAttention, mlp: LlamaMLP, inputLayerNorm: RMSNorm, postAttentionLayerNorm: RMSNorm) {
        _selfAttention = Child(wrappedValue: selfAttention, key: "self_attn")
        _mlp = Child(wrappedValue: mlp, key: "mlp")
        _inputLayerNorm = Child(wrappedValue: inputLayerNorm, key: "input_layernorm")
        _postAttentionLayerNorm = Child(wrappedValue: postAttentionLayerNorm, key: "post_attention_layernorm")
        super.init()
    }

    /// `x` [N, T, H] → [N, T, H] (see `LlamaAttention` for the other arguments).
    func callAsFunction(_ x: Tensor, rope: RotaryAngles, masking: AttentionMasking, cache: LlamaKVCache?, layer: Int) -> Tensor {
        let h = x + selfAttention(inputLayerNorm(x), rope: rope, masking: masking, cache: cache, layer: layer)
        return h + mlp(postAttentionLayerNorm(h))
    }
}
