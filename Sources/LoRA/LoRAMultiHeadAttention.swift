import NN
import Tensor

/// The LoRA form of `MultiHeadAttention` in its fused form (PyTorch's `in_proj_weight`): one
/// adapter on the whole [3E, E] input projection, A [r, E], B [3E, r], so the query, key and value
/// updates share A:
///
///     [q | k | v] = x·W_inᵀ + b_in + s · (dropout(x)·Aᵀ)·Bᵀ
///
/// The output projection `out_proj` is a `Linear` and is adapted as one (target `out_proj`). In
/// the separate form the q/k/v projections are `Linear`s: target them by name instead.
public final class LoRAMultiHeadAttention: MultiHeadAttention, LoRAHost {
    @Child public var adapters = ModuleDict<LoRAAdapter>()
    public let adapterState = AdapterState()

    public init(base: MultiHeadAttention) throws {
        guard base.inProjectionWeight != nil else {
            throw LoRAError.unsupported(key: "", reason:
                "LoRA on MultiHeadAttention adapts the fused in_proj_weight; this layer has separate projections (target q_proj/k_proj/v_proj/out_proj instead)")
        }
        super.init(sharing: base)
    }

    public var baseWeight: ParameterSlot { parameterSlot("in_proj_weight")! }
    public var baseParameterCount: Int { (inProjectionWeight?.count ?? 0) + (inProjectionBias?.count ?? 0) }

    public func makeAdapter(_ settings: AdapterSettings, seed: UInt64,
                            generator: inout RandomGenerator) throws -> LoRAAdapter {
        guard settings.initialization != .pissa, !settings.useDoRA else {
            throw LoRAError.unsupported(key: "", reason: "PiSSA and DoRA are implemented for Linear and Conv2d, not fused attention")
        }
        let (a, b) = LoRAInit.factors(rank: settings.rank, inFeatures: embedDimension, outFeatures: 3 * embedDimension,
                                      fanIn: embedDimension, settings: settings, generator: &generator)
        return LoRAAdapter(a: a, b: b, settings: settings, seed: seed)
    }

    public func deltaWeight(_ adapter: LoRAAdapter) -> Tensor {
        adapter.b.matmul(adapter.a) * adapter.scaling                         // [3E, r]·[r, E]
    }

    public override func fusedInputProjection(_ x: Tensor) -> Tensor {
        var y = super.fusedInputProjection(x)
        for adapter in forwardAdapters {
            y = y + adapter.dropped(x).matmul(adapter.a, transposeB: true).matmul(adapter.b, transposeB: true) * adapter.scaling
        }
        return y
    }

    public override func fusedInputProjection(_ x: Tensor, part: Int) -> Tensor {
        var y = super.fusedInputProjection(x, part: part)
        let e = embedDimension
        for adapter in forwardAdapters {
            let bPart = adapter.b.slice(axis: 0, start: part * e, end: (part + 1) * e)     // [E, r]
            y = y + adapter.dropped(x).matmul(adapter.a, transposeB: true).matmul(bPart, transposeB: true) * adapter.scaling
        }
        return y
    }
}

extension MultiHeadAttention: LoRAAdaptable {
    public func makeLoRAHost() throws -> LoRAHost { try LoRAMultiHeadAttention(base: self) }
}
