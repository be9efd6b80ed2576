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
    public let adapters = LoRAAdapters()

    public init(base: MultiHeadAttention) throws {
        guard base.inProjectionWeight != nil else {
            throw LoRAError.unsupported(key: "", reason:
                "LoRA on MultiHeadAttention adapts the fused in_proj_weight; this layer has separate projections (target q_proj/k_proj/v_proj/out_proj instead)")
        }
        super.init(sharing: base)
    }

    public var baseWeight: ParameterSlot {
        guard let slot = parameterSlot("in_proj_weight") else { preconditionFailure("fused attention without in_proj_weight") }
        return slot
    }

    public var baseParameterCount: Int { (inProjectionWeight?.count ?? 0) + (inProjectionBias?.count ?? 0) }

    public func makeFactors(_ settings: AdapterSettings, generator: inout RandomGenerator) throws -> (a: Tensor, b: Tensor) {
        LoRAInit.factors(rank: settings.rank, inFeatures: embedDimension, outFeatures: 3 * embedDimension,
                         fanIn: embedDimension, settings: settings, generator: &generator)
    }

    public func deltaWeight(_ adapter: LoRAAdapter) -> Tensor {
        adapter.b.matmul(adapter.a) * adapter.scaling                         // [3E, r]·[r, E]
    }

    public override func fusedInputProjection(_ x: Tensor) -> Tensor {
        applyAdapters(to: super.fusedInputProjection(x), input: x) { y, h, adapter in
            y = y + h.matmul(adapter.a, transposeB: true).matmul(adapter.b, transposeB: true) * adapter.scaling
        }
    }

    public override func fusedInputProjection(_ x: Tensor, part: Int) -> Tensor {
        let e = embedDimension
        return applyAdapters(to: super.fusedInputProjection(x, part: part), input: x) { y, h, adapter in
            let bPart = adapter.b.slice(axis: 0, start: part * e, end: (part + 1) * e)     // [E, r]
            y = y + h.matmul(adapter.a, transposeB: true).matmul(bPart, transposeB: true) * adapter.scaling
        }
    }
}

extension MultiHeadAttention: LoRAAdaptable {
    public func makeLoRAHost() throws -> LoRAHost { try LoRAMultiHeadAttention(base: self) }
}
