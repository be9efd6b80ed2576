/// Embedding lookup: rows of a weight matrix picked by integer ids (token ids, class ids).
extension Tensor {
    /// The rows of `weight` named by `indices`: PyTorch's `F.embedding(indices, weight, padding_idx)`.
    ///
    /// `out[i₀, …, iₖ, :] = weight[indices[i₀, …, iₖ], :]`.
    /// Shapes: `weight [V, D]`, `indices [i₀, …, iₖ]` (any rank, 0-D included) `-> [i₀, …, iₖ, D]`.
    ///
    /// Backward (only when `weight` requires a gradient): the gradient rows are added into zeros
    /// of `[V, D]` at their ids, repeated ids accumulating; the row `paddingIndex` gets no
    /// gradient, so it stays what it was (PyTorch's `padding_idx`, which is used for the
    /// padding token's embedding). The closure captures the ids, not the weight.
    ///
    /// - Parameters:
    ///   - weight: the embedding table, `[V, D]`, float.
    ///   - indices: integer ids (`int64` or `int32`) in `0..<V`.
    ///   - paddingIndex: an id whose row receives no gradient; negative counts from `V`, as in
    ///     PyTorch.
    /// - Throws: `TensorError.indexOutOfRange` for an id (or `paddingIndex`) outside `0..<V`,
    ///   `TensorError.unsupportedDType` when `indices` is not an integer tensor.
    public static func embedding(_ weight: Tensor, indices: Tensor, paddingIndex: Int? = nil) throws -> Tensor {
        precondition(weight.rank == 2, "embedding weight must be [V, D], got shape \(weight.shape)")
        precondition(weight.dtype == .float32, "embedding weight must be float, found \(weight.dtype.rawValue)")
        let vocabulary = weight.shape[0], width = weight.shape[1]
        var padding: Int?
        if let p = paddingIndex {
            guard p >= -vocabulary && p < vocabulary else {
                throw TensorError.indexOutOfRange(operation: "embedding paddingIndex", index: p, bound: vocabulary)
            }
            padding = p < 0 ? p + vocabulary : p
        }
        let ids = try validatedIndices(indices, bound: vocabulary, operation: "embedding")
        let w = weight.plain()
        let out = Tensor(uninitialized: indices.shape + [width])
        ids.withUnsafeBufferPointer { idx in
            copyRows(from: UnsafeRawPointer(w.floats), rowsPerOuter: vocabulary,
                     to: out.storage.base, rowsPerOuter: idx.count, start: 0,
                     outer: 1, count: idx.count, inner: width, width: 4) { idx[$0] }
        }
        return record(out, op: "embedding", inputs: [weight]) { g in
            let gp = g.plain()
            let grad = Tensor.zeros([vocabulary, width])
            ids.withUnsafeBufferPointer { idx in
                addRows(from: gp.floats, rowsPerOuter: idx.count, to: grad.storage.floats,
                        rowsPerOuter: vocabulary, outer: 1, count: idx.count, inner: width) { k in
                    idx[k] == padding ? nil : idx[k]
                }
            }
            return [grad]
        }
    }
}
