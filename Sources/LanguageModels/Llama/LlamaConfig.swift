import Foundation

/// The architecture of a Llama-style decoder (Touvron et al. 2023; also SmolLM, Mistral without
/// sliding windows, TinyLlama): sizes, grouped-query heads, RoPE base, RMS norm ε, tied head.
///
/// Read from Hugging Face's `config.json` (`LlamaConfig.load(from:)`, keys as `LlamaConfig` in
/// `transformers`) or from a GGUF file's `llama.*` metadata; both give the same values for the
/// same model.
public struct LlamaConfig: Equatable, Sendable {
    /// Rows of the token embedding and of the output head, `V` (`vocab_size`).
    public var vocabularySize: Int
    /// The model width `H` (`hidden_size`, GGUF `llama.embedding_length`).
    public var hiddenSize: Int
    /// Width of the SwiGLU feed-forward layer (`intermediate_size`, `llama.feed_forward_length`).
    public var intermediateSize: Int
    /// Decoder layers (`num_hidden_layers`, `llama.block_count`).
    public var layerCount: Int
    /// Query heads (`num_attention_heads`, `llama.attention.head_count`).
    public var headCount: Int
    /// Key/value heads (`num_key_value_heads`, `llama.attention.head_count_kv`); divides `headCount`
    /// (grouped-query attention; equal to it for multi-head attention).
    public var keyValueHeadCount: Int
    /// Width of one head, `D` (`head_dim`; `hiddenSize / headCount` when absent).
    public var headDimension: Int
    /// The longest context the model was trained for (`max_position_embeddings`, `llama.context_length`).
    public var maxPositionEmbeddings: Int
    /// ε of every RMS norm (`rms_norm_eps`, `llama.attention.layer_norm_rms_epsilon`).
    public var rmsNormEpsilon: Float
    /// RoPE's base θ (`rope_theta` or `rope_parameters.rope_theta`, `llama.rope.freq_base`).
    public var ropeTheta: Float
    /// Whether the output head reuses the token embedding (`tie_word_embeddings`; in GGUF: the
    /// file has no `output.weight`).
    public var tieWordEmbeddings: Bool
    /// Whether the attention projections have biases (`attention_bias`).
    public var attentionBias: Bool
    /// Whether the feed-forward projections have biases (`mlp_bias`).
    public var mlpBias: Bool
    /// The beginning-of-sequence id, if any (`bos_token_id`, `tokenizer.ggml.bos_token_id`).
    public var bosTokenId: Int?
    /// Ids that end a generation (`eos_token_id`, a number or a list; `tokenizer.ggml.eos_token_id`).
    public var eosTokenIds: [Int]

    public init(vocabularySize: Int, hiddenSize: Int, intermediateSize: Int, layerCount: Int, headCount: Int,
                keyValueHeadCount: Int? = nil, headDimension: Int? = nil, maxPositionEmbeddings: Int = 2048,
                rmsNormEpsilon: Float = 1e-6, ropeTheta: Float = 10_000, tieWordEmbeddings: Bool = false,
                attentionBias: Bool = false, mlpBias: Bool = false, bosTokenId: Int? = nil, eosTokenIds: [Int] = []) {
        self.vocabularySize = vocabularySize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.keyValueHeadCount = keyValueHeadCount ?? headCount
        self.headDimension = headDimension ?? (headCount > 0 ? hiddenSize / headCount : 0)
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.rmsNormEpsilon = rmsNormEpsilon
        self.ropeTheta = ropeTheta
        self.tieWordEmbeddings = tieWordEmbeddings
        self.attentionBias = attentionBias
        self.mlpBias = mlpBias
        self.bosTokenId = bosTokenId
        self.eosTokenIds = eosTokenIds
    }

    /// Width of the query projection's output, `headCount · headDimension`.
    public var queryWidth: Int { headCount * headDimension }
    /// Width of the key and value projections' outputs, `keyValueHeadCount · headDimension`.
    public var keyValueWidth: Int { keyValueHeadCount * headDimension }

    /// The problem with these values, or nil when they describe a buildable model: the key
    /// (Hugging Face's name) and the reason.
    public func validationError() -> (key: String, reason: String)? {
        for (key, value) in [("vocab_size", vocabularySize), ("hidden_size", hiddenSize),
                             ("intermediate_size", intermediateSize), ("num_hidden_layers", layerCount),
                             ("num_attention_heads", headCount), ("num_key_value_heads", keyValueHeadCount),
                             ("head_dim", headDimension), ("max_position_embeddings", maxPositionEmbeddings)]
        where value < 1 {
            return (key, "must be at least 1, got \(value)")
        }
        if headCount % keyValueHeadCount != 0 {
            return ("num_key_value_heads", "\(keyValueHeadCount) key/value heads do not divide \(headCount) query heads")
        }
        if headDimension % 2 != 0 { return ("head_dim", "RoPE needs an even head width, got \(headDimension)") }
        if !(rmsNormEpsilon > 0) { return ("rms_norm_eps", "must be positive, got \(rmsNormEpsilon)") }
        if !(ropeTheta > 1) || !ropeTheta.isFinite { return ("rope_theta", "must be a finite number above 1, got \(ropeTheta)") }
        if let bosTokenId, !(0..<vocabularySize).contains(bosTokenId) {
            return ("bos_token_id", "\(bosTokenId) is outside the vocabulary 0..<\(vocabularySize)")
        }
        if let eos = eosTokenIds.first(where: { !(0..<vocabularySize).contains($0) }) {
            return ("eos_token_id", "\(eos) is outside the vocabulary 0..<\(vocabularySize)")
        }
        return nil
    }
}
