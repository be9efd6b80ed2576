import LoRA
import NN
import Tensor

/// The decoder stack of a Llama-architecture model (Hugging Face's `LlamaModel`):
///
///     h₀ = E[ids]                                  [N, T] → [N, T, H]
///     hᵢ = decoderLayerᵢ(hᵢ₋₁)                     L pre-norm layers (attention, SwiGLU)
///     y  = rmsNorm(h_L)                            [N, T, H]
///
/// Keys `embed_tokens`, `layers.N.…`, `norm` (under `model.` in `LlamaForCausalLM`).
public final class LlamaModel: Module {
    @LayerChild(key: "embed_tokens") public var embedTokens: any TokenEmbedding
    @ChildList(key: "layers") public var layers: [LlamaDecoderLayer]
    @Child(key: "norm") public var norm: RMSNorm
    /// The architecture.
    public let config: LlamaConfig
    /// Whether training recomputes each decoder block in backward instead of keeping its
    /// activations (gradient checkpointing per block): only the blocks' inputs stay in memory,
    /// for about one more forward pass of time. LoRA dropout masks are drawn again from the same
    /// generator states, so the gradients are those of the run without it.
    public var checkpointsBlocks = false

    public init(config: LlamaConfig, embedTokens: any TokenEmbedding, layers: [LlamaDecoderLayer], norm: RMSNorm) {
        precondition(layers.count == config.layerCount, "LlamaModel: \(layers.count) layers for a configuration of \(config.layerCount)")
        self.config = config
        _embedTokens = LayerChild(wrappedValue: embedTokens, key: "embed_tokens")
        _layers = ChildList(wrappedValue: layers, key: "layers")
        _norm = Child(wrappedValue: norm, key: "norm")
        super.init()
    }

    /// The last layer's normalised states.
    /// - Parameters:
    ///   - ids: token ids [N, T] (int64 or int32).
    ///   - attentionMask: [N, past + T] (any numeric type): 1 for a token, 0 for padding, over the
    ///     cached tokens and these; nil when nothing is padding. A padded query sees no key and
    ///     gets a state that no real token reads.
    ///   - positions: RoPE positions [N, T]; by default `past ..< past + T` for every sequence
    ///     (`past` = tokens in the cache). Left-padded batches pass the count of real tokens before
    ///     each one, as `transformers`' `generate` does.
    ///   - cache: keys and values of earlier tokens; this call's are appended. A forward with a
    ///     cache records no gradients.
    ///   - packedDocuments: rows hold several documents one after another, each starting where
    ///     `positions` restarts at 0 (as `transformers`' `DataCollatorWithFlattening` marks them):
    ///     a token attends only to the tokens of its own document. Needs `positions`, no cache.
    /// - Returns: [N, T, H].
    /// - Throws: `LlamaError.invalidInput` for ids outside the vocabulary or of a float type,
    ///   shapes that disagree, a cache of another batch size, or negative positions.
    public func hiddenStates(_ ids: Tensor, attentionMask: Tensor? = nil, positions: Tensor? = nil,
                             cache: LlamaKVCache? = nil, packedDocuments: Bool = false) throws -> Tensor {
        guard ids.rank == 2, !ids.dtype.isFloatingPoint else {
            throw LlamaError.invalidInput("token ids must be an integer tensor [N, T], got \(ids.dtype.rawValue) \(ids.shape)")
        }
        let (n, t) = (ids.shape[0], ids.shape[1])
        let past = cache?.length ?? 0
        if let cache, cache.batch != n {
            throw LlamaError.invalidInput("the cache holds \(cache.batch) sequences, the input \(n)")
        }
        let keyMask = try attentionMask.map { try LlamaModel.keyMask($0, batch: n, keys: past + t) } ?? nil
        let rope = try rotaryAngles(positions, batch: n, tokens: t, past: past)
        var masking = AttentionMasking(keyMask: keyMask)
        if packedDocuments {
            guard let positions, cache == nil else {
                throw LlamaError.invalidInput("packed documents need their positions (restarting at 0 for each document) and no cache")
            }
            masking.firstKeys = Self.documentStarts(positions.indexScalars, tokens: t)
        }
        let body = { () throws -> Tensor in
            var h: Tensor
            do { h = try self.embedTokens.embed(ids) } catch {
                throw LlamaError.invalidInput("token ids: \(error)")
            }
            cache?.reserve(past + t)
            for (i, layer) in self.layers.enumerated() {
                if self.checkpointsBlocks && cache == nil && GradMode.isEnabled {
                    h = Self.checkpointed(layer, h, rope: rope, masking: masking, index: i)
                } else {
                    h = layer(h, rope: rope, masking: masking, cache: cache, layer: i)
                }
            }
            cache?.advance(by: t)
            return self.norm(h)
        }
        return cache == nil ? try body() : try withNoGrad(body)
    }

    /// `layer` on `x`, its activations recomputed in backward (`Tensor.recomputed`). The block's
    /// LoRA adapters draw their dropout masks from generators that advance; the recomputation
    /// starts them from the states the first run started from, and leaves them where it left them.
    static func checkpointed(_ layer: LlamaDecoderLayer, _ x: Tensor, rope: RotaryAngles, masking: AttentionMasking, index: Int) -> Tensor {
        let adapters = layer.namedModules().compactMap { $0.module as? LoRAAdapter }
        let before = adapters.map(\.dropoutGenerator)
        var after = before
        return Tensor.recomputed([x], op: "decoder-block-\(index)") { xs, again in
            if again { for (adapter, state) in zip(adapters, before) { adapter.dropoutGenerator = state } }
            let y = layer(xs[0], rope: rope, masking: masking, cache: nil, layer: index)
            if again {
                for (adapter, state) in zip(adapters, after) { adapter.dropoutGenerator = state }
            } else {
                after = adapters.map(\.dropoutGenerator)
            }
            return y
        }
    }

    /// For each token of rows of `t` (row-major), the index in its row of the last token at or
    /// before it whose position is 0: where its document starts (0 when none is).
    static func documentStarts(_ positions: [Int], tokens t: Int) -> [Int] {
        var starts = [Int](repeating: 0, count: positions.count)
        for (i, p) in positions.enumerated() {
            let column = i % t
            starts[i] = p == 0 || column == 0 ? column : starts[i - 1]
        }
        return starts
    }

    /// RoPE angles for the given positions, or for `past ..< past + t` shared by the batch.
    private func rotaryAngles(_ positions: Tensor?, batch n: Int, tokens t: Int, past: Int) throws -> RotaryAngles {
        let list: [Int]
        if let positions {
            guard positions.shape == [n, t], !positions.dtype.isFloatingPoint else {
                throw LlamaError.invalidInput("positions must be an integer tensor [\(n), \(t)], got \(positions.dtype.rawValue) \(positions.shape)")
            }
            list = positions.indexScalars
            if let bad = list.first(where: { $0 < 0 }) { throw LlamaError.invalidInput("position \(bad) is negative") }
        } else {
            list = Array(past..<(past + t))
        }
        let (cos, sin) = Tensor.rotaryAngles(positions: list, dimension: config.headDimension, base: config.ropeTheta)
        return RotaryAngles(cos: cos, sin: sin)
    }

    /// The additive key mask [N, keys] (0 where the mask is nonzero, −∞ where it is 0), or nil
    /// when every key may be attended to.
    static func keyMask(_ mask: Tensor, batch n: Int, keys: Int) throws -> Tensor? {
        guard mask.shape == [n, keys] else {
            throw LlamaError.invalidInput("the attention mask must be [\(n), \(keys)] (cached and new tokens), got \(mask.shape)")
        }
        let values = mask.detached().toFloat32().scalars
        if values.allSatisfy({ $0 != 0 }) { return nil }
        return Tensor(values.map { $0 != 0 ? 0 : -Float.infinity }, shape: [n, keys])
    }
}
