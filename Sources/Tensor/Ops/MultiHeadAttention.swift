import Foundation

/// Multi-head attention as one operation over the projections' own layout, for encoders like
/// BERT's: no head permutes, no separate scale, mask, softmax and dropout passes, and the dropped
/// attention weights regenerated in backward from the dropout seed instead of kept.
///
/// Composed from `matmul`, `softmax` and `dropout`, attention costs eight copies of the projections
/// per layer (heads split and merged, forward and backward) and keeps the weights twice (before
/// and after dropout). Here each (sequence, head) pair is one task of one parallel loop: its
/// products run as single-threaded sgemms reading the heads' columns in place (leading
/// dimension H), and the softmax and dropout run on the task's rows while they are in cache.
extension Tensor {
    /// Self-attention of `heads` heads over `query`, `key`, `value` [N, T, H] (head `a` is columns
    /// `a·D ..< (a+1)·D`, D = H / heads), as `scaledDotProductAttention` on the heads computes it:
    ///
    ///     context[n, :, head a] = dropout(softmax(q_a k_aᵀ / √D + mask[n])) · v_a
    ///
    /// - Parameters:
    ///   - keyMask: additive [N, T] (0 where a key may be attended to, −∞ or a large negative
    ///     number where not), added to every query's scores; no gradient flows into it.
    ///   - dropoutProbability: in `[0, 1)`; with `dropoutSeed`, the attention weights are dropped
    ///     as `Tensor.dropout` drops a [N, heads, T, T] tensor with that seed (the same elements).
    /// - Returns: the context [N, T, H]. A query whose keys are all masked with −∞ gets zeros.
    public static func multiHeadAttention(query: Tensor, key: Tensor, value: Tensor, heads: Int, keyMask: Tensor?,
                                          dropoutProbability: Float = 0, dropoutSeed: UInt64? = nil) -> Tensor {
        precondition(query.rank == 3 && key.shape == query.shape && value.shape == query.shape,
                     "multiHeadAttention: query, key and value must be [N, T, H] alike, got \(query.shape), \(key.shape), \(value.shape)")
        let (n, t, h) = (query.shape[0], query.shape[1], query.shape[2])
        precondition(query.dtype == .float32 && key.dtype == .float32 && value.dtype == .float32,
                     "multiHeadAttention: query, key and value must be F32, got \(query.dtype.rawValue), \(key.dtype.rawValue), \(value.dtype.rawValue)")
        precondition(heads >= 1 && h % heads == 0, "multiHeadAttention: \(heads) heads do not divide width \(h)")
        if let keyMask {
            precondition(keyMask.shape == [n, t], "multiHeadAttention: key mask must be [\(n), \(t)], got \(keyMask.shape)")
            precondition(keyMask.dtype == .float32,
                         "multiHeadAttention: the additive key mask must be F32, got \(keyMask.dtype.rawValue) (convert it with toFloat32())")
        }
        precondition(dropoutProbability >= 0 && dropoutProbability < 1,
                     "multiHeadAttention: dropout probability must lie in [0, 1), got \(dropoutProbability)")
        let geometry = AttentionGeometry(batch: n, length: t, width: h, heads: heads)
        let drop = dropoutSeed.flatMap { seed in
            dropoutProbability > 0 ? DropoutMask(seed: seed, probability: dropoutProbability) : nil
        }
        let q = query.plain().detached(), k = key.plain().detached(), v = value.plain().detached()
        let mask = keyMask?.plain().detached()
        let weights = Tensor(uninitialized: [n, heads, t, t])       // softmax output, kept for backward
        let out = Tensor(uninitialized: [n, t, h])
        KernelTrace.note("attention")
        geometry.forward(q: q.floats, k: k.floats, v: v.floats, mask: mask?.floats, weights: weights.storage.floats,
                         dropout: drop, out: out.storage.floats)
        let needs = (query.requiresGrad, key.requiresGrad, value.requiresGrad)
        return Tensor.record(out, op: "attention", inputs: [query, key, value]) { g in
            let gq = needs.0 ? Tensor(uninitialized: [n, t, h]) : nil
            let gk = needs.1 ? Tensor(uninitialized: [n, t, h]) : nil
            let gv = needs.2 ? Tensor(uninitialized: [n, t, h]) : nil
            KernelTrace.note("attention.backward")
            let gp = g.plain().detached()
            geometry.backward(gradient: gp.floats, q: q.floats, k: k.floats, v: v.floats, weights: weights.storage.floats,
                              dropout: drop, gq: gq?.storage.floats, gk: gk?.storage.floats, gv: gv?.storage.floats)
            return [gq, gk, gv]
        }
    }
}

/// Sizes of a multi-head attention: N sequences of T tokens, width H in `heads` heads of D.
struct AttentionGeometry {
    let batch: Int, length: Int, width: Int, heads: Int
    var headWidth: Int { width / heads }

    /// Offset of head `a` of sequence `b` in an [N, T, H] tensor (rows H apart).
    @inline(__always) func headOffset(_ task: Int) -> Int { (task / heads) * length * width + (task % heads) * headWidth }

    /// Runs `body(task, scratch…)` for every (sequence, head) pair, one pair per thread at a time,
    /// with `buffers` scratch matrices of T×T floats per thread.
    func forEachHead(buffers: Int, _ body: (Int, [UnsafeMutablePointer<Float>]) -> Void) {
        let t2 = length * length
        parallelFor(batch * heads, grain: 1) { b0, b1 in
            let scratch = (0..<buffers).map { _ in
                SystemMemory.allocateOrStop(byteCount: t2 * 4, purpose: "attention scratch [\(length), \(length)]")
                    .bindMemory(to: Float.self, capacity: t2)
            }
            defer { scratch.forEach { free($0) } }
            for task in b0..<b1 { body(task, scratch) }
        }
    }

    func forward(q: UnsafeMutablePointer<Float>, k: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
                 mask: UnsafeMutablePointer<Float>?, weights: UnsafeMutablePointer<Float>, dropout: DropoutMask?,
                 out: UnsafeMutablePointer<Float>) {
        let (t, h, d) = (length, width, headWidth)
        let scale = 1 / Float(d).squareRoot()
        forEachHead(buffers: dropout == nil ? 0 : 1) { task, scratch in
            let o = headOffset(task)
            let p = weights + task * t * t
            // Scores q kᵀ/√D, then + mask and softmax row by row, in place.
            DNNL.sgemm(transA: false, transB: true, m: t, n: t, k: d, alpha: scale, a: q + o, lda: h, b: k + o, ldb: h,
                       c: p, ldc: t)
            let rowMask = mask.map { $0 + (task / heads) * t }
            for i in 0..<t {
                let row = p + i * t
                if let rowMask { for j in 0..<t { row[j] += rowMask[j] } }
                RowMath.softmax(row, row, t)
            }
            var used = p
            if let dropout {
                dropout.apply(p, scratch[0], count: t * t, first: task * t * t)
                used = scratch[0]
            }
            DNNL.sgemm(transA: false, transB: false, m: t, n: d, k: t, a: used, lda: t, b: v + o, ldb: h,
                       c: out + o, ldc: h)
        }
    }

    func backward(gradient g: UnsafeMutablePointer<Float>, q: UnsafeMutablePointer<Float>, k: UnsafeMutablePointer<Float>,
                  v: UnsafeMutablePointer<Float>, weights: UnsafeMutablePointer<Float>, dropout: DropoutMask?,
                  gq: UnsafeMutablePointer<Float>?, gk: UnsafeMutablePointer<Float>?, gv: UnsafeMutablePointer<Float>?) {
        let (t, h, d) = (length, width, headWidth)
        let scale = 1 / Float(d).squareRoot()
        forEachHead(buffers: 2) { task, scratch in
            let o = headOffset(task)
            let p = weights + task * t * t
            let dropped = scratch[0], dp = scratch[1]
            if let gv {
                // dV = dropout(P)ᵀ · dC.
                var used = p
                if let dropout {
                    dropout.apply(p, dropped, count: t * t, first: task * t * t)
                    used = dropped
                }
                DNNL.sgemm(transA: true, transB: false, m: t, n: d, k: t, a: used, lda: t, b: g + o, ldb: h,
                           c: gv + o, ldc: h)
            }
            guard gq != nil || gk != nil else { return }
            // dP = dropout'(dC · Vᵀ); dS = P ⊙ (dP − Σ_j dP P) / √D, row by row, in place.
            DNNL.sgemm(transA: false, transB: true, m: t, n: t, k: d, a: g + o, lda: h, b: v + o, ldb: h, c: dp, ldc: t)
            dropout?.apply(dp, dp, count: t * t, first: task * t * t)
            for i in 0..<t {
                let gr = dp + i * t, yr = p + i * t
                let dot = RowMath.sum(t, { load8(gr, $0) * load8(yr, $0) }, { gr[$0] * yr[$0] })
                for j in 0..<t { gr[j] = yr[j] * (gr[j] - dot) * scale }
            }
            if let gq {
                DNNL.sgemm(transA: false, transB: false, m: t, n: d, k: t, a: dp, lda: t, b: k + o, ldb: h,
                           c: gq + o, ldc: h)
            }
            if let gk {
                DNNL.sgemm(transA: true, transB: false, m: t, n: d, k: t, a: dp, lda: t, b: q + o, ldb: h,
                           c: gk + o, ldc: h)
            }
        }
    }
}
