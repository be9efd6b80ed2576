import NN
import Tensor

/// Scales the gradients of `parameters` so that their global L2 norm is at most `maxNorm`, as
/// PyTorch's `torch.nn.utils.clip_grad_norm_`:
///
///     n = √(Σ over parameters Σ over elements g²)
///     c = maxNorm / (n + 1e-6)
///     g ← g · c    for every gradient, when c < 1
///
/// Parameters without a gradient are left out; a parameter listed twice (the same slot, or tied
/// weights sharing storage) counts once. The sum of squares is accumulated in double precision, in
/// fixed blocks, so the result does not depend on the thread count.
///
/// A non-finite norm (a gradient holds an infinity or NaN) is returned as it is and the gradients
/// are left alone, rather than all set to NaN as PyTorch would: the trainer's non-finite guard sees
/// the returned norm and decides (skip the step, stop the run).
///
/// Clipped gradients are new tensors, not scaled in place, because gradients may share storage
/// (the tape hands one output gradient to both inputs of an addition).
///
/// - Parameters:
///   - parameters: the parameters whose gradients are clipped, e.g. `module.trainableParameters()`.
///   - maxNorm: the largest norm allowed, > 0.
/// - Returns: the global norm before clipping (0 when no parameter has a gradient).
@discardableResult
public func clipGradientNorm(_ parameters: [(key: String, slot: ParameterSlot)], maxNorm: Float) -> Float {
    precondition(maxNorm > 0, "clipGradientNorm: maxNorm must be > 0, got \(maxNorm)")
    let tensors = uniqueParameters(parameters).compactMap { $0.slot.tensor }
    let grads = tensors.compactMap { $0.grad?.plain() }
    var sumOfSquares = 0.0
    for g in grads { sumOfSquares += squaredNorm(g) }
    let norm = Float(sumOfSquares.squareRoot())
    guard norm.isFinite else { return norm }
    let coefficient = maxNorm / (norm + 1e-6)
    guard coefficient < 1 else { return norm }
    // Every scaled gradient is computed before any is set: tied slots share one gradient.
    let scaled = withNoGrad { tensors.map { t in t.grad.map { $0.scaled(by: coefficient) } } }
    for (t, g) in zip(tensors, scaled) where g != nil { t.setGrad(g) }
    return norm
}

/// `clipGradientNorm` over every parameter of `groups` (an optimizer's `groups`).
@discardableResult
public func clipGradientNorm(_ groups: [ParameterGroup], maxNorm: Float) -> Float {
    clipGradientNorm(groups.flatMap { $0.parameters }, maxNorm: maxNorm)
}

/// Σ g² of a plain F32 tensor in double precision: blocks of fixed size summed in parallel, then
/// the block sums added in order.
func squaredNorm(_ tensor: Tensor) -> Double {
    let block = 4096
    return tensor.withUnsafeMutableFloats { buffer in
        let n = buffer.count
        guard n > 0 else { return 0 }
        let x = buffer.baseAddress!
        let blocks = (n + block - 1) / block
        var partial = [Double](repeating: 0, count: blocks)
        partial.withUnsafeMutableBufferPointer { sums in
            let s = sums.baseAddress!
            parallelFor(blocks, grain: 8) { begin, end in
                for b in begin..<end {
                    var acc = 0.0
                    for k in (b * block)..<min(n, (b + 1) * block) {
                        let v = Double(x[k])
                        acc += v * v
                    }
                    s[b] = acc
                }
            }
        }
        return partial.reduce(0, +)
    }
}
