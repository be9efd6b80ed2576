import Foundation

/// Softmax and log-softmax over one axis: primitives with fused Swift kernels (forward and
/// backward here). Written by hand rather than with oneDNN's softmax because fully masked rows
/// must give zeros (oneDNN and PyTorch give NaN) and the fused cross-entropy needs the same
/// vectorised row loops (`RowMath`, `fastExp`). Single-threaded on a [2048, 32000] row block the
/// forward runs at about 0.6× PyTorch's AVX2 kernel (this package compiles for baseline x86-64,
/// four lanes), the backward at about 1.8×.
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
                if st == 1 && !logarithm { RowMath.softmax(src, dst, n); continue }
                let m = st == 1 ? RowMath.max(src, n) : (0..<n).reduce(-Float.infinity) { Swift.max($0, src[$1 * st]) }
                if m == -.infinity {
                    // Every element is masked: zeros (log: −∞) instead of 0/0, unless a NaN hides there.
                    let nan = (0..<n).contains { src[$0 * st].isNaN }
                    let fill: Float = nan ? .nan : logarithm ? -.infinity : 0
                    for i in 0..<n { dst[i * st] = fill }
                } else if st == 1 {
                    let logSum = Foundation.log(RowMath.sum(n, { fastExp(load8(src, $0) - m) },
                                                               { fastExp(src[$0] - m) }))
                    for i in 0..<n { dst[i] = (src[i] - m) - logSum }
                } else {
                    var sum: Float = 0
                    for i in 0..<n { sum += fastExp(src[i * st] - m) }
                    if logarithm {
                        let logSum = Foundation.log(sum)
                        for i in 0..<n { dst[i * st] = (src[i * st] - m) - logSum }
                    } else {
                        let inv = 1 / sum
                        for i in 0..<n { dst[i * st] = fastExp(src[i * st] - m) * inv }
                    }
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
                if logarithm {
                    let total = st == 1 ? RowMath.sum(gr, n) : (0..<n).reduce(0) { $0 + gr[$1 * st] }
                    for i in 0..<n { dr[i * st] = gr[i * st] - fastExp(yr[i * st]) * total }
                } else {
                    let dot = st == 1 ? RowMath.sum(n, { load8(gr, $0) * load8(yr, $0) }, { gr[$0] * yr[$0] })
                                      : (0..<n).reduce(0) { $0 + gr[$1 * st] * yr[$1 * st] }
                    for i in 0..<n { dr[i * st] = yr[i * st] * (gr[i * st] - dot) }
                }
            }
        }
        return out
    }
}

// MARK: - Vectorised row arithmetic

/// Reductions over contiguous rows, eight lanes at a time. Release builds do not vectorise a
/// plain `for` reduction (floating-point addition is not reassociated), so these spell the lanes
/// out; elementwise loops vectorise by themselves.
enum RowMath {
    /// `Σ_{i<n} term(i)`: `vector(i)` gives the terms `i..<i+8`, `scalar(i)` one term (the tail).
    @inline(__always)
    static func sum(_ n: Int, _ vector: (Int) -> SIMD8<Float>, _ scalar: (Int) -> Float) -> Float {
        var acc = SIMD8<Float>()
        var i = 0
        while i + 8 <= n { acc += vector(i); i += 8 }
        var s = acc.sum()
        while i < n { s += scalar(i); i += 1 }
        return s
    }

    /// `Σ p[i]`.
    @inline(__always)
    static func sum(_ p: UnsafeMutablePointer<Float>, _ n: Int) -> Float {
        sum(n, { load8(p, $0) }, { p[$0] })
    }

    /// Writes `d[i] = exp(s[i] − shift)` and returns their sum, in one pass.
    @inline(__always)
    static func storeExp(_ s: UnsafeMutablePointer<Float>, _ d: UnsafeMutablePointer<Float>, _ n: Int,
                         shift: Float) -> Float {
        sum(n, { i in
            let e = fastExp(load8(s, i) - shift)
            UnsafeMutableRawPointer(d + i).storeBytes(of: e, as: SIMD8<Float>.self)
            return e
        }, { i in
            d[i] = fastExp(s[i] - shift)
            return d[i]
        })
    }

    /// Softmax of the contiguous row `s[0..<n]` into `d` (which may be `s`). A row masked
    /// everywhere (max −∞) becomes zeros, or NaNs if a NaN hides there.
    @inline(__always)
    static func softmax(_ s: UnsafeMutablePointer<Float>, _ d: UnsafeMutablePointer<Float>, _ n: Int) {
        let m = max(s, n)
        if m == -.infinity {
            let fill: Float = (0..<n).contains { s[$0].isNaN } ? .nan : 0
            for i in 0..<n { d[i] = fill }
            return
        }
        let inv = 1 / storeExp(s, d, n, shift: m)
        for i in 0..<n { d[i] *= inv }
    }

    /// `max p[i]` (−∞ for an empty row; NaNs are skipped).
    @inline(__always)
    static func max(_ p: UnsafeMutablePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>(repeating: -.infinity)
        var i = 0
        while i + 8 <= n {
            let v = load8(p, i)
            acc.replace(with: v, where: v .> acc)
            i += 8
        }
        var m = acc.max()
        while i < n { if p[i] > m { m = p[i] }; i += 1 }
        return m
    }
}

/// Eight floats from `p + i` (unaligned).
@inline(__always)
func load8(_ p: UnsafeMutablePointer<Float>, _ i: Int) -> SIMD8<Float> {
    UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
func load8(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD8<Float> {
    UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
}

/// `eˣ` lane by lane, the same arithmetic as the scalar `fastExp`.
@inline(__always)
func fastExp(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let lo = SIMD8<Float>(repeating: -87.336_54), hi = SIMD8<Float>(repeating: 88.722_83)
    // pointwiseMin/Max and clamped(…) are not inlined (a call per vector): compare and replace.
    var c = x.replacing(with: lo, where: x .< lo)
    c.replace(with: hi, where: c .> hi)
    let magic = SIMD8<Float>(repeating: 12_582_912)
    let t = c * 1.442_695_04 + magic
    let n = t - magic
    let r = (c - n * 0.693_359_375) - n * -2.121_944_4e-4
    var p = SIMD8<Float>(repeating: 1.987_569_15e-4)
    p = p * r + 1.398_199_950_7e-3
    p = p * r + 8.333_451_907_3e-3
    p = p * r + 4.166_579_589_4e-2
    p = p * r + 1.666_666_545_9e-1
    p = p * r + 5.000_000_120_1e-1
    p = p * r * r + r + 1
    let k = unsafeBitCast(unsafeBitCast(t, to: SIMD8<UInt32>.self) &- 0x4B40_0000, to: SIMD8<Int32>.self)
    let n1 = k &>> 1, n2 = k &- n1
    var y = p * unsafeBitCast((n1 &+ 127) &<< 23, to: SIMD8<Float>.self)
              * unsafeBitCast((n2 &+ 127) &<< 23, to: SIMD8<Float>.self)
    y.replace(with: 0, where: x .< lo)
    y.replace(with: .infinity, where: x .> hi)
    y.replace(with: x, where: x .!= x)
    return y
}

/// `eˣ` in plain arithmetic (Cephes' `expf` polynomial, within 2 ulp of `expf`), so that loops
/// over rows vectorise; `Foundation.exp` is a call per element. Written here because softmax and
/// the fused losses are the loops that need it. `exp(−∞) = 0` exactly, so masked scores vanish;
/// NaN stays NaN; arguments above 88.7 (where `Float` overflows) give +∞.
@inline(__always)
func fastExp(_ x: Float) -> Float {
    let lo: Float = -87.336_54, hi: Float = 88.722_83
    let c = x < lo ? lo : (x > hi ? hi : x)
    // eˣ = 2ⁿ · eʳ with n = round(x / ln 2), |r| ≤ ln 2 / 2. Adding 1.5·2²³ rounds to an integer
    // held in the low mantissa bits (no rounding instruction needed); ln 2 is split in two so
    // that r is exact.
    let t = c * 1.442_695_04 + 12_582_912
    let n = t - 12_582_912
    let r = (c - n * 0.693_359_375) - n * -2.121_944_4e-4
    var p: Float = 1.987_569_15e-4
    p = p * r + 1.398_199_950_7e-3
    p = p * r + 8.333_451_907_3e-3
    p = p * r + 4.166_579_589_4e-2
    p = p * r + 1.666_666_545_9e-1
    p = p * r + 5.000_000_120_1e-1
    p = p * r * r + r + 1
    // 2ⁿ as two factors 2^(n/2) so that n = 128 (x near 88.7) and n = −126 stay representable.
    let n1 = Int32(bitPattern: t.bitPattern &- 0x4B40_0000) &>> 1
    let n2 = Int32(bitPattern: t.bitPattern &- 0x4B40_0000) &- n1
    let y = p * Float(bitPattern: UInt32(bitPattern: (n1 &+ 127) &<< 23))
              * Float(bitPattern: UInt32(bitPattern: (n2 &+ 127) &<< 23))
    return x < lo ? 0 : x > hi ? .infinity : (x == x ? y : x)
}
