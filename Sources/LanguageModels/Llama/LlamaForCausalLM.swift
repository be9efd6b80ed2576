import NN
import Tensor

/// A Llama-architecture language model (Hugging Face's `LlamaForCausalLM`): the decoder stack and
/// an output head, `logits = rmsNorm(h_L)·Wₕᵀ` [N, T, V], with `Wₕ` the token embedding when the
/// head is tied (`config.tieWordEmbeddings`; the checkpoint then has no `lm_head.weight`).
///
/// Keys are `transformers`': `model.embed_tokens.weight`, `model.layers.N.self_attn.q_proj.weight`,
/// `model.layers.N.mlp.gate_proj.weight`, `model.layers.N.input_layernorm.weight`,
/// `model.norm.weight`, `lm_head.weight`. Every projection (`q_proj`, `k_proj`, `v_proj`, `o_proj`,
/// `gate_proj`, `up_proj`, `down_proj`) is a replaceable child, float or quantised, so LoRA
/// injects into it by name and PEFT adapter files load under the same keys.
///
/// Load with `LlamaForCausalLM.load(from:)` (a Hugging Face directory) or from a GGUF file; make a
/// random one with `init(config:generator:)`.
public final class LlamaForCausalLM: Module {
    @Child(key: "model") public var model: LlamaModel
    /// The output head when it is not tied; nil when the token embedding serves as the head.
    @LayerChild(key: "lm_head") public var lmHead: (any UnaryLayer)?

    /// The architecture.
    public var config: LlamaConfig { model.config }

    public init(model: LlamaModel, lmHead: (any UnaryLayer)?) {
        _model = Child(wrappedValue: model, key: "model")
        _lmHead = LayerChild(wrappedValue: lmHead, key: "lm_head")
        super.init()
    }

    /// Next-token logits.
    /// - Parameters:
    ///   - ids, attentionMask, positions, cache: as `LlamaModel.hiddenStates`.
    ///   - lastPositionOnly: compute the head for the last position only ([N, 1, V]): what
    ///     generation needs, and V/H times cheaper than the whole sequence's head.
    /// - Returns: [N, T, V] (or [N, 1, V]).
    /// - Throws: `LlamaError.invalidInput` (see `LlamaModel.hiddenStates`).
    public func logits(_ ids: Tensor, attentionMask: Tensor? = nil, positions: Tensor? = nil,
                       cache: LlamaKVCache? = nil, lastPositionOnly: Bool = false) throws -> Tensor {
        let run = { () throws -> Tensor in
            var h = try self.model.hiddenStates(ids, attentionMask: attentionMask, positions: positions, cache: cache)
            if lastPositionOnly, h.shape[1] > 1 { h = h.slice(axis: 1, start: h.shape[1] - 1, end: h.shape[1]) }
            return self.head(h)
        }
        return cache == nil ? try run() : try withNoGrad(run)
    }

    /// `logits` for ids known to be valid (from the model's tokenizer): [N, T] → [N, T, V].
    /// Invalid input stops the program with the reason; call `logits` to handle it as an error.
    public func callAsFunction(_ ids: Tensor) -> Tensor {
        do { return try logits(ids) } catch { fatalError("LlamaForCausalLM: \(error)") }
    }

    /// The output head on normalised states [..., H] → [..., V].
    public func head(_ h: Tensor) -> Tensor {
        if let lmHead { return lmHead(h) }
        return model.embedTokens.tiedLogits(h)
    }
}
