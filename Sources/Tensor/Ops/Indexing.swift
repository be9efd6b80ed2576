/// Indexing by index tensors (gather, index-select) and selecting by masks (masked fill, where).
///
/// Index values come from data (labels, token ids, sampled rows), so an index outside its
/// dimension throws `TensorError.indexOutOfRange` naming the index and the bound, checked before
/// anything is written, so that the caller can report bad data rather than stop. Shape
/// mismatches between arguments are programmer errors and stop with a `precondition` naming
/// both shapes (this module's, which reports in every build configuration).
///
/// Index tensors hold integers (`int64`, as `Tensor(shape:indices:)` makes, or `int32`); other
/// element types throw `TensorError.unsupportedDType`. Negative indices are out of range (as in
/// PyTorch's `gather`, `index_select` and `embedding`).
extension Tensor {
    /// PyTorch's `torch.gather`: picks along `axis` the element that `indices` names, for every
    /// position of `indices`. For a 3-D tensor and `axis == 1`:
    /// `out[i][j][k] = self[i][indices[i][j][k]][k]`.
    ///
    /// `indices` has the rank of `self` and, in every dimension but `axis`, a size no larger
    /// than `self`'s. Shapes: `self [d₀, …, dₙ]`, `indices [e₀, …, eₙ] -> [e₀, …, eₙ]`.
    /// Backward: the gradient is added into zeros of `self`'s shape at the gathered positions
    /// (repeated indices accumulate).
    /// - Throws: `TensorError.indexOutOfRange` for an index outside `0..<size(axis)`,
    ///   `TensorError.unsupportedDType` when `indices` is not an integer tensor.
    public func gather(axis: Int, indices: Tensor) throws -> Tensor {
        let a = normalizeAxis(axis, rank: rank)
        precondition(indices.rank == rank && (0..<rank).allSatisfy { $0 == a || indices.shape[$0] <= shape[$0] },
                     "gather along axis \(axis): indices of shape \(indices.shape) do not fit input of shape \(shape)")
        precondition(dtype == .float32, "gather reads float tensors, found \(dtype.rawValue)")
        let index = try Tensor.validatedIndices(indices, bound: rank == 0 ? 1 : shape[a], operation: "gather")
        let x = plain()
        let out = Tensor(uninitialized: indices.shape)
        let offsets = Tensor.gatherOffsets(index: index, indexShape: indices.shape, inputShape: shape, axis: a)
        let s = x.floats, d = out.storage.floats
        offsets.withUnsafeBufferPointer { off in
            parallelFor(off.count) { b, e in for i in b..<e { d[i] = s[off[i]] } }
        }
        let inShape = shape
        return Tensor.record(out, op: "gather", inputs: [self]) { g in
            let gp = g.plain()
            let grad = Tensor.zeros(inShape)
            // Serial: repeated offsets accumulate, and gathers (labels) are small.
            let src = gp.floats, dst = grad.storage.floats
            for (i, o) in offsets.enumerated() { dst[o] += src[i] }
            return [grad]
        }
    }

    /// The elements at `indices` along `axis`, in that order (repeats allowed): PyTorch's
    /// `index_select`. Works on any element type; gradients for float tensors.
    ///
    /// Shapes: `[…, size, …] -> […, indices.count, …]`. Backward: gradient rows are added into
    /// zeros of the input's shape at their indices (repeated indices accumulate).
    /// - Throws: `TensorError.indexOutOfRange` for an index outside `0..<size(axis)`.
    public func indexSelect(axis: Int, indices: [Int]) throws -> Tensor {
        precondition(rank >= 1, "indexSelect needs rank ≥ 1, shape is \(shape)")
        let a = normalizeAxis(axis, rank: rank)
        let size = shape[a]
        for i in indices where i < 0 || i >= size {
            throw TensorError.indexOutOfRange(operation: "indexSelect(axis: \(axis))", index: i, bound: size)
        }
        let x = plain()
        var outShape = shape
        outShape[a] = indices.count
        let out = Tensor(uninitialized: outShape, dtype: dtype)
        let outer = shape[..<a].reduce(1, *), inner = shape[(a + 1)...].reduce(1, *)
        indices.withUnsafeBufferPointer { idx in
            Tensor.copyRows(from: x.storage.base + x.offset * dtype.byteSize, rowsPerOuter: size,
                            to: out.storage.base, rowsPerOuter: indices.count, start: 0,
                            outer: outer, count: indices.count, inner: inner, width: dtype.byteSize) { idx[$0] }
        }
        let inShape = shape
        return Tensor.record(out, op: "index-select", inputs: [self]) { g in
            let gp = g.plain()
            let grad = Tensor.zeros(inShape)
            indices.withUnsafeBufferPointer { idx in
                Tensor.addRows(from: gp.floats, rowsPerOuter: idx.count, to: grad.storage.floats,
                               rowsPerOuter: size, outer: outer, count: idx.count, inner: inner) { idx[$0] }
            }
            return [grad]
        }
    }

    /// `indexSelect(axis:indices:)` with a 1-D (or 0-D, read as one index) integer tensor.
    /// - Throws: as `indexSelect(axis:indices:)`, and `TensorError.unsupportedDType` when
    ///   `indices` is not an integer tensor.
    public func indexSelect(axis: Int, indices: Tensor) throws -> Tensor {
        precondition(indices.rank <= 1, "indexSelect needs 1-D indices, got shape \(indices.shape)")
        precondition(rank >= 1, "indexSelect needs rank ≥ 1, shape is \(shape)")
        let list = try Tensor.validatedIndices(indices, bound: shape[normalizeAxis(axis, rank: rank)],
                                               operation: "indexSelect(axis: \(axis))")
        return try indexSelect(axis: axis, indices: list)
    }

    /// Replaces the elements where `mask` is true by `value`: PyTorch's `masked_fill`.
    ///
    /// `mask` is a 0/1 tensor of any element type (float, `int64` attention masks, `uint8`):
    /// an element is true when it is nonzero. It must broadcast to `self`'s shape, which the
    /// result keeps. Backward: the gradient passes where the mask is false, 0 where filled.
    public func maskedFill(_ mask: Tensor, with value: Float) -> Tensor {
        precondition(Broadcast.shape(shape, mask.shape) == shape,
                     "maskedFill: mask of shape \(mask.shape) does not broadcast to \(shape)")
        let m = mask.detached().toFloat32()
        let out = Tensor.binaryKernel(self, m, op: "masked-fill") { x, c in c != 0 ? value : x }
        return Tensor.record(out, op: "masked-fill", inputs: [self]) { g in
            [Tensor.binaryKernel(g, m, op: "masked-fill-backward") { gv, c in c != 0 ? 0 : gv }]
        }
    }

    /// Elementwise choice `condition ? a : b`, broadcasting all three (PyTorch's `torch.where`).
    ///
    /// `condition` is a 0/1 tensor of any element type, true where nonzero (as for
    /// `maskedFill`); `a` and `b` are float. The choice is a select, not `c·a + (1 − c)·b`, so an
    /// infinity or NaN in the branch not taken does not leak. Backward: `a` gets the gradient
    /// where the condition holds, `b` where it does not, each summed back to its own shape; the
    /// closure captures only the condition.
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        guard let ab = Broadcast.shape(a.shape, b.shape), let shape = Broadcast.shape(condition.shape, ab) else {
            preconditionFailure("where: shapes \(condition.shape), \(a.shape) and \(b.shape) cannot be broadcast together")
        }
        precondition(a.dtype == .float32 && b.dtype == .float32,
                     "where: the branches must be F32, got \(a.dtype.rawValue) \(a.shape) and \(b.dtype.rawValue) \(b.shape)")
        let c = condition.detached().toFloat32().plain(), ap = a.plain(), bp = b.plain()
        let out = Tensor(uninitialized: shape)
        let n = out.count
        if n > 0 {
            let sc = Broadcast.strides(of: c.shape, in: shape)
            let sa = Broadcast.strides(of: ap.shape, in: shape), sb = Broadcast.strides(of: bp.shape, in: shape)
            let pc = c.floats, pa = ap.floats, pb = bp.floats, d = out.storage.floats
            let dims = shape.isEmpty ? [1] : shape
            let inner = dims.last!, outer = Array(dims.dropLast())
            let ic = sc.last ?? 0, ia = sa.last ?? 0, ib = sb.last ?? 0
            parallelFor(n / inner, grain: Swift.max(1, 32_768 / inner)) { r0, r1 in
                for r in r0..<r1 {
                    var rem = r, oc = 0, oa = 0, ob = 0
                    for dim in stride(from: outer.count - 1, through: 0, by: -1) {
                        let idx = rem % outer[dim]
                        rem /= outer[dim]
                        oc += idx * sc[dim]; oa += idx * sa[dim]; ob += idx * sb[dim]
                    }
                    let row = d + r * inner
                    for j in 0..<inner { row[j] = pc[oc + j * ic] != 0 ? pa[oa + j * ia] : pb[ob + j * ib] }
                }
            }
        }
        let aShape = a.shape, bShape = b.shape
        let needsA = a.requiresGrad, needsB = b.requiresGrad
        return record(out, op: "where", inputs: [a, b]) { g in
            [needsA ? binaryKernel(g, c, op: "where-backward") { gv, cv in cv != 0 ? gv : 0 }.sum(toShape: aShape) : nil,
             needsB ? binaryKernel(g, c, op: "where-backward") { gv, cv in cv != 0 ? 0 : gv }.sum(toShape: bShape) : nil]
        }
    }
}

// MARK: - Index helpers

extension Tensor {
    /// The values of an integer index tensor, each checked against `0..<bound`.
    /// - Throws: `TensorError.unsupportedDType` for a non-integer tensor,
    ///   `TensorError.indexOutOfRange` naming the first bad index.
    static func validatedIndices(_ indices: Tensor, bound: Int, operation: String) throws -> [Int] {
        guard indices.dtype == .int64 || indices.dtype == .int32 else {
            throw TensorError.unsupportedDType(operation: "\(operation) indices", dtype: indices.dtype)
        }
        let values = indices.indexScalars
        if let bad = values.first(where: { $0 < 0 || $0 >= bound }) {
            throw TensorError.indexOutOfRange(operation: operation, index: bad, bound: bound)
        }
        return values
    }

    /// For every position of a gather's index tensor, the flat offset it reads in the input.
    static func gatherOffsets(index: [Int], indexShape: [Int], inputShape: [Int], axis: Int) -> [Int] {
        let inStrides = contiguousStrides(inputShape)
        let rank = indexShape.count
        var offsets = [Int](repeating: 0, count: index.count)
        var position = [Int](repeating: 0, count: rank)   // multi-index of element i in indexShape
        for i in 0..<index.count {
            var o = 0
            for d in 0..<rank { o += (d == axis ? index[i] : position[d]) * inStrides[d] }
            offsets[i] = o
            var d = rank - 1
            while d >= 0 {
                position[d] += 1
                if position[d] < indexShape[d] { break }
                position[d] = 0
                d -= 1
            }
        }
        return offsets
    }
}
