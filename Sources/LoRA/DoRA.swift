import NN
import Tensor

/// DoRA (weight-decomposed low-rank adaptation), as a strategy over any host whose base weight has
/// the output dimension first: the adapted weight is `m · (W + ΔW) / ‖W + ΔW‖`, the norm taken per
/// output row (over every other dimension) and treated as a constant in backward, as in the paper
/// and PEFT.
public enum DoRA {
    /// ‖W‖ per output row, shaped [out, 1, …] to broadcast against W.
    public static func rowNorm(_ w: Tensor) -> Tensor {
        let axes = Array(1..<w.rank)
        return (w * w).sum(axes: axes, keepDims: true).sqrt()
    }

    /// The magnitude a fresh DoRA adapter starts from: ‖W + ΔW‖ per row, so it starts as a no-op.
    static func initialMagnitude(base: Tensor, delta: Tensor) -> Tensor {
        withNoGrad { rowNorm(base + delta).reshaped([base.shape[0]]) }
    }

    /// The factor `m / ‖W + ΔW‖` per output, shaped [out] (the magnitude may be stored in any shape
    /// with `out` elements, e.g. PEFT's [1, out, 1, 1] for convolutions).
    static func scale(base: Tensor, delta: Tensor, magnitude: Tensor) -> Tensor {
        let norm = withNoGrad { rowNorm(base.detached() + delta.detached()).reshaped([base.shape[0]]) }
        return magnitude.reshaped([base.shape[0]]) / norm
    }

    static func mergedWeight<H: LoRAHost>(base w: Tensor, host: H, adapter: LoRAAdapter) -> Tensor {
        let delta = host.deltaWeight(adapter)
        let s = scale(base: w, delta: delta, magnitude: adapter.magnitude!.detached())
        let shape = [w.shape[0]] + [Int](repeating: 1, count: w.rank - 1)
        adapter.mergedNorm = withNoGrad { rowNorm(w + delta) }
        return (w + delta) * s.reshaped(shape)
    }

    static func unmergedWeight<H: LoRAHost>(merged w: Tensor, host: H, adapter: LoRAAdapter) -> Tensor {
        let delta = host.deltaWeight(adapter)
        let norm = adapter.mergedNorm ?? rowNorm(w)
        let shape = [w.shape[0]] + [Int](repeating: 1, count: w.rank - 1)
        adapter.mergedNorm = nil
        return w * norm / adapter.magnitude!.detached().reshaped(shape) - delta
    }
}
