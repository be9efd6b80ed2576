import NN
import Tensor

/// The LoRA form of `Embedding`, as PEFT's: `y = W[ids] + s · (Aᵀ[ids]) · Bᵀ` with A [r, V] and
/// B [D, r] (file keys `lora_embedding_A`, `lora_embedding_B`). As in PEFT, a fresh adapter has
/// A = 0 and B ~ N(0, 1), so it starts as a no-op.
public final class LoRAEmbedding: Embedding, LoRAHost {
    public let adapters = LoRAAdapters()

    public init(base: Embedding) {
        super.init(weight: base.weight, paddingIndex: base.paddingIndex)
        copyTrainability(from: base, keys: ["weight"])
        train(base.isTraining)
    }

    public var peftFactorKeys: (a: String, b: String) { ("lora_embedding_A", "lora_embedding_B") }

    public func makeFactors(_ settings: AdapterSettings, generator: inout RandomGenerator) throws -> (a: Tensor, b: Tensor) {
        let r = settings.rank
        return (Tensor.zeros([r, count]), Tensor.randn([dimension, r], generator: &generator))
    }

    public func deltaWeight(_ adapter: LoRAAdapter) -> Tensor {
        adapter.a.matmul(adapter.b, transposeA: true, transposeB: true) * adapter.scaling   // [V, r]·[r, D]
    }

    public override func callAsFunction(_ ids: Tensor) throws -> Tensor {
        // Dropout does not apply to ids (PEFT skips it for embeddings too).
        try applyAdapters(to: try super.callAsFunction(ids), input: ids, dropout: false) { y, ids, adapter in
            let rows = try Tensor.embedding(adapter.a.transposed(), indices: ids, paddingIndex: paddingIndex)   // [..., r]
            y = y + rows.matmul(adapter.b, transposeB: true) * adapter.scaling
        }
    }
}

extension Embedding: LoRAAdaptable {
    public func makeLoRAHost() throws -> LoRAHost { LoRAEmbedding(base: self) }
}
