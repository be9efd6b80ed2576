import NN
import Tensor

/// Builds one adapter out of weighted existing ones (PEFT's `add_weighted_adapter`).
enum AdapterCombination {
    /// The combined adapter, with scaling 1 (alpha = rank) so its factors carry the weights.
    /// - `cat`: A = [A₁; A₂; …] (rows), B = [w₁s₁B₁, w₂s₂B₂, …] (columns), so B·A = Σ wᵢsᵢBᵢAᵢ exactly.
    /// - `linear`: A = Σ √wᵢ·sᵢ·Aᵢ, B = Σ √wᵢ·Bᵢ (ranks must agree; cross terms make it approximate).
    static func combine(_ parts: [(LoRAAdapter, Float)], combination: LoRAModel.Combination,
                        key: String, host: LoRAHost) throws -> LoRAAdapter {
        let seed = UInt64(parts.count)
        switch combination {
        case .cat:
            let a = withNoGrad { Tensor.concat(parts.map { $0.0.a.detached() }, axis: 0) }
            let b = withNoGrad { Tensor.concat(parts.map { $0.0.b.detached() * ($0.1 * $0.0.scaling) }, axis: 1) }
            let r = a.shape[0]
            return LoRAAdapter(a: a, b: b, settings: AdapterSettings(rank: r, alpha: Float(r)),
                               aName: host.peftFactorKeys.a, bName: host.peftFactorKeys.b, seed: seed)
        case .linear:
            let r = parts[0].0.rank
            guard parts.allSatisfy({ $0.0.rank == r }) else {
                throw LoRAError.unsupported(key: key, reason: "linear combination needs equal ranks, got \(parts.map { $0.0.rank })")
            }
            var a = Tensor.zeros(parts[0].0.a.shape), b = Tensor.zeros(parts[0].0.b.shape)
            withNoGrad {
                for (adapter, w) in parts {
                    a = a + adapter.a.detached() * (w.squareRoot() * adapter.scaling)
                    b = b + adapter.b.detached() * w.squareRoot()
                }
            }
            return LoRAAdapter(a: a, b: b, settings: AdapterSettings(rank: r, alpha: Float(r)),
                               aName: host.peftFactorKeys.a, bName: host.peftFactorKeys.b, seed: seed)
        }
    }
}
