import NN
import Tensor

/// DoRA (weight-decomposed low-rank adaptation) as a `LoRAVariant`: the adapted weight is
///
///     W' = m · (W + ΔW) / ‖W + ΔW‖,      ΔW = s·B·A,
///
/// the norm taken per output row (over every other dimension) and treated as a constant in
/// backward, as in the paper (§4.3) and PEFT. The magnitude `m` [out] (stored in the host's
/// per-output shape, PEFT's `lora_magnitude_vector`) starts at ‖W + ΔW‖, so a fresh adapter is a
/// no-op. Works on any `WeightDecomposableHost`.
public final class DoRA: LoRAVariant {
    /// ‖W + ΔW‖ per row at merge time, to undo the merge exactly as PEFT does.
    private var mergedNorm: Tensor?

    public init() {}

    /// ‖W‖ per output row, shaped [out, 1, …] to broadcast against W.
    public static func rowNorm(_ w: Tensor) -> Tensor {
        let axes = Array(1..<w.rank)
        return (w * w).sum(axes: axes, keepDims: true).sqrt()
    }

    /// The factor `m / ‖W + ΔW‖` per output, shaped [out] (the magnitude may be stored in any shape
    /// with `out` elements, e.g. PEFT's [1, out, 1, 1] for convolutions).
    static func scale(base: Tensor, delta: Tensor, magnitude: Tensor) -> Tensor {
        let norm = withNoGrad { rowNorm(base.detached() + delta.detached()).reshaped([base.shape[0]]) }
        return magnitude.reshaped([base.shape[0]]) / norm
    }

    public func initialize(_ adapter: LoRAAdapter, baseWeight w: Tensor, host: LoRAHost) throws {
        let host = try Self.decomposable(host)
        let norm = withNoGrad { Self.rowNorm(w.detached() + host.deltaWeight(adapter)).reshaped([w.shape[0]]) }
        adapter.magnitude = host.perOutput(norm)
    }

    public func merged(_ w: Tensor, adapter: LoRAAdapter, host: LoRAHost) -> Tensor {
        let delta = host.deltaWeight(adapter)
        let s = Self.scale(base: w, delta: delta, magnitude: magnitude(adapter).detached())
        mergedNorm = withNoGrad { Self.rowNorm(w + delta) }
        return (w + delta) * s.reshaped(Self.rowShape(w))
    }

    public func unmerged(_ w: Tensor, adapter: LoRAAdapter, host: LoRAHost) -> Tensor {
        let delta = host.deltaWeight(adapter)
        let norm = mergedNorm ?? Self.rowNorm(w)
        mergedNorm = nil
        return w * norm / magnitude(adapter).detached().reshaped(Self.rowShape(w)) - delta
    }

    /// `y + (s − 1)·W h + s·scaling·B(A(h))` with `s = m / ‖W + ΔW‖`: the base output rescaled
    /// per output plus the rescaled update, without forming W'.
    public func forward(_ y: Tensor, input h: Tensor, adapter: LoRAAdapter, host: LoRAHost) -> Tensor {
        guard let host = try? Self.decomposable(host) else {
            preconditionFailure("DoRA on \(type(of: host)), which initialize refuses")
        }
        let w = host.baseWeight.tensor!
        let lora = host.adapterOutput(h, adapter)
        let s = host.perOutput(Self.scale(base: w, delta: host.deltaWeight(adapter), magnitude: magnitude(adapter)))
        let baseNoBias = host.baseOutputWithoutBias(h)
        return y + baseNoBias * (s - 1) + lora * (s * adapter.scaling)
    }

    private func magnitude(_ adapter: LoRAAdapter) -> Tensor {
        guard let m = adapter.magnitude else { preconditionFailure("a DoRA adapter without its magnitude vector") }
        return m
    }

    private static func rowShape(_ w: Tensor) -> [Int] { [w.shape[0]] + [Int](repeating: 1, count: w.rank - 1) }

    private static func decomposable(_ host: LoRAHost) throws -> WeightDecomposableHost {
        guard let h = host as? WeightDecomposableHost, h.isWeightDecomposable else {
            throw LoRAError.unsupported(key: "", reason:
                "DoRA needs a layer whose update has its weight's shape (Linear, Conv2d without groups), not \(type(of: host))")
        }
        return h
    }
}
