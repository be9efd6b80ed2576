/// Shape operations: reshape (a free view of plain data), permute and transpose (copies).
extension Tensor {
    /// The same elements under another shape; one dimension may be -1 (inferred).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var target = newShape
        if let i = target.firstIndex(of: -1) {
            let known = target.enumerated().filter { $0.offset != i }.reduce(1) { $0 * $1.element }
            precondition(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newShape)")
            target[i] = count / known
        }
        precondition(target.reduce(1, *) == count && target.allSatisfy { $0 >= 0 },
                     "cannot reshape \(shape) (\(count) elements) to \(newShape)")
        if target == shape { return self }
        let x = plain()
        let out = Tensor(shape: target, storage: x.storage, offset: x.offset)
        let inShape = shape
        return Tensor.record(out, op: "reshape", inputs: [self]) { g in [g.reshaped(inShape)] }
    }

    /// Flattens dimensions `start...end` into one.
    public func flattened(from start: Int = 0, to end: Int = -1) -> Tensor {
        if rank == 0 { return reshaped([1]) }
        let s = normalizeAxis(start, rank: rank), e = normalizeAxis(end, rank: rank)
        let merged = shape[s...e].reduce(1, *)
        return reshaped(Array(shape[..<s]) + [merged] + Array(shape[(e + 1)...]))
    }

    /// Inserts a dimension of size 1 at `axis`.
    public func unsqueezed(_ axis: Int) -> Tensor {
        let a = axis < 0 ? axis + rank + 1 : axis
        precondition(a >= 0 && a <= rank, "unsqueeze axis \(axis) out of range for rank \(rank)")
        var s = shape
        s.insert(1, at: a)
        return reshaped(s)
    }

    /// Removes dimension `axis`, which must have size 1.
    public func squeezed(_ axis: Int) -> Tensor {
        let a = normalizeAxis(axis, rank: rank)
        precondition(shape[a] == 1, "squeeze axis \(axis) has size \(shape[a]) in \(shape)")
        var s = shape
        s.remove(at: a)
        return reshaped(s)
    }

    /// Reorders dimensions: `result.shape[i] == shape[order[i]]`.
    public func permuted(_ order: [Int]) -> Tensor {
        let order = order.map { normalizeAxis($0, rank: rank) }
        precondition(order.sorted() == Array(0..<rank), "permutation \(order) is invalid for rank \(rank)")
        if order == Array(0..<rank) { return self }
        let x = plain()
        let outShape = order.map { shape[$0] }
        let out = Tensor(uninitialized: outShape, dtype: x.dtype)
        let inStrides = contiguousStrides(shape)
        let src = order.map { inStrides[$0] }  // input stride along each output dim
        let n = count
        if n > 0 {
            let width = x.dtype.byteSize
            let inner = outShape.last!
            let innerStride = src.last!
            let rows = n / inner
            let outer = Array(outShape.dropLast())
            let base = x.storage.base + x.offset * width
            let dst = out.storage.base
            parallelFor(rows, grain: Swift.max(1, 16_384 / inner)) { r0, r1 in
                for r in r0..<r1 {
                    var rem = r, o = 0
                    for dim in stride(from: outer.count - 1, through: 0, by: -1) {
                        o += (rem % outer[dim]) * src[dim]
                        rem /= outer[dim]
                    }
                    if width == 4 {
                        let s = base.assumingMemoryBound(to: Float.self) + o
                        let d = dst.assumingMemoryBound(to: Float.self) + r * inner
                        for j in 0..<inner { d[j] = s[j * innerStride] }
                    } else {
                        for j in 0..<inner {
                            (dst + (r * inner + j) * width).copyMemory(from: base + (o + j * innerStride) * width,
                                                                       byteCount: width)
                        }
                    }
                }
            }
        }
        var inverse = [Int](repeating: 0, count: rank)
        for (i, o) in order.enumerated() { inverse[o] = i }
        return Tensor.record(out, op: "permute", inputs: [self]) { g in [g.permuted(inverse)] }
    }

    /// Swaps two dimensions (by default the last two).
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        var order = Array(0..<rank)
        order.swapAt(normalizeAxis(a, rank: rank), normalizeAxis(b, rank: rank))
        return permuted(order)
    }
}
