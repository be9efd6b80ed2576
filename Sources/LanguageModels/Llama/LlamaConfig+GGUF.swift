import GGUF

/// `LlamaConfig` from a GGUF file's metadata, as llama.cpp's converter writes a Llama:
///
/// | `LlamaConfig` | GGUF key | when absent |
/// |---|---|---|
/// | `layerCount` | `llama.block_count` | required |
/// | `hiddenSize` | `llama.embedding_length` | required |
/// | `intermediateSize` | `llama.feed_forward_length` | required |
/// | `headCount` | `llama.attention.head_count` | required |
/// | `keyValueHeadCount` | `llama.attention.head_count_kv` | `headCount` |
/// | `headDimension` | `llama.attention.key_length` | `hiddenSize / headCount` |
/// | `maxPositionEmbeddings` | `llama.context_length` | required |
/// | `rmsNormEpsilon` | `llama.attention.layer_norm_rms_epsilon` | required |
/// | `ropeTheta` | `llama.rope.freq_base` | 10 000 |
/// | `vocabularySize` | `llama.vocab_size` | `tokenizer.ggml.tokens`' count, else `token_embd`'s rows |
/// | `tieWordEmbeddings` | no `output.weight` tensor | |
/// | `bosTokenId`, `eosTokenIds` | `tokenizer.ggml.bos_token_id`, `.eos_token_id`, `.eot_token_id` | none |
///
/// `general.architecture` must be `llama`; RoPE over part of a head (`llama.rope.dimension_count`
/// below the head width) and RoPE scaling (`llama.rope.scaling.type` other than `none`) are refused.
extension LlamaConfig {
    /// The configuration of the Llama in `gguf`.
    /// - Throws: `LlamaError.invalidConfig` naming the metadata key that is missing, of the wrong
    ///   type or unusable; `.unsupported` for another architecture or RoPE variant.
    public init(gguf: GGUFFile) throws {
        let file = gguf.path
        func read<T>(_ key: String, _ get: (String) throws -> T) throws -> T {
            do { return try get(key) } catch let error as GGUFError {
                throw LlamaError.invalidConfig(file: file, key: key, reason: "\(error)")
            }
        }
        func optionalInt(_ key: String) throws -> Int? { gguf.contains(key: key) ? try read(key, gguf.int) : nil }
        let architecture = try read("general.architecture", gguf.string)
        guard architecture == "llama" else {
            throw LlamaError.unsupported(file: file, key: "general.architecture", reason: "\"\(architecture)\" is not a Llama")
        }
        if gguf.contains(key: "llama.rope.scaling.type") {
            let type = try read("llama.rope.scaling.type", gguf.string)
            if type != "none" {
                throw LlamaError.unsupported(file: file, key: "llama.rope.scaling.type", reason: "\"\(type)\" RoPE scaling")
            }
        }
        let hidden = try read("llama.embedding_length", gguf.int)
        let heads = try read("llama.attention.head_count", gguf.int)
        let headDimension = try optionalInt("llama.attention.key_length") ?? (heads > 0 ? hidden / heads : 0)
        if let rope = try optionalInt("llama.rope.dimension_count"), rope != headDimension {
            throw LlamaError.unsupported(file: file, key: "llama.rope.dimension_count",
                                         reason: "RoPE over \(rope) of a head's \(headDimension) dimensions")
        }
        var vocabulary = try optionalInt("llama.vocab_size")
        if vocabulary == nil, gguf.contains(key: "tokenizer.ggml.tokens") {
            vocabulary = try read("tokenizer.ggml.tokens", gguf.strings).count
        }
        if vocabulary == nil, let embedding = try? gguf.tensorInfo(named: "token_embd.weight") {
            vocabulary = embedding.shape.first
        }
        guard let vocabulary else {
            throw LlamaError.invalidConfig(file: file, key: "llama.vocab_size",
                                           reason: "missing, and neither tokenizer.ggml.tokens nor token_embd.weight gives it")
        }
        let eos = try ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"].compactMap(optionalInt)
        self.init(vocabularySize: vocabulary, hiddenSize: hidden,
                  intermediateSize: try read("llama.feed_forward_length", gguf.int),
                  layerCount: try read("llama.block_count", gguf.int), headCount: heads,
                  keyValueHeadCount: try optionalInt("llama.attention.head_count_kv"), headDimension: headDimension,
                  maxPositionEmbeddings: try read("llama.context_length", gguf.int),
                  rmsNormEpsilon: Float(try read("llama.attention.layer_norm_rms_epsilon", gguf.float)),
                  ropeTheta: gguf.contains(key: "llama.rope.freq_base") ? Float(try read("llama.rope.freq_base", gguf.float)) : 10_000,
                  tieWordEmbeddings: !gguf.contains(tensor: "output.weight"),
                  bosTokenId: try optionalInt("tokenizer.ggml.bos_token_id"),
                  eosTokenIds: eos.reduce(into: []) { if !$0.contains($1) { $0.append($1) } })
        if let problem = validationError() {
            throw LlamaError.invalidConfig(file: file, key: LlamaConfig.ggufKey(problem.key), reason: problem.reason)
        }
    }

    /// The GGUF metadata key of a Hugging Face configuration key (for errors).
    static func ggufKey(_ key: String) -> String {
        [
            "vocab_size": "llama.vocab_size", "hidden_size": "llama.embedding_length",
            "intermediate_size": "llama.feed_forward_length", "num_hidden_layers": "llama.block_count",
            "num_attention_heads": "llama.attention.head_count", "num_key_value_heads": "llama.attention.head_count_kv",
            "head_dim": "llama.attention.key_length", "max_position_embeddings": "llama.context_length",
            "rms_norm_eps": "llama.attention.layer_norm_rms_epsilon", "rope_theta": "llama.rope.freq_base",
            "bos_token_id": "tokenizer.ggml.bos_token_id", "eos_token_id": "tokenizer.ggml.eos_token_id",
        ][key] ?? key
    }
}
