import NN
import Tensor

/// The LoRA form of `Embedding`, as PEFT's: `y = W[ids] + s · (Aᵀ[ids]) · Bᵀ` with A [r, V] and
/// B [D, r] (file keys `lora_embedding_A`, `lora_embedding_B`). As in PEFT, a fresh adapter has
/// A = 0 and B ~ N(0, 1), so it starts as a no-op.
public final class LoRAEmbedding: Embedding, LoRAHost {
    @Child public var adapters = ModuleDict<LoRAAdapter>()
    public let adapterState = AdapterState()

    public init(base: Embedding) {
        super.init(weight: base.weight, paddingIndex: base.paddingIndex)
        copyTrainability(from: base, keys: ["weight"])
        train(base.isTraining)
    }

    public var baseWeight: ParameterSlot { parameterSlot("weight")! }
    public var baseParameterCount: Int { weight.count }
    public var peftFactorKeys: (a: String, b: String) { ("lora_embedding_A", "lora_embedding_B") }

    public func makeAdapter(_ settings: AdapterSettings, seed: UInt64,
                            generator: inout RandomGenerator) throws -> LoRAAdapter {
        guard settings.initialization != .pissa, !settings.useDoRA else {
            throw LoRAError.unsupported(key: "", reason: "PiSSA and DoRA are implemented for Linear and Conv2d, not Embedding")
        }
        let r = settings.rank
        let a = Tensor.zeros([r, count])
        let b = Tensor.randn([dimension, r], generator: &generator)
        return LoRAAdapter(a: a, b: b, settings: settings, aName: peftFactorKeys.a, bName: peftFactorKeys.b, seed: seed)
    }

    public func deltaWeight(_ adapter: LoRAAdapter) -> Tensor {
        adapter.a.matmul(adapter.b, transposeA: true, transposeB: true) * adapter.scaling   // [V, r]·[r, D]
    }

    public override func callAsFunction(_ ids: Tensor) throws -> Tensor {
        var y = try super.callAsFunction(ids)
        for adapter in forwardAdapters {
            // Dropout does not apply to ids (PEFT skips it for embeddings too).
            let rows = try Tensor.embedding(adapter.a.transposed(), indices: ids, paddingIndex: paddingIndex)
            y = y + rows.matmul(adapter.b, transposeB: true) * adapter.scaling
        }
        return y
    }
}

extension Embedding: LoRAAdaptable {
    public func makeLoRAHost() throws -> LoRAHost { LoRAEmbedding(base: self) }
}
