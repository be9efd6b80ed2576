/// The products of one input with several frozen quantised weights of the same input width, as
/// one operation: a decoder layer's query, key and value projections, or its gate and up
/// projections, `x · [W₁; W₂; …]ᵀ`.
///
/// Decoding one token, each of these products is small (SmolLM2's key projection is 110 000
/// multiply-adds, about 10 µs on one core): run one by one, each is a parallel region whose fork
/// and join cost more than its arithmetic, and on a machine shared with other processes a join
/// can wait a scheduler tick (milliseconds) for a descheduled thread. Here they share one region
/// over all their rows. With more rows (a prompt) each matrix runs as in `linear(_:quantizedWeight:)`
/// into its columns of the output.
extension Tensor {
    /// `x · [W₁; W₂; …]ᵀ`: `x` [..., K] (rank ≥ 2), weights [Nᵢ, K] → [..., ΣNᵢ], matrix `i`'s
    /// outputs in columns `N₁ + … + Nᵢ₋₁ ..< N₁ + … + Nᵢ` (split them with `split(sizes:axis:)`).
    /// Gradients flow to `x` only: `Σᵢ gᵢ · Wᵢ`.
    public static func linear(_ x: Tensor, quantizedWeights weights: [QuantizedMatrix]) -> Tensor {
        precondition(!weights.isEmpty, "linear(_:quantizedWeights:) needs at least one weight")
        let k = weights[0].columns
        precondition(weights.allSatisfy { $0.columns == k } && x.rank >= 2 && x.shape[x.rank - 1] == k && x.dtype == .float32,
                     "linear: input \(x.dtype.rawValue) \(x.shape) does not fit the quantised weights \(weights.map(\.shape))")
        let widths = weights.map(\.rows)
        let total = widths.reduce(0, +)
        let starts = widths.indices.map { widths[..<$0].reduce(0, +) }
        let rows = Array(x.shape.dropLast())
        let m = rows.reduce(1, *)
        let a = x.plain().detached()
        let out = Tensor(uninitialized: rows + [total])
        let pa = a.floats, pc = out.storage.floats
        if m <= fusedRowLimit {
            KernelTrace.note("quantized-product-group")
            // About 64 KiB of weight per chunk of work, over the rows of all the matrices.
            let bytes = weights.reduce(0) { $0 + $1.byteCount }
            let grain = Swift.max(1, 65_536 * total / Swift.max(bytes, 1))
            parallelFor(total, grain: grain) { r0, r1 in
                for (i, w) in weights.enumerated() {
                    let lo = Swift.max(r0, starts[i]), hi = Swift.min(r1, starts[i] + w.rows)
                    guard lo < hi else { continue }
                    QuantizedKernels.product(w.format, base: w.base, rowBytes: w.rowBytes, columns: k, x: pa, m: m,
                                             rows: lo - starts[i], hi - starts[i], y: pc + starts[i], ldy: total)
                }
            }
        } else {
            for (i, w) in weights.enumerated() { quantizedProduct(pa, m: m, weight: w, into: pc + starts[i], ldc: total) }
        }
        let xShape = x.shape
        return record(out, op: "quantized-linear-group", inputs: [x]) { g in
            let g2 = g.plain().detached()
            let dx = Tensor(uninitialized: xShape)
            for (i, w) in weights.enumerated() {
                quantizedProductTransposed(g2.floats + starts[i], m: m, weight: w, into: dx.storage.floats, ldg: total,
                                           accumulate: i > 0)
            }
            return [dx]
        }
    }
}
