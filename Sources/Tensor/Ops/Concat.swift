/// Joining tensors: concatenation along an existing axis and stacking along a new one.
extension Tensor {
    /// Joins `tensors` along `axis` (negative counts from the end). All must have the same rank
    /// and element type, and the same size in every other dimension; empty pieces are fine.
    ///
    /// Shapes: `[…, n₁, …] ⧺ … ⧺ […, nₖ, …] -> […, n₁ + … + nₖ, …]`.
    /// Backward: each input that requires a gradient gets its own slice of the gradient; the
    /// closure captures only offsets, no tensors.
    public static func concat(_ tensors: [Tensor], axis: Int) -> Tensor {
        precondition(!tensors.isEmpty, "concat needs at least one tensor")
        let first = tensors[0]
        precondition(first.rank >= 1, "concat needs rank ≥ 1, shape is \(first.shape)")
        let a = normalizeAxis(axis, rank: first.rank)
        for t in tensors.dropFirst() {
            precondition(t.dtype == first.dtype,
                         "concat: element types \(first.dtype.rawValue) and \(t.dtype.rawValue) differ")
            precondition(t.rank == first.rank && t.shape.indices.allSatisfy { $0 == a || t.shape[$0] == first.shape[$0] },
                         "concat along axis \(axis): shapes \(first.shape) and \(t.shape) do not match")
        }
        if tensors.count == 1 { return first }

        let sizes = tensors.map { $0.shape[a] }
        let total = sizes.reduce(0, +)
        var outShape = first.shape
        outShape[a] = total
        let out = Tensor(uninitialized: outShape, dtype: first.dtype)
        let outer = outShape[..<a].reduce(1, *), inner = outShape[(a + 1)...].reduce(1, *)
        let width = first.dtype.byteSize
        var offset = 0
        for (t, n) in zip(tensors, sizes) {
            let x = t.plain()
            copyBlocks(from: x.storage.base + x.offset * width, stride: n * inner,
                       to: out.storage.base + offset * inner * width, stride: total * inner,
                       outer: outer, length: n * inner, width: width)
            offset += n
        }
        let needs = tensors.map(\.requiresGrad)
        return record(out, op: "concat", inputs: tensors) { g in
            var start = 0
            return zip(sizes, needs).map { n, needed in
                defer { start += n }
                return needed ? g.slice(axis: a, start: start, end: start + n) : nil
            }
        }
    }

    /// Stacks tensors of one shape along a new axis `axis` (in `-(rank + 1)...rank`).
    ///
    /// Shapes: k × `[d₀, …, dₙ] -> [d₀, …, k, …, dₙ]` with k at `axis`. A composite of
    /// `unsqueezed` and `concat`, so it has no backward of its own.
    public static func stack(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
        precondition(!tensors.isEmpty, "stack needs at least one tensor")
        let shape = tensors[0].shape
        for t in tensors.dropFirst() {
            precondition(t.shape == shape, "stack: shapes \(shape) and \(t.shape) differ")
        }
        let a = axis < 0 ? axis + shape.count + 1 : axis
        precondition(a >= 0 && a <= shape.count, "stack axis \(axis) out of range for rank \(shape.count)")
        return concat(tensors.map { $0.unsqueezed(a) }, axis: a)
    }
}
