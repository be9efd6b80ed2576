import Foundation

/// Softmax and log-softmax over one axis: primitives with fused Swift kernels (forward and
/// backward here), written by hand so that the row reductions (max, Σ exp) and the division run in
/// one pass over each row without temporaries.
extension Tensor {
    /// `softmax(x)ᵢ = exp(xᵢ − m) / Σⱼ exp(xⱼ − m)` along `axis`, with `m` the row's maximum (so
    /// large values do not overflow).
    ///
    /// A row whose elements are all −∞ (a fully masked row) gives zeros, not NaN as in PyTorch:
    /// attention over only padding then yields a zero vector and a zero gradient.
    ///
    /// Backward: `dx = y ⊙ (g − Σ g ⊙ y)` along the axis; only the output `y` is kept.
    /// - Parameter axis: the axis to normalise (negative counts from the end). Shape is kept.
    public func softmax(axis: Int = -1) -> Tensor {
        precondition(rank >= 1, "softmax needs rank ≥ 1, shape is \(shape)")
        let rows = AxisRows(shape: shape, axis: axis)
        let y = Tensor.softmaxForward(plain(), rows, logarithm: false)
        return Tensor.record(y, op: "softmax", inputs: [self]) { g in
            [Tensor.softmaxBackward(g.plain(), output: y, rows, logarithm: false)]
        }
    }

    /// `logSoftmax(x)ᵢ = xᵢ − m − log Σⱼ exp(xⱼ − m)` along `axis` (`m` the row's maximum).
    ///
    /// A row of −∞ gives −∞ everywhere (PyTorch: NaN).
    ///
    /// Backward: `dx = g − softmax(x) ⊙ Σ g` along the axis, with `softmax = exp(y)`; only the
    /// output `y` is kept.
    public func logSoftmax(axis: Int = -1) -> Tensor {
        precondition(rank >= 1, "logSoftmax needs rank ≥ 1, shape is \(shape)")
        let rows = AxisRows(shape: shape, axis: axis)
        let y = Tensor.softmaxForward(plain(), rows, logarithm: true)
        return Tensor.record(y, op: "log-softmax", inputs: [self]) { g in
            [Tensor.softmaxBackward(g.plain(), output: y, rows, logarithm: true)]
        }
    }
}

/// The rows of a tensor along one axis: `outer · inner` rows of `length` elements each, row `r`
/// starting at `start(r)` with elements `stride` apart (1 when the axis is the last).
struct AxisRows {
    let outer: Int
    let length: Int
    let inner: Int

    init(shape: [Int], axis: Int) {
        let a = normalizeAxis(axis, rank: shape.count)
        outer = shape[..<a].reduce(1, *)
        length = shape[a]
        inner = shape[(a + 1)...].reduce(1, *)
    }

    var count: Int { outer * inner }
    var stride: Int { inner }
    /// Rows per parallel chunk, so that each chunk has some tens of thousands of elements.
    var grain: Int { Swift.max(1, 16_384 / Swift.max(length, 1)) }

    @inline(__always) func start(_ r: Int) -> Int {
        inner == 1 ? r * length : (r / inner) * length * inner + r % inner
    }
}

extension Tensor {
    /// Softmax (or log-softmax) of plain `x` along `rows`.
    static func softmaxForward(_ x: Tensor, _ rows: AxisRows, logarithm: Bool) -> Tensor {
        KernelTrace.note(logarithm ? "log-softmax" : "softmax")
        let out = Tensor(uninitialized: x.shape)
        let s = x.floats, d = out.storage.floats
        let n = rows.length, st = rows.stride
        parallelFor(rows.count, grain: rows.grain) { r0, r1 in
            for r in r0..<r1 {
                let src = s + rows.start(r), dst = d + rows.start(r)
                var m = -Float.infinity
                for i in 0..<n { m = Swift.max(m, src[i * st]) }
                if m == -.infinity {
                    // Every element is masked: zeros (log: −∞) instead of 0/0.
                    let fill: Float = logarithm ? -.infinity : 0
                    for i in 0..<n { dst[i * st] = fill }
                    continue
                }
                var sum: Float = 0
                if logarithm {
                    for i in 0..<n { sum += Foundation.exp(src[i * st] - m) }
                    let logSum = Foundation.log(sum)
                    for i in 0..<n { dst[i * st] = (src[i * st] - m) - logSum }
                } else {
                    for i in 0..<n {
                        let e = Foundation.exp(src[i * st] - m)
                        dst[i * st] = e
                        sum += e
                    }
                    let inv = 1 / sum
                    for i in 0..<n { dst[i * st] *= inv }
                }
            }
        }
        return out
    }

    /// Gradient of softmax (`y ⊙ (g − Σ g y)`) or log-softmax (`g − exp(y) Σ g`) from the output `y`.
    static func softmaxBackward(_ g: Tensor, output y: Tensor, _ rows: AxisRows, logarithm: Bool) -> Tensor {
        KernelTrace.note(logarithm ? "log-softmax.backward" : "softmax.backward")
        let out = Tensor(uninitialized: y.shape)
        let pg = g.floats, py = y.floats, d = out.storage.floats
        let n = rows.length, st = rows.stride
        parallelFor(rows.count, grain: rows.grain) { r0, r1 in
            for r in r0..<r1 {
                let o = rows.start(r)
                let gr = pg + o, yr = py + o, dr = d + o
                var dot: Float = 0
                if logarithm {
                    for i in 0..<n { dot += gr[i * st] }
                    for i in 0..<n { dr[i * st] = gr[i * st] - Foundation.exp(yr[i * st]) * dot }
                } else {
                    for i in 0..<n { dot += gr[i * st] * yr[i * st] }
                    for i in 0..<n { dr[i * st] = yr[i * st] * (gr[i * st] - dot) }
                }
            }
        }
        return out
    }
}
