/// Slicing along an axis, and splitting into pieces (composites of slices).
///
/// These work on any element type (an `int64` label tensor slices like a float one); gradients
/// exist for float tensors only. Every operation views a tensor as `[outer, size, inner]` around
/// the axis and copies whole `inner` rows.
extension Tensor {
    /// Elements `start, start + step, …` below `end` along `axis`, as Python's
    /// `x[..., start:end:step]`: negative `start`/`end` count from the end, both are clamped into
    /// `0...size` (so out-of-range bounds give a shorter or empty slice, never an error), and
    /// `end: nil` means the size. `step` must be ≥ 1.
    ///
    /// Shapes: `[…, size, …] -> […, ⌈(end − start)/step⌉, …]` (0 when `end ≤ start`).
    /// Backward: the gradient is written into zeros of the input's shape at the sliced positions.
    public func slice(axis: Int, start: Int = 0, end: Int? = nil, step: Int = 1) -> Tensor {
        precondition(rank >= 1, "slice needs rank ≥ 1, shape is \(shape)")
        precondition(step >= 1, "slice step must be ≥ 1, got \(step)")
        let a = normalizeAxis(axis, rank: rank)
        let size = shape[a]
        func clampBound(_ v: Int) -> Int { Swift.min(Swift.max(v < 0 ? v + size : v, 0), size) }
        let lo = clampBound(start), hi = clampBound(end ?? size)
        let length = hi > lo ? (hi - lo + step - 1) / step : 0
        if lo == 0 && length == size && (step == 1 || size <= 1) { return self }

        let x = plain()
        var outShape = shape
        outShape[a] = length
        let out = Tensor(uninitialized: outShape, dtype: dtype)
        let outer = shape[..<a].reduce(1, *), inner = shape[(a + 1)...].reduce(1, *)
        let width = dtype.byteSize
        let source = x.storage.base + x.offset * width
        if step == 1 {
            Tensor.copyBlocks(from: source + lo * inner * width, stride: size * inner, to: out.storage.base,
                              stride: length * inner, outer: outer, length: length * inner, width: width)
        } else {
            Tensor.copyRows(from: source, rowsPerOuter: size, to: out.storage.base, rowsPerOuter: length, start: 0,
                            outer: outer, count: length, inner: inner, width: width) { lo + $0 * step }
        }
        let inShape = shape
        return Tensor.record(out, op: "slice", inputs: [self]) { g in
            let gp = g.plain()
            let grad = Tensor.zeros(inShape)
            let gradient = gp.storage.base + gp.offset * 4
            if step == 1 {
                Tensor.copyBlocks(from: gradient, stride: length * inner, to: grad.storage.base + lo * inner * 4,
                                  stride: size * inner, outer: outer, length: length * inner, width: 4)
            } else {
                Tensor.copyRows(from: gradient, rowsPerOuter: length, to: grad.storage.base, rowsPerOuter: size,
                                start: 0, outer: outer, count: length, inner: inner, width: 4,
                                destination: { lo + $0 * step }) { $0 }
            }
            return [grad]
        }
    }

    /// Elements at positions `range` along `axis` (`x.slice(axis: 1, 2..<5)`, `…, 3...`, `…, ..<4`).
    /// The range must lie within `0...size` (a programmer error otherwise, unlike the clamping
    /// `slice(axis:start:end:step:)`).
    public func slice<R: RangeExpression>(axis: Int, _ range: R) -> Tensor where R.Bound == Int {
        precondition(rank >= 1, "slice needs rank ≥ 1, shape is \(shape)")
        let size = shape[normalizeAxis(axis, rank: rank)]
        let r = range.relative(to: 0..<size)
        precondition(r.lowerBound >= 0 && r.upperBound <= size,
                     "slice range \(r) is out of bounds 0..<\(size) for axis \(axis) of shape \(shape)")
        return slice(axis: axis, start: r.lowerBound, end: r.upperBound)
    }

    /// Splits along `axis` into consecutive pieces of the given sizes, which must add up to the
    /// axis' size. Each piece is a slice, so gradients flow back from every piece that is used.
    public func split(sizes: [Int], axis: Int) -> [Tensor] {
        let a = normalizeAxis(axis, rank: rank)
        precondition(sizes.allSatisfy { $0 >= 0 } && sizes.reduce(0, +) == shape[a],
                     "split sizes \(sizes) do not add up to \(shape[a]) (axis \(axis) of shape \(shape))")
        var start = 0
        return sizes.map { n in
            defer { start += n }
            return slice(axis: a, start: start, end: start + n)
        }
    }

    /// Splits along `axis` into pieces of `size` elements, the last one smaller when the axis'
    /// size is not a multiple (PyTorch's `split(size, dim)`).
    public func split(size: Int, axis: Int) -> [Tensor] {
        precondition(size >= 1, "split size must be ≥ 1, got \(size)")
        let n = shape[normalizeAxis(axis, rank: rank)]
        if n == 0 { return [self] }
        return split(sizes: stride(from: 0, to: n, by: size).map { Swift.min(size, n - $0) }, axis: axis)
    }

    /// Splits along `axis` into `chunks` pieces of `⌈size/chunks⌉` elements, the last one smaller;
    /// as PyTorch's `chunk`, this can give fewer than `chunks` pieces (5 split in 4 gives 2, 2, 1).
    public func chunked(_ chunks: Int, axis: Int) -> [Tensor] {
        precondition(chunks >= 1, "chunk count must be ≥ 1, got \(chunks)")
        let n = shape[normalizeAxis(axis, rank: rank)]
        return split(size: Swift.max(1, (n + chunks - 1) / chunks), axis: axis)
    }
}

// MARK: - Row kernels

extension Tensor {
    /// Copies `outer` blocks of `length` elements of `width` bytes: block `o` goes from
    /// `src + o·srcStride` to `dst + o·dstStride` (strides in elements). The contiguous case of
    /// slicing with step 1 and of concatenation: one `memcpy` per block.
    static func copyBlocks(from src: UnsafeRawPointer, stride srcStride: Int, to dst: UnsafeMutableRawPointer,
                           stride dstStride: Int, outer: Int, length: Int, width: Int) {
        if length == 0 { return }
        parallelFor(outer, grain: Swift.max(1, 262_144 / (length * width))) { o0, o1 in
            for o in o0..<o1 {
                (dst + o * dstStride * width).copyMemory(from: src + o * srcStride * width, byteCount: length * width)
            }
        }
    }


    /// Copies whole rows of `inner` elements of `width` bytes, for `o < outer`, `k < count`:
    /// `dst[o, destination(k), :] = src[o, source(k), :]`, with `src` holding `srcRows` rows per
    /// outer index and `dst` holding `dstRows`. Destinations must not repeat (no accumulation).
    @inline(__always)
    static func copyRows(from src: UnsafeRawPointer, rowsPerOuter srcRows: Int,
                         to dst: UnsafeMutableRawPointer, rowsPerOuter dstRows: Int, start: Int,
                         outer: Int, count: Int, inner: Int, width: Int,
                         destination: (Int) -> Int = { $0 }, source: (Int) -> Int) {
        switch width {
        case 8: copyRowsTyped(UInt64.self, src, srcRows, dst, dstRows, start, outer, count, inner, destination, source)
        case 4: copyRowsTyped(UInt32.self, src, srcRows, dst, dstRows, start, outer, count, inner, destination, source)
        case 2: copyRowsTyped(UInt16.self, src, srcRows, dst, dstRows, start, outer, count, inner, destination, source)
        default:
            precondition(width == 1, "unsupported element width \(width)")
            copyRowsTyped(UInt8.self, src, srcRows, dst, dstRows, start, outer, count, inner, destination, source)
        }
    }

    @inline(__always)
    private static func copyRowsTyped<T>(_: T.Type, _ src: UnsafeRawPointer, _ srcRows: Int,
                                         _ dst: UnsafeMutableRawPointer, _ dstRows: Int, _ start: Int,
                                         _ outer: Int, _ count: Int, _ inner: Int,
                                         _ destination: (Int) -> Int, _ source: (Int) -> Int) {
        let s = src.assumingMemoryBound(to: T.self), d = dst.assumingMemoryBound(to: T.self)
        parallelFor(outer * count, grain: Swift.max(1, 32_768 / Swift.max(inner, 1))) { i0, i1 in
            for i in i0..<i1 {
                let o = i / count, k = i % count
                let from = s + (o * srcRows + source(k)) * inner
                let to = d + (o * dstRows + start + destination(k)) * inner
                for j in 0..<inner { to[j] = from[j] }
            }
        }
    }

    /// Accumulates float rows: `dst[o, destination(k), :] += src[o, k, :]` for `o < outer`,
    /// `k < count`, skipping `k` where `destination` is nil. Destinations may repeat (the
    /// backward of index-select and embedding), so the work is split over `(o, column)` ranges,
    /// never over `k`, and no two threads touch the same element.
    @inline(__always)
    static func addRows(from src: UnsafePointer<Float>, rowsPerOuter srcRows: Int,
                        to dst: UnsafeMutablePointer<Float>, rowsPerOuter dstRows: Int,
                        outer: Int, count: Int, inner: Int, destination: (Int) -> Int?) {
        parallelFor(outer * inner, grain: Swift.max(1, 32_768 / Swift.max(count, 1))) { i0, i1 in
            var i = i0
            while i < i1 {
                let o = i / inner, j0 = i % inner
                let j1 = Swift.min(inner, j0 + (i1 - i))
                for k in 0..<count {
                    guard let p = destination(k) else { continue }
                    let from = src + (o * srcRows + k) * inner
                    let to = dst + (o * dstRows + p) * inner
                    for j in j0..<j1 { to[j] += from[j] }
                }
                i += j1 - j0
            }
        }
    }
}
