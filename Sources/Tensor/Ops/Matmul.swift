/// Matrix products on oneDNN's sgemm.
extension Tensor {
    /// Matrix product of the last two dimensions, batched over the leading ones (broadcasting).
    ///
    /// `transposeA`/`transposeB` multiply by the transpose of an operand without copying it:
    /// `matmul(x, w, transposeB: true)` is `x · wᵀ`, the product of a `Linear` layer.
    /// Shapes: `[..., M, K] · [..., K, N] -> [..., M, N]`; 1-D operands are not promoted.
    public func matmul(_ other: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        matmul(other, transposeA: transposeA, transposeB: transposeB, packingB: false)
    }

    /// `matmul`, where `packingB` says that `other` is a matrix that stays unchanged across calls
    /// (a frozen weight), so that a 2-D product may run on a packed copy of it (`DNNL.matmulPacked`).
    func matmul(_ other: Tensor, transposeA: Bool, transposeB: Bool, packingB: Bool) -> Tensor {
        precondition(rank >= 2 && other.rank >= 2, "matmul needs rank ≥ 2, got \(shape) and \(other.shape)")
        precondition(dtype == .float32 && other.dtype == .float32,
                     "matmul needs F32 tensors, got \(dtype.rawValue) \(shape) and \(other.dtype.rawValue) \(other.shape)")
        if rank > 2 && other.rank == 2 && !transposeA {
            precondition(shape[rank - 1] == other.shape[transposeB ? 1 : 0],
                         "matmul: inner dimensions differ: \(shape) · \(other.shape)\(transposeB ? "ᵀ" : "")")
            // A matrix shared by every batch (a Linear layer's weight): one product over all the
            // rows, `[B·M, K] · [K, N]`, as PyTorch does, rather than B products of M rows (which
            // run far below the GEMM's speed for M ≈ 128 and, in backward, sum B weight gradients).
            let rows = Array(shape.dropLast())
            let product = reshaped([rows.reduce(1, *), shape[rank - 1]])
                .matmul(other, transposeA: false, transposeB: transposeB, packingB: packingB)
            return product.reshaped(rows + [product.shape[1]])
        }
        let a = self.plain(), b = other.plain()
        precondition(a.rank >= 2 && b.rank >= 2, "matmul needs rank ≥ 2, got \(a.shape) and \(b.shape)")
        let (m, ka) = transposeA ? (a.shape[a.rank - 1], a.shape[a.rank - 2]) : (a.shape[a.rank - 2], a.shape[a.rank - 1])
        let (kb, n) = transposeB ? (b.shape[b.rank - 1], b.shape[b.rank - 2]) : (b.shape[b.rank - 2], b.shape[b.rank - 1])
        precondition(ka == kb, "matmul: inner dimensions differ: \(a.shape)\(transposeA ? "ᵀ" : "") · \(b.shape)\(transposeB ? "ᵀ" : "")")
        let batchA = Array(a.shape.dropLast(2)), batchB = Array(b.shape.dropLast(2))
        guard let batch = Broadcast.shape(batchA, batchB) else {
            preconditionFailure("matmul: batch dimensions \(batchA) and \(batchB) cannot be broadcast")
        }
        let out = Tensor(uninitialized: batch + [m, n])
        let count = batch.reduce(1, *)
        let sa = Broadcast.strides(of: batchA, in: batch), sb = Broadcast.strides(of: batchB, in: batch)
        let pa = a.floats, pb = b.floats, pc = out.storage.floats
        let lda = a.shape[a.rank - 1], ldb = b.shape[b.rank - 1]
        // The input gradient `g · W` of a frozen weight W (rather than the weight's own gradient,
        // or a product of activations): the weight is reused unchanged every step, so it is packed.
        if packingB && count == 1 && !transposeA && Tensor.isLargeProduct(m: m, k: ka, n: n) {
            DNNL.matmulPacked(m: m, n: n, k: ka, a: pa, b: b, transB: transposeB, c: pc)
        } else if count == 1 && !transposeA && transposeB && n <= ka && Tensor.isLargeProduct(m: m, k: ka, n: n) {
            // A Linear layer's forward x·Wᵀ that keeps or shrinks the width.
            DNNL.matmulTransposedB(m: m, n: n, k: ka, a: pa, b: pb, c: pc)
        } else {
            run(count: count, m: m, n: n, ka: ka, batch: batch, sa: sa, sb: sb, pa: pa, pb: pb, pc: pc, lda: lda, ldb: ldb,
                transposeA: transposeA, transposeB: transposeB)
        }
        // dA = g · op(B)ᵀ needs only B; dB = op(A)ᵀ · g needs only A. A frozen 2-D B (a weight that
        // requires no gradient) is the same matrix in every step's backward: pack it there.
        let bForA = self.requiresGrad ? b.detached() : nil
        let aForB = other.requiresGrad ? a.detached() : nil
        let packBForA = !other.requiresGrad && b.rank == 2 && !transposeA
        let aShape = a.shape, bShape = b.shape
        return Tensor.record(out, op: "matmul", inputs: [self, other]) { g in
            let ga = bForA.map { b -> Tensor in
                let r = transposeA ? b.matmul(g, transposeA: transposeB, transposeB: true)
                                   : g.matmul(b, transposeA: false, transposeB: !transposeB, packingB: packBForA)
                return r.sum(toShape: aShape)
            }
            let gb = aForB.map { a -> Tensor in
                let r = transposeB ? g.matmul(a, transposeA: true, transposeB: transposeA)
                                   : a.matmul(g, transposeA: !transposeA)
                return r.sum(toShape: bShape)
            }
            return [ga, gb]
        }
    }

    /// The products of `matmul` on `dnnl_sgemm`, one per batch element.
    private func run(count: Int, m: Int, n: Int, ka: Int, batch: [Int], sa: [Int], sb: [Int],
                     pa: UnsafeMutablePointer<Float>, pb: UnsafeMutablePointer<Float>, pc: UnsafeMutablePointer<Float>,
                     lda: Int, ldb: Int, transposeA: Bool, transposeB: Bool) {
        let product = { (i: Int) in
            var rem = i, oa = 0, ob = 0
            for d in stride(from: batch.count - 1, through: 0, by: -1) {
                let idx = rem % batch[d]
                rem /= batch[d]
                oa += idx * sa[d]
                ob += idx * sb[d]
            }
            DNNL.sgemm(transA: transposeA, transB: transposeB, m: m, n: n, k: ka,
                       a: pa + oa * m * ka, lda: lda, b: pb + ob * ka * n, ldb: ldb,
                       c: pc + i * m * n, ldc: n)
        }
        if count > 1 && m * n * ka <= Tensor.smallProductWork {
            // Many small products (attention's per-head q·kᵀ): one product per thread, each sgemm
            // single-threaded inside the team, in one parallel region — rather than one region,
            // and one wake-up of the pool, per product (about 2× faster for 96 heads of 128×128×64).
            parallelFor(count, grain: 1) { begin, end in for i in begin..<end { product(i) } }
        } else {
            for i in 0..<count { product(i) }
        }
    }
}

extension Tensor {
    /// The largest `m·n·k` of a batched product that runs one product per thread.
    static let smallProductWork = 1 << 21
    /// Packing B pays off only for products of at least this many rows and B of this many elements.
    static let packedProductMinimumRows = 64
    static let packedProductMinimumWork = 1 << 16

    /// Whether an [m, k]·[k, n] product is large enough for the matmul primitive (packed or
    /// reading a transposed B in place) rather than sgemm.
    static func isLargeProduct(m: Int, k: Int, n: Int) -> Bool {
        m >= packedProductMinimumRows && k * n >= packedProductMinimumWork
    }
}

extension Tensor {
    /// A fully connected layer, `x · Wᵀ + b`, with the bias added inside the product rather than
    /// by a pass of its own over the output (a `Linear` layer's forward, LoRA's projections).
    ///
    /// Shapes: `x` [..., K] (rank ≥ 2), `weight` [N, K], `bias` [N] or nil; result [..., N].
    /// Gradients are those of `x.matmul(weight, transposeB: true) + bias`, each computed only if
    /// wanted; a frozen weight's input gradient runs on its packed copy as in `matmul`, and is
    /// added to x's gradient so far inside the GEMM when that memory is unshared (x feeding
    /// query, key, value and LoRA's down-projections then costs no add pass per sum).
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        precondition(x.rank >= 2 && weight.rank == 2 && x.shape[x.rank - 1] == weight.shape[1],
                     "linear: input \(x.shape) does not fit weight \(weight.shape) (needs [..., \(weight.rank == 2 ? weight.shape[1] : -1)] input and [out, in] weight)")
        if let bias, !(bias.rank == 1 && bias.shape[0] == weight.shape[0]) {   // the usual [out] needs no array
            let outShape = Array(x.shape.dropLast()) + [weight.shape[0]]
            precondition(Broadcast.shape(bias.shape, outShape) == outShape,
                         "linear: bias \(bias.shape) does not broadcast to the output \(outShape) of input \(x.shape) and weight \(weight.shape)")
        }
        guard x.rank >= 2, weight.rank == 2, x.shape[x.rank - 1] == weight.shape[1],
              bias.map({ $0.shape == [weight.shape[0]] }) ?? true else {
            let y = x.matmul(weight.toFloat32(), transposeB: true)
            return bias.map { y + $0 } ?? y
        }
        let (k, n) = (weight.shape[1], weight.shape[0])
        let rows = Array(x.shape.dropLast())
        let m = rows.reduce(1, *)
        let a = x.plain().detached().reshaped([m, k]), stored = weight.plain().detached(), b = bias?.plain().detached()
        let out = Tensor(uninitialized: rows + [n])
        let pc = out.storage.floats
        // In bf16 (`ComputePrecision`; or a weight held in BF16, `toBFloat16`): forward,
        // backward-data and backward-weights on bf16 operands with f32 results. A trainable
        // weight (an adapter, full fine-tuning's f32 master weight) is packed in bf16 once per
        // value (after each optimizer step) and its gradient is an f32 sum. f32 (a BF16 weight
        // decoded) where the CPU has no bf16 units or oneDNN no optimised bf16 matmul for the shape.
        precondition(weight.dtype == .float32 || (weight.dtype == .bfloat16 && !weight.requiresGrad),
                     "linear: the weight \(weight.shape) must be F32, or BF16 and frozen; got \(weight.dtype.rawValue)")
        let bf16 = weight.dtype == .bfloat16 ? ComputePrecision.hasBF16Units : ComputePrecision.effective == .bfloat16
        let forwardInBF16 = bf16 && DNNL.matmulWeightBF16(m: m, n: n, k: k, a: a.floats, b: stored, transB: true,
                                                          bias: b.map { UnsafePointer($0.floats) }, c: pc)
        let w = stored.dtype == .float32 || forwardInBF16 ? stored : stored.toFloat32()
        if forwardInBF16 {
            // done in bf16
        } else if n <= k && Tensor.isLargeProduct(m: m, k: k, n: n) {
            // Keeps or shrinks the width: the matmul primitive, reading Wᵀ in place (see `matmul`).
            DNNL.matmulTransposedB(m: m, n: n, k: k, a: a.floats, b: w.floats, bias: b.map { UnsafePointer($0.floats) },
                                   c: pc)
        } else {
            // Widening (768→3072) or small: sgemm, onto rows of b when there is one.
            if let b {
                let pb = b.floats
                parallelFor(m, grain: Swift.max(1, 32_768 / Swift.max(n, 1))) { r0, r1 in
                    for r in r0..<r1 { (pc + r * n).update(from: pb, count: n) }
                }
            }
            DNNL.sgemm(transA: false, transB: true, m: m, n: n, k: k, a: a.floats, lda: k, b: w.floats, ldb: k,
                       beta: b == nil ? 0 : 1, c: pc, ldc: n)
        }
        // As in `matmul`: dx needs only W (packed when frozen), dW only x, db neither.
        let wForX = x.requiresGrad ? w : nil
        let xForW = weight.requiresGrad ? a : nil
        let packW = !weight.requiresGrad && Tensor.isLargeProduct(m: m, k: n, n: k)
        let needsBias = bias?.requiresGrad ?? false
        let xShape = x.shape
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        return Tensor.recordAccumulating(out, op: "linear", inputs: inputs) { g, grads in
            let g2 = g.plain().detached().reshaped([m, n])
            if let w = wForX {
                // dx = g · W, [m, n] · [n, k], added into x's gradient so far when that is unshared.
                var sum = grads[0].take()
                let inPlace = sum.map { $0.format == nil && $0.offset == 0 && $0.shape == xShape } ?? false
                    && isKnownUniquelyReferenced(&sum!.storage)
                let target = inPlace ? sum! : Tensor(uninitialized: xShape)
                // An in-place write: what was derived from the old contents (a bf16 copy) is stale.
                if inPlace { target.storage.noteMutation() }
                if bf16, DNNL.matmulWeightBF16(m: m, n: k, k: n, a: g2.floats, b: w, transB: false,
                                               c: target.storage.floats, accumulate: inPlace) {
                    // done in bf16
                } else if w.dtype != .float32 {
                    let decoded = w.toFloat32()
                    DNNL.sgemm(transA: false, transB: false, m: m, n: k, k: n, a: g2.floats, lda: n, b: decoded.floats,
                               ldb: k, beta: inPlace ? 1 : 0, c: target.storage.floats, ldc: k)
                } else if packW {
                    DNNL.matmulPacked(m: m, n: k, k: n, a: g2.floats, b: w, transB: false, c: target.storage.floats,
                                      accumulate: inPlace)
                } else {
                    DNNL.sgemm(transA: false, transB: false, m: m, n: k, k: n, a: g2.floats, lda: n, b: w.floats, ldb: k,
                               beta: inPlace ? 1 : 0, c: target.storage.floats, ldc: k)
                }
                grads[0] = inPlace ? target : (sum.map { $0.addingGradient(target) } ?? target)
            }
            if let a = xForW {
                // dW = gᵀ · x, [n, m] · [m, k].
                var gw = Tensor(uninitialized: [n, k])
                if !(bf16 && DNNL.matmulTransposedABF16(m: n, n: k, k: m, a: g2.floats, b: a.floats, c: gw.storage.floats)) {
                    gw = g2.matmul(a, transposeA: true)
                }
                grads[1] = grads[1].map { $0.addingGradient(gw) } ?? gw
            }
            if needsBias {
                let gb = g2.sum(axes: [0])
                grads[2] = grads[2].map { $0.addingGradient(gb) } ?? gb
            }
        }
    }
}

extension Tensor {
    /// `self + alpha · (a · op(b))` in one GEMM that accumulates into a copy of `self` (beta = 1):
    /// the LoRA update `y + s·(h·Bᵀ)` without a product-sized temporary or an extra pass.
    ///
    /// Shapes: `self` [..., M, N] (or broadcastable rows [M, N] for a 2-D `a`), `a` [..., M, K],
    /// `b` [K, N] (or [N, K] with `transposeB`). `a` may have leading dimensions, flattened into M.
    public func addingMatmul(_ a: Tensor, _ b: Tensor, transposeB: Bool = false, alpha: Float = 1) -> Tensor {
        addingMatmul(a, b, transposeB: transposeB, alpha: alpha, inPlace: false)
    }

    /// `self = self + alpha · (a · op(b))` (see `addingMatmul`), accumulating into `self`'s own
    /// memory when nothing else refers to it (a layer's fresh output: LoRA's `y += s·(h·Aᵀ)·Bᵀ`),
    /// which saves copying it; otherwise into a copy. The tape is the same either way: the
    /// gradient with respect to the old `self` is the output's, and no backward reads its values.
    public mutating func addMatmul(_ a: Tensor, _ b: Tensor, transposeB: Bool = false, alpha: Float = 1) {
        let owned = format == nil && offset == 0 && storage.byteCount == count * MemoryLayout<Float>.size
            && isKnownUniquelyReferenced(&storage)
        if owned { storage.noteMutation() }   // written in place: derived data (a bf16 copy) is stale
        self = addingMatmul(a, b, transposeB: transposeB, alpha: alpha, inPlace: owned)
    }

    private func addingMatmul(_ a: Tensor, _ b: Tensor, transposeB: Bool, alpha: Float, inPlace: Bool) -> Tensor {
        let a2 = a.plain(), b2 = b.plain()
        precondition(b2.rank == 2 && a2.rank >= 2, "addingMatmul: b must be 2-D and a at least 2-D, got \(a.shape), \(b.shape)")
        let k = a2.shape[a2.rank - 1]
        let (kb, n) = transposeB ? (b2.shape[1], b2.shape[0]) : (b2.shape[0], b2.shape[1])
        precondition(k == kb, "addingMatmul: inner dimensions differ: \(a.shape) · \(b.shape)\(transposeB ? "ᵀ" : "")")
        precondition(dtype == .float32 && a2.dtype == .float32 && b2.dtype == .float32,
                     "addingMatmul needs F32 tensors, got \(dtype.rawValue), \(a2.dtype.rawValue) and \(b2.dtype.rawValue)")
        let m = a2.shape.dropLast().reduce(1, *)
        let outShape = Array(a2.shape.dropLast()) + [n]
        precondition(shape == outShape, "addingMatmul: base \(shape) does not match the product \(outShape)")
        let out = inPlace ? detached() : detached().copy()
        DNNL.sgemm(transA: false, transB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a2.floats, lda: k,
                   b: b2.floats, ldb: b2.shape[1], beta: 1, c: out.storage.floats, ldc: n)
        let bForA = a.requiresGrad ? b2.detached() : nil
        let aForB = b.requiresGrad ? a2.detached() : nil
        let bShape = b2.shape
        return Tensor.record(out, op: "adding-matmul", inputs: [self, a, b]) { [selfNeeds = requiresGrad] g in
            let g2 = g.reshaped([m, n])
            let ga = bForA.map { b in g2.matmul(b, transposeB: !transposeB).reshaped(a2.shape) * alpha }
            let gb = aForB.map { a -> Tensor in
                let a2d = a.reshaped([m, k])
                let r = transposeB ? g2.matmul(a2d, transposeA: true) : a2d.matmul(g2, transposeA: true)
                return r.reshaped(bShape) * alpha
            }
            return [selfNeeds ? g : nil, ga, gb]
        }
    }
}
