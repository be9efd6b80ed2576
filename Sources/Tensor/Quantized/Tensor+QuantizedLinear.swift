/// A linear layer's product with a frozen quantised weight, `x · Wᵀ + b`, forward and
/// backward-data, without ever holding the whole float weight.
///
/// Two ways to run, chosen by the number of input rows `M` (`lorakit bench llama --breakdown` times both):
///
/// - `M ≤ fusedRowLimit` (decoding one token at a time): `QuantizedKernels.product` decodes each
///   block once into 32 floats of scratch and multiplies it into every row; the float weight is
///   never written out, so the product reads 0.6–1.1 bytes per weight instead of 4.
/// - more rows (a prompt, a training batch): the weight is decoded to Float32 in chunks of rows
///   (at most `chunkBytes` of scratch, reused through the caching allocator) and multiplied on
///   oneDNN's sgemm, where the decoding costs a small fraction of the GEMM.
///
/// Backward computes only `dx = g · W` (the weight is frozen: no gradient, and `x` is not kept),
/// decoding the weight again chunk by chunk rather than keeping a float copy from forward.
///
/// The GEMM path runs in Float32 unless the task asks for BF16 (`withQuantizedMatmulPrecision`)
/// and the CPU has bf16 units: then the decoded weight and the input are rounded to BF16 and
/// multiplied on oneDNN's bf16 matmul with Float32 accumulation.
extension Tensor {
    /// Input rows up to which the fused decode-and-multiply kernel runs (more rows: decode, then GEMM).
    public static let fusedRowLimit = 8
    /// Most bytes of float weight decoded at once on the GEMM path.
    static let chunkBytes = 16 << 20

    /// `x · Wᵀ + bias` for a frozen quantised `weight` [N, K]: `x` [..., K] (rank ≥ 2) → [..., N].
    ///
    /// Gradients flow to `x` (`g · W`, decoded again in backward) and to `bias` if it requires one;
    /// never to the weight.
    public static func linear(_ x: Tensor, quantizedWeight weight: QuantizedMatrix, bias: Tensor? = nil) -> Tensor {
        precondition(x.rank >= 2 && x.shape[x.rank - 1] == weight.columns,
                     "linear: input \(x.shape) does not fit quantised weight \(weight.shape) (needs [..., \(weight.columns)])")
        precondition(x.dtype == .float32, "linear: input must be F32, got \(x.dtype.rawValue) \(x.shape)")
        if let bias {
            precondition(bias.shape == [weight.rows], "linear: bias \(bias.shape) must be [\(weight.rows)]")
        }
        let n = weight.rows
        let rows = Array(x.shape.dropLast())
        let m = rows.reduce(1, *)
        let a = x.plain().detached()
        let out = Tensor(uninitialized: rows + [n])
        quantizedProduct(a.floats, m: m, weight: weight, into: out.storage.floats)
        if let bias {
            let pb = bias.plain().floats, pc = out.storage.floats
            parallelFor(m, grain: Swift.max(1, 32_768 / Swift.max(n, 1))) { r0, r1 in
                for r in r0..<r1 { for j in 0..<n { pc[r * n + j] += pb[j] } }
            }
        }
        let needsX = x.requiresGrad, needsBias = bias?.requiresGrad ?? false
        let xShape = x.shape
        let inputs = bias.map { [x, $0] } ?? [x]
        return record(out, op: "quantized-linear", inputs: inputs) { g in
            let g2 = g.plain().detached()
            var grads: [Tensor?] = [nil]
            if needsX {
                let dx = Tensor(uninitialized: xShape)
                quantizedProductTransposed(g2.floats, m: m, weight: weight, into: dx.storage.floats)
                grads[0] = dx
            }
            if needsBias { grads.append(g2.reshaped([m, n]).sum(axes: [0])) } else if bias != nil { grads.append(nil) }
            return grads
        }
    }

    /// `c [m, N] = a [m, K] · Wᵀ`.
    /// - Parameter chunk: rows of W decoded at once on the GEMM path (default: `chunkBytes` of floats).
    /// - Parameter ldc: distance between rows of `c` (default N).
    static func quantizedProduct(_ a: UnsafePointer<Float>, m: Int, weight w: QuantizedMatrix,
                                 into c: UnsafeMutablePointer<Float>, ldc: Int? = nil, chunk: Int? = nil) {
        let (k, n) = (w.columns, w.rows)
        let ldc = ldc ?? n
        if m == 0 || n == 0 { return }
        if m <= fusedRowLimit {
            KernelTrace.note("quantized-product.\(w.format.rawValue)")
            let (base, rowBytes, format) = (w.base, w.rowBytes, w.format)
            // About 64 KiB of weight per chunk of work, so that both threads stay busy on small matrices.
            let grain = Swift.max(1, 65_536 / Swift.max(rowBytes, 1))
            parallelFor(n, grain: grain) { n0, n1 in
                QuantizedKernels.product(format, base: base, rowBytes: rowBytes, columns: k, x: a, m: m, rows: n0, n1,
                                         y: c, ldy: ldc)
            }
            return
        }
        let chunk = chunk ?? chunkRows(w)
        let scratch = Tensor(uninitialized: [Swift.min(chunk, n), k])
        if QuantizedMatmulPrecision.effective == .bfloat16 {
            let a16 = bfloat16Copy(a, count: m * k), w16 = Tensor(uninitialized: scratch.shape, dtype: .bfloat16)
            for n0 in stride(from: 0, to: n, by: chunk) {
                let n1 = Swift.min(n, n0 + chunk)
                w.dequantizeRows(n0, n1, into: scratch.storage.floats)
                convertToBFloat16(scratch.storage.floats, into: w16.bfloat16Bits, count: (n1 - n0) * k)
                DNNL.matmulBF16(m: m, n: n1 - n0, k: k, a: a16.bfloat16Bits, lda: k, b: w16.bfloat16Bits, transB: true,
                                c: c + n0, ldc: ldc, accumulate: false)
            }
            return
        }
        for n0 in stride(from: 0, to: n, by: chunk) {
            let n1 = Swift.min(n, n0 + chunk)
            w.dequantizeRows(n0, n1, into: scratch.storage.floats)
            DNNL.sgemm(transA: false, transB: true, m: m, n: n1 - n0, k: k, a: a, lda: k, b: scratch.storage.floats, ldb: k,
                       c: c + n0, ldc: ldc)
        }
    }

    /// `c [m, K] = g [m, N] · W` (backward-data), accumulated over chunks of W's rows.
    /// - Parameters:
    ///   - ldg: distance between rows of `g` (default N).
    ///   - accumulate: add to what `c` holds rather than overwrite it.
    static func quantizedProductTransposed(_ g: UnsafePointer<Float>, m: Int, weight w: QuantizedMatrix,
                                           into c: UnsafeMutablePointer<Float>, ldg: Int? = nil, accumulate: Bool = false,
                                           chunk: Int? = nil) {
        let (k, n) = (w.columns, w.rows)
        let ldg = ldg ?? n
        if m == 0 || k == 0 { return }
        if n == 0 { if !accumulate { c.update(repeating: 0, count: m * k) }; return }
        let chunk = chunk ?? chunkRows(w)
        let scratch = Tensor(uninitialized: [Swift.min(chunk, n), k])
        if m > fusedRowLimit && QuantizedMatmulPrecision.effective == .bfloat16 {
            let g16 = bfloat16Copy(g, count: (m - 1) * ldg + n), w16 = Tensor(uninitialized: scratch.shape, dtype: .bfloat16)
            for n0 in stride(from: 0, to: n, by: chunk) {
                let n1 = Swift.min(n, n0 + chunk)
                w.dequantizeRows(n0, n1, into: scratch.storage.floats)
                convertToBFloat16(scratch.storage.floats, into: w16.bfloat16Bits, count: (n1 - n0) * k)
                DNNL.matmulBF16(m: m, n: k, k: n1 - n0, a: g16.bfloat16Bits + n0, lda: ldg, b: w16.bfloat16Bits, transB: false,
                                c: c, ldc: k, accumulate: accumulate || n0 > 0)
            }
            return
        }
        for n0 in stride(from: 0, to: n, by: chunk) {
            let n1 = Swift.min(n, n0 + chunk)
            w.dequantizeRows(n0, n1, into: scratch.storage.floats)
            DNNL.sgemm(transA: false, transB: false, m: m, n: k, k: n1 - n0, a: g + n0, lda: ldg, b: scratch.storage.floats,
                       ldb: k, beta: accumulate || n0 > 0 ? 1 : 0, c: c, ldc: k)
        }
    }

    /// `count` floats from `source` rounded to BF16 (to nearest, ties to even), in a new tensor.
    static func bfloat16Copy(_ source: UnsafePointer<Float>, count: Int) -> Tensor {
        let out = Tensor(uninitialized: [count], dtype: .bfloat16)
        convertToBFloat16(source, into: out.bfloat16Bits, count: count)
        return out
    }

    /// Rounds `count` floats to BF16 bit patterns (to nearest, ties to even; a NaN stays a NaN), in parallel.
    static func convertToBFloat16(_ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<UInt16>, count: Int) {
        parallelFor(count, grain: 1 << 16) { b, e in
            for i in b..<e {
                let bits = source[i].bitPattern
                let rounded = UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
                target[i] = source[i].isNaN ? 0x7FC0 : rounded
            }
        }
    }

    /// The bit patterns of a plain BF16 tensor's elements.
    var bfloat16Bits: UnsafeMutablePointer<UInt16> {
        precondition(format == nil && dtype == .bfloat16, "expected a plain BF16 tensor, found \(dtype.rawValue) \(shape)")
        return (storage.base + offset * 2).assumingMemoryBound(to: UInt16.self)
    }

    /// Rows of `w` decoded at once on the GEMM path.
    static func chunkRows(_ w: QuantizedMatrix) -> Int {
        Swift.max(1, Swift.min(w.rows, chunkBytes / Swift.max(1, 4 * w.columns)))
    }
}
