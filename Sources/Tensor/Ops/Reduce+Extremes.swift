/// Maximum, minimum, their positions, and variance over axes. (Sum and mean: Reduce.swift.)
extension Tensor {
    // MARK: - max / min

    /// Largest element, a 0-D tensor. See `max(axes:keepDims:)` for NaN and gradient rules.
    public func max() -> Tensor { extreme(axes: Array(0..<rank), keepDims: false, largest: true) }

    /// Largest element over `axes` (negative counts from the end); those axes are dropped, or
    /// kept with size 1 when `keepDims`. Every reduced axis must be non-empty. NaN wins: a slice
    /// holding NaN has maximum NaN (as in PyTorch).
    ///
    /// Backward follows PyTorch's `amax`: the gradient flows to the positions that equal the
    /// maximum, split evenly among ties (`g / k` to each of `k` tied elements). (PyTorch's
    /// `max(dim)`, which also returns indices, would send all of it to one position instead.)
    /// Shapes: `[d₀, …, dₙ] -> [d₀, …, dₙ]` without the reduced axes.
    public func max(axes: [Int], keepDims: Bool = false) -> Tensor {
        extreme(axes: axes, keepDims: keepDims, largest: true)
    }

    /// Largest element along one axis; see `max(axes:keepDims:)`.
    public func max(axis: Int, keepDims: Bool = false) -> Tensor {
        extreme(axes: [axis], keepDims: keepDims, largest: true)
    }

    /// Smallest element, a 0-D tensor. See `min(axes:keepDims:)`.
    public func min() -> Tensor { extreme(axes: Array(0..<rank), keepDims: false, largest: false) }

    /// Smallest element over `axes`; the mirror of `max(axes:keepDims:)` (PyTorch's `amin`:
    /// NaN wins, ties share the gradient evenly).
    public func min(axes: [Int], keepDims: Bool = false) -> Tensor {
        extreme(axes: axes, keepDims: keepDims, largest: false)
    }

    /// Smallest element along one axis; see `min(axes:keepDims:)`.
    public func min(axis: Int, keepDims: Bool = false) -> Tensor {
        extreme(axes: [axis], keepDims: keepDims, largest: false)
    }

    private func extreme(axes: [Int], keepDims: Bool, largest: Bool) -> Tensor {
        let name = largest ? "max" : "min"
        let axes = Set(axes.map { normalizeAxis($0, rank: rank) }).sorted()
        for a in axes {
            precondition(shape[a] > 0, "\(name) over axis \(a) of size 0 in shape \(shape)")
        }
        let x = plain()
        // NaN propagates: once the accumulator is NaN no comparison replaces it.
        let kept = largest
            ? Tensor.reduceKernel(x, axes: axes, initial: -.infinity) { acc, v in v > acc || v.isNaN ? v : acc }
            : Tensor.reduceKernel(x, axes: axes, initial: .infinity) { acc, v in v < acc || v.isNaN ? v : acc }
        let keptShape = kept.shape
        let result = keepDims ? kept : kept.reshaped(Tensor.dropAxes(shape, axes))
        let input = x.detached(), extremes = kept.detached()
        return Tensor.record(result, op: name, inputs: [self]) { g in
            let mask = Tensor.binaryKernel(input, extremes, op: "\(name)-backward") { $0 == $1 ? 1 : 0 }
            let ties = mask.sum(axes: axes, keepDims: true)
            return [mask * (g.reshaped(keptShape) / ties)]
        }
    }

    // MARK: - argmax / argmin

    /// Index of the largest element along `axis`, as an `int64` tensor (read it with
    /// `indexScalars`); the axis is dropped, or kept with size 1 when `keepDims`. Ties give the
    /// first index; NaN counts as larger than any number (both as in PyTorch). No gradient.
    public func argmax(axis: Int, keepDims: Bool = false) -> Tensor {
        argExtreme(axis: axis, keepDims: keepDims, largest: true)
    }

    /// Index of the largest element of the flattened tensor, a 0-D `int64` tensor.
    public func argmax() -> Tensor { reshaped([count]).argmax(axis: 0) }

    /// Index of the smallest element along `axis` (`int64`); see `argmax(axis:keepDims:)`.
    public func argmin(axis: Int, keepDims: Bool = false) -> Tensor {
        argExtreme(axis: axis, keepDims: keepDims, largest: false)
    }

    /// Index of the smallest element of the flattened tensor, a 0-D `int64` tensor.
    public func argmin() -> Tensor { reshaped([count]).argmin(axis: 0) }

    private func argExtreme(axis: Int, keepDims: Bool, largest: Bool) -> Tensor {
        let a = normalizeAxis(axis, rank: rank)
        let x = withNoGrad { plain().toFloat32() }
        let size = rank == 0 ? 1 : shape[a]
        precondition(size > 0, "arg\(largest ? "max" : "min") over axis \(axis) of size 0 in shape \(shape)")
        let outer = rank == 0 ? 1 : shape[..<a].reduce(1, *)
        let inner = rank == 0 ? 1 : shape[(a + 1)...].reduce(1, *)
        var outShape = shape
        if rank > 0 { if keepDims { outShape[a] = 1 } else { outShape.remove(at: a) } }
        let out = Tensor(uninitialized: outShape, dtype: .int64)
        let s = x.floats, d = out.storage.base.assumingMemoryBound(to: Int64.self)
        parallelFor(outer * inner, grain: Swift.max(1, 32_768 / size)) { i0, i1 in
            for i in i0..<i1 {
                let base = s + (i / inner) * size * inner + i % inner
                var best = base[0], index = 0
                for r in 1..<size {
                    let v = base[r * inner]
                    if best.isNaN { break }
                    if v.isNaN || (largest ? v > best : v < best) { best = v; index = r }
                }
                d[i] = Int64(index)
            }
        }
        return out
    }

    // MARK: - variance

    /// Variance over `axes`: `Σ(x − mean)² / (N − correction)` with `N` the number of elements
    /// reduced. `correction: 1` (the default, PyTorch's `unbiased=True`) is Bessel's correction;
    /// `correction: 0` the population variance. With `N ≤ correction` the result is ∞ or NaN, as
    /// in PyTorch.
    ///
    /// A composite of mean, subtraction, multiplication and sum, so it needs no backward of its
    /// own: `∂var/∂x = 2(x − mean)/(N − correction)`.
    public func variance(axes: [Int], keepDims: Bool = false, correction: Int = 1) -> Tensor {
        let axes = Set(axes.map { normalizeAxis($0, rank: rank) }).sorted()
        let n = axes.reduce(1) { $0 * shape[$1] }
        let centered = self - mean(axes: axes, keepDims: true)
        return (centered * centered).sum(axes: axes, keepDims: keepDims) / Float(Swift.max(n - correction, 0))
    }

    /// Variance along one axis; see `variance(axes:keepDims:correction:)`.
    public func variance(axis: Int, keepDims: Bool = false, correction: Int = 1) -> Tensor {
        variance(axes: [axis], keepDims: keepDims, correction: correction)
    }

    /// Variance of all elements, a 0-D tensor; see `variance(axes:keepDims:correction:)`.
    public func variance(correction: Int = 1) -> Tensor {
        variance(axes: Array(0..<rank), keepDims: false, correction: correction)
    }

    /// `√variance` over `axes`; see `variance(axes:keepDims:correction:)`.
    public func standardDeviation(axes: [Int], keepDims: Bool = false, correction: Int = 1) -> Tensor {
        variance(axes: axes, keepDims: keepDims, correction: correction).sqrt()
    }
}
