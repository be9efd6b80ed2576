import Foundation

/// Causal self-attention for decoders, with grouped-query heads (Ainslie et al. 2023) and a key
/// cache, as one operation over the projections' own layout: no head permutes, no repeated keys
/// and values for the query heads that share them, no [T, T] mask tensor.
///
/// Like `multiHeadAttention`, each (sequence, head) pair is one task of one parallel loop whose
/// products are single-threaded sgemms reading the heads' columns in place. Unlike it, backward
/// keeps no attention weights: it recomputes them from the saved query and key (one more
/// [T, D]·[D, L] product per head), so training memory does not grow with T² per layer.
extension Tensor {
    /// Causal attention of `heads` query heads over `kvHeads` key/value heads:
    ///
    ///     out[n, t, head h] = softmax_j(q_h[t] · k_g[j] / √D + mask[n, j]) · v_g[j],   j ≤ offset + t, j < L
    ///
    /// where query head `h` reads key/value head `g = h / (heads / kvHeads)`, D is the head width,
    /// and query `t` sits at position `offset + t` of the keys.
    ///
    /// - Parameters:
    ///   - query: [N, T, heads·D].
    ///   - key, value: [N, S, kvHeads·D]; only the first `keyLength` rows of each sequence are
    ///     read (a preallocated key cache of capacity S).
    ///   - keyLength: keys in use, `L ≤ S` (default S).
    ///   - queryOffset: position of the first query among the keys (default `L − T`: the queries
    ///     are the last T keys, as in a forward without cache or a step that appended them).
    ///   - keyMask: additive [N, L] (0 for a key that may be attended to, −∞ for padding), added
    ///     to every query's scores; no gradient flows into it. A query with no allowed key gets
    ///     zeros (as `multiHeadAttention`).
    ///   - firstKeys: for packed sequences, the first key each query may see, [N·T] row-major
    ///     (query `t` of sequence `n` at `n·T + t`): the start of its document, so that documents
    ///     packed into one row never attend to each other. Each must lie in `0 ... offset + t`.
    ///     Nil: every query sees from key 0.
    /// - Returns: [N, T, heads·D]. Gradients flow to query, key and value (key and value rows
    ///   beyond L get zeros).
    public static func causalAttention(query: Tensor, key: Tensor, value: Tensor, heads: Int, kvHeads: Int,
                                       keyLength: Int? = nil, queryOffset: Int? = nil, keyMask: Tensor? = nil,
                                       firstKeys: [Int]? = nil) -> Tensor {
        precondition(query.rank == 3 && key.rank == 3 && value.shape == key.shape,
                     "causalAttention: query must be [N, T, heads·D] and key, value [N, S, kvHeads·D] alike, got \(query.shape), \(key.shape), \(value.shape)")
        precondition(query.dtype == .float32 && key.dtype == .float32 && value.dtype == .float32,
                     "causalAttention: query, key and value must be F32")
        let (n, t, width) = (query.shape[0], query.shape[1], query.shape[2])
        let (s, kvWidth) = (key.shape[1], key.shape[2])
        precondition(key.shape[0] == n, "causalAttention: query \(query.shape) and key \(key.shape) differ in batch")
        precondition(heads >= 1 && kvHeads >= 1 && heads % kvHeads == 0 && width % heads == 0 && kvWidth % kvHeads == 0
                     && width / heads == kvWidth / kvHeads,
                     "causalAttention: \(heads) query heads of \(query.shape) and \(kvHeads) key/value heads of \(key.shape) do not fit (query heads must be a multiple of key/value heads, of one width)")
        let length = keyLength ?? s
        precondition(length >= 0 && length <= s, "causalAttention: key length \(length) is outside 0...\(s)")
        let offset = queryOffset ?? (length - t)
        precondition(offset >= 0, "causalAttention: \(t) queries after offset \(offset) do not fit \(length) keys")
        if let keyMask {
            precondition(keyMask.shape == [n, length] && keyMask.dtype == .float32,
                         "causalAttention: the key mask must be F32 [\(n), \(length)], got \(keyMask.dtype.rawValue) \(keyMask.shape)")
        }
        if let firstKeys {
            precondition(firstKeys.count == n * t, "causalAttention: \(firstKeys.count) first keys for \(n)×\(t) queries")
            for (i, first) in firstKeys.enumerated() {
                precondition(first >= 0 && first <= offset + i % Swift.max(t, 1),
                             "causalAttention: query \(i % t) of sequence \(i / t) starts at key \(first), outside 0...\(offset + i % t)")
            }
        }
        let geometry = CausalAttentionGeometry(batch: n, queries: t, keys: s, length: length, offset: offset,
                                               heads: heads, kvHeads: kvHeads, headWidth: width / heads, firstKeys: firstKeys)
        let q = query.plain().detached(), k = key.plain().detached(), v = value.plain().detached()
        let mask = keyMask?.plain().detached()
        let out = Tensor(uninitialized: [n, t, width])
        KernelTrace.note("causal-attention")
        geometry.forward(q: q.floats, k: k.floats, v: v.floats, mask: mask?.floats, out: out.storage.floats)
        let needs = (query.requiresGrad, key.requiresGrad, value.requiresGrad)
        return Tensor.record(out, op: "causal-attention", inputs: [query, key, value]) { g in
            let gq = needs.0 ? Tensor(uninitialized: [n, t, width]) : nil
            let gk = needs.1 ? Tensor.zeros([n, s, kvWidth]) : nil
            let gv = needs.2 ? Tensor.zeros([n, s, kvWidth]) : nil
            KernelTrace.note("causal-attention.backward")
            let gp = g.plain().detached()
            geometry.backward(gradient: gp.floats, q: q.floats, k: k.floats, v: v.floats, mask: mask?.floats,
                              gq: gq?.storage.floats, gk: gk?.storage.floats, gv: gv?.storage.floats)
            return [gq, gk, gv]
        }
    }
}

/// Sizes of a causal attention: N sequences of T queries over L of S key rows.
struct CausalAttentionGeometry {
    let batch: Int, queries: Int, keys: Int, length: Int, offset: Int
    let heads: Int, kvHeads: Int, headWidth: Int
    /// The first key of each query (packed documents), or nil for 0.
    var firstKeys: [Int]? = nil

    var width: Int { heads * headWidth }
    var kvWidth: Int { kvHeads * headWidth }
    var group: Int { heads / kvHeads }
    var scale: Float { 1 / Float(headWidth).squareRoot() }

    /// Keys query `i` may see: `0 ..< min(L, offset + i + 1)`.
    @inline(__always) func visible(_ i: Int) -> Int { Swift.min(length, offset + i + 1) }

    @inline(__always) func queryOffset(sequence n: Int, head h: Int) -> Int { n * queries * width + h * headWidth }
    @inline(__always) func keyOffset(sequence n: Int, kvHead g: Int) -> Int { n * keys * kvWidth + g * headWidth }

    /// The attention weights of query head `h` of sequence `n` into `p` [T, L]: scaled scores,
    /// plus the mask, softmax over the visible keys, zeros beyond them.
    func weights(sequence n: Int, head h: Int, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                 mask: UnsafePointer<Float>?, into p: UnsafeMutablePointer<Float>) {
        let (t, l) = (queries, length)
        guard t > 0, l > 0 else { return }
        DNNL.sgemm(transA: false, transB: true, m: t, n: l, k: headWidth, alpha: scale,
                   a: q + queryOffset(sequence: n, head: h), lda: width,
                   b: k + keyOffset(sequence: n, kvHead: h / group), ldb: kvWidth, c: p, ldc: l)
        let rowMask = mask.map { $0 + n * l }
        for i in 0..<t {
            let row = p + i * l, seen = visible(i)
            let first = Swift.min(firstKeys?[n * t + i] ?? 0, seen)
            if let rowMask { for j in first..<seen { row[j] += rowMask[j] } }
            RowMath.softmax(row + first, row + first, seen - first)
            for j in 0..<first { row[j] = 0 }
            for j in seen..<l { row[j] = 0 }
        }
    }

    /// Runs `body(task, scratch…)` for `tasks` tasks, one per thread at a time, with `buffers`
    /// scratch matrices of T×L floats per thread.
    func forEach(_ tasks: Int, buffers: Int, _ body: (Int, [UnsafeMutablePointer<Float>]) -> Void) {
        let size = Swift.max(1, queries * length)
        parallelFor(tasks, grain: 1) { b0, b1 in
            let scratch = (0..<buffers).map { _ in
                SystemMemory.allocateOrStop(byteCount: size * 4, purpose: "attention scratch [\(queries), \(length)]")
                    .bindMemory(to: Float.self, capacity: size)
            }
            defer { scratch.forEach { free($0) } }
            for task in b0..<b1 { body(task, scratch) }
        }
    }

    func forward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, mask: UnsafePointer<Float>?,
                 out: UnsafeMutablePointer<Float>) {
        forEach(batch * heads, buffers: 1) { task, scratch in
            let (n, h) = (task / heads, task % heads)
            let o = queryOffset(sequence: n, head: h)
            if length == 0 {
                for i in 0..<queries { (out + o + i * width).update(repeating: 0, count: headWidth) }
                return
            }
            let p = scratch[0]
            weights(sequence: n, head: h, q: q, k: k, mask: mask, into: p)
            DNNL.sgemm(transA: false, transB: false, m: queries, n: headWidth, k: length, a: p, lda: length,
                       b: v + keyOffset(sequence: n, kvHead: h / group), ldb: kvWidth, c: out + o, ldc: width)
        }
    }

    /// One task per (sequence, key/value head), so that the heads of a group add into their
    /// key's and value's gradients in turn, without races. `gk`, `gv` must start at zero.
    func backward(gradient g: UnsafePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                  v: UnsafePointer<Float>, mask: UnsafePointer<Float>?,
                  gq: UnsafeMutablePointer<Float>?, gk: UnsafeMutablePointer<Float>?, gv: UnsafeMutablePointer<Float>?) {
        let (t, l, d) = (queries, length, headWidth)
        if l == 0 {
            if let gq { gq.update(repeating: 0, count: batch * t * width) }
            return
        }
        forEach(batch * kvHeads, buffers: 2) { task, scratch in
            let (n, kvHead) = (task / kvHeads, task % kvHeads)
            let ko = keyOffset(sequence: n, kvHead: kvHead)
            let p = scratch[0], dp = scratch[1]
            for h in (kvHead * group)..<((kvHead + 1) * group) {
                let qo = queryOffset(sequence: n, head: h)
                weights(sequence: n, head: h, q: q, k: k, mask: mask, into: p)
                if let gv {
                    // dV += Pᵀ · dO.
                    DNNL.sgemm(transA: true, transB: false, m: l, n: d, k: t, a: p, lda: l, b: g + qo, ldb: width,
                               beta: 1, c: gv + ko, ldc: kvWidth)
                }
                guard gq != nil || gk != nil else { continue }
                // dP = dO · Vᵀ; dS = P ⊙ (dP − Σ_j dP·P) / √D, row by row in place.
                DNNL.sgemm(transA: false, transB: true, m: t, n: l, k: d, a: g + qo, lda: width, b: v + ko, ldb: kvWidth,
                           c: dp, ldc: l)
                for i in 0..<t {
                    let gr = dp + i * l, pr = p + i * l
                    let dot = RowMath.sum(l, { load8(gr, $0) * load8(pr, $0) }, { gr[$0] * pr[$0] })
                    for j in 0..<l { gr[j] = pr[j] * (gr[j] - dot) * scale }
                }
                if let gq {
                    DNNL.sgemm(transA: false, transB: false, m: t, n: d, k: l, a: dp, lda: l, b: k + ko, ldb: kvWidth,
                               c: gq + qo, ldc: width)
                }
                if let gk {
                    DNNL.sgemm(transA: true, transB: false, m: l, n: d, k: t, a: dp, lda: l, b: q + qo, ldb: width,
                               beta: 1, c: gk + ko, ldc: kvWidth)
                }
            }
        }
    }
}
