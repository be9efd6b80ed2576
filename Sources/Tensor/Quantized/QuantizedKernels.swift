/// The loops behind `QuantizedMatrix`: decoding a format's blocks into floats, and products of a
/// few input rows with a quantised matrix that decode each block once into registers-sized scratch
/// and never write the float matrix out.
///
/// Written by hand because no library LoRAKit links has them: oneDNN 2.6 has no weight-only
/// int4/int8 matmul (it rejects f32 × s8; weight decompression came in 3.4), and ggml's kernels
/// would bring a second thread pool and its own tensor type.

/// Decodes one format's blocks of 32 weights.
protocol BlockDecoder {
    /// Writes weights `32·block ..< 32·block + 32` of `row` into `out`, as Float32 values equal to
    /// ggml's dequantisation.
    static func decode32(_ row: UnsafeRawPointer, block: Int, into out: UnsafeMutablePointer<Float>)
    /// Weight `index` of `row` (for the float formats' rows whose width is not a multiple of 32).
    static func element(_ row: UnsafeRawPointer, _ index: Int) -> Float
    /// Writes block `block`'s small-integer values `v` into `out` and returns the affine map to
    /// its weights, `w[j] = scale·v[j] + offset` (`v` = q for Q8_0, q − 8 for Q4_0 and Q4_1, the
    /// weights themselves for the float formats): what a dot product needs, without a multiply
    /// or a multiply-add per weight.
    static func decodeRaw32(_ row: UnsafeRawPointer, block: Int, into out: UnsafeMutablePointer<Float>) -> (scale: Float, offset: Float)
    /// Whether `offset` can be nonzero (then a product needs the input's block sums).
    static var hasOffset: Bool { get }
}

extension BlockDecoder {
    static var hasOffset: Bool { false }

    @inline(__always) static func decodeRaw32(_ row: UnsafeRawPointer, block: Int,
                                              into out: UnsafeMutablePointer<Float>) -> (scale: Float, offset: Float) {
        decode32(row, block: block, into: out)
        return (1, 0)
    }
}

@inline(__always) private func half(_ p: UnsafeRawPointer) -> Float {
    Float(Float16(bitPattern: p.loadUnaligned(as: UInt16.self)))
}

enum Q8_0Decoder: BlockDecoder {
    @inline(__always) static func decode32(_ row: UnsafeRawPointer, block: Int, into out: UnsafeMutablePointer<Float>) {
        let p = row + block * 34
        let d = half(p)
        let q = (p + 2).assumingMemoryBound(to: Int8.self)
        for j in 0..<32 { out[j] = Float(q[j]) * d }
    }

    @inline(__always) static func element(_ row: UnsafeRawPointer, _ index: Int) -> Float {
        let p = row + (index / 32) * 34
        return Float((p + 2 + index % 32).load(as: Int8.self)) * half(p)
    }

    @inline(__always) static func decodeRaw32(_ row: UnsafeRawPointer, block: Int,
                                              into out: UnsafeMutablePointer<Float>) -> (scale: Float, offset: Float) {
        let p = row + block * 34
        let q = (p + 2).assumingMemoryBound(to: Int8.self)
        for j in 0..<32 { out[j] = Float(q[j]) }
        return (half(p), 0)
    }
}

enum Q4_0Decoder: BlockDecoder {
    @inline(__always) static func decode32(_ row: UnsafeRawPointer, block: Int, into out: UnsafeMutablePointer<Float>) {
        let p = row + block * 18
        let d = half(p)
        let q = (p + 2).assumingMemoryBound(to: UInt8.self)
        for j in 0..<16 {
            out[j] = Float(Int32(q[j] & 0x0F) - 8) * d
            out[j + 16] = Float(Int32(q[j] >> 4) - 8) * d
        }
    }

    @inline(__always) static func element(_ row: UnsafeRawPointer, _ index: Int) -> Float {
        let p = row + (index / 32) * 18
        let j = index % 32
        let byte = (p + 2 + j % 16).load(as: UInt8.self)
        return Float(Int32(j < 16 ? byte & 0x0F : byte >> 4) - 8) * half(p)
    }

    @inline(__always) static func decodeRaw32(_ row: UnsafeRawPointer, block: Int,
                                              into out: UnsafeMutablePointer<Float>) -> (scale: Float, offset: Float) {
        let p = row + block * 18
        let q = (p + 2).assumingMemoryBound(to: UInt8.self)
        for j in 0..<16 {
            out[j] = Float(Int32(q[j] & 0x0F) - 8)
            out[j + 16] = Float(Int32(q[j] >> 4) - 8)
        }
        return (half(p), 0)
    }
}

enum Q4_1Decoder: BlockDecoder {
    @inline(__always) static func decode32(_ row: UnsafeRawPointer, block: Int, into out: UnsafeMutablePointer<Float>) {
        let p = row + block * 20
        let d = half(p), m = half(p + 2)
        let q = (p + 4).assumingMemoryBound(to: UInt8.self)
        for j in 0..<16 {
            out[j] = Float(q[j] & 0x0F) * d + m
            out[j + 16] = Float(q[j] >> 4) * d + m
        }
    }

    @inline(__always) static func element(_ row: UnsafeRawPointer, _ index: Int) -> Float {
        let p = row + (index / 32) * 20
        let j = index % 32
        let byte = (p + 4 + j % 16).load(as: UInt8.self)
        return Float(j < 16 ? byte & 0x0F : byte >> 4) * half(p) + half(p + 2)
    }

    static var hasOffset: Bool { true }

    /// `w = d·(n − 8) + (m + 8d)`: centred values, so that the offset term of a dot product,
    /// `(m + 8d)·Σx`, is small (m is about −7.5d for a block's minimum) and does not cancel most of
    /// `d·Σ(n − 8)·x`, as `d·Σn·x + m·Σx` would, costing digits.
    @inline(__always) static func decodeRaw32(_ row: UnsafeRawPointer, block: Int,
                                              into out: UnsafeMutablePointer<Float>) -> (scale: Float, offset: Float) {
        let p = row + block * 20
        let q = (p + 4).assumingMemoryBound(to: UInt8.self)
        for j in 0..<16 {
            out[j] = Float(q[j] & 0x0F) - 8
            out[j + 16] = Float(q[j] >> 4) - 8
        }
        let d = half(p)
        return (d, half(p + 2) + 8 * d)
    }
}

enum F16Decoder: BlockDecoder {
    @inline(__always) static func decode32(_ row: UnsafeRawPointer, block: Int, into out: UnsafeMutablePointer<Float>) {
        let p = row + block * 64
        for j in 0..<32 { out[j] = Float(Float16(bitPattern: (p + 2 * j).loadUnaligned(as: UInt16.self))) }
    }

    @inline(__always) static func element(_ row: UnsafeRawPointer, _ index: Int) -> Float { half(row + 2 * index) }
}

enum BF16Decoder: BlockDecoder {
    @inline(__always) static func decode32(_ row: UnsafeRawPointer, block: Int, into out: UnsafeMutablePointer<Float>) {
        let p = row + block * 64
        for j in 0..<32 { out[j] = Float(bitPattern: UInt32((p + 2 * j).loadUnaligned(as: UInt16.self)) << 16) }
    }

    @inline(__always) static func element(_ row: UnsafeRawPointer, _ index: Int) -> Float {
        Float(bitPattern: UInt32((row + 2 * index).loadUnaligned(as: UInt16.self)) << 16)
    }
}

enum F32Decoder: BlockDecoder {
    @inline(__always) static func decode32(_ row: UnsafeRawPointer, block: Int, into out: UnsafeMutablePointer<Float>) {
        let p = row + block * 128
        for j in 0..<32 { out[j] = (p + 4 * j).loadUnaligned(as: Float.self) }
    }

    @inline(__always) static func element(_ row: UnsafeRawPointer, _ index: Int) -> Float {
        (row + 4 * index).loadUnaligned(as: Float.self)
    }
}

// MARK: - Loops

enum QuantizedKernels {
    /// `dequantize` with the decoder of `format` (one switch per call, outside every loop, so
    /// that each format's loop is specialised and its block decoding inlined).
    static func dequantize(_ format: QuantizedFormat, base: UnsafeRawPointer, rowBytes: Int, columns: Int,
                           rows r0: Int, _ r1: Int, into out: UnsafeMutablePointer<Float>, ld: Int) {
        switch format {
        case .float32: dequantize(F32Decoder.self, base: base, rowBytes: rowBytes, columns: columns, rows: r0, r1, into: out, ld: ld)
        case .float16: dequantize(F16Decoder.self, base: base, rowBytes: rowBytes, columns: columns, rows: r0, r1, into: out, ld: ld)
        case .bfloat16: dequantize(BF16Decoder.self, base: base, rowBytes: rowBytes, columns: columns, rows: r0, r1, into: out, ld: ld)
        case .q8_0: dequantize(Q8_0Decoder.self, base: base, rowBytes: rowBytes, columns: columns, rows: r0, r1, into: out, ld: ld)
        case .q4_0: dequantize(Q4_0Decoder.self, base: base, rowBytes: rowBytes, columns: columns, rows: r0, r1, into: out, ld: ld)
        case .q4_1: dequantize(Q4_1Decoder.self, base: base, rowBytes: rowBytes, columns: columns, rows: r0, r1, into: out, ld: ld)
        }
    }

    /// `product` with the decoder of `format`; one input row of a block format takes the
    /// format's own loop (`rowProducts`).
    static func product(_ format: QuantizedFormat, base: UnsafeRawPointer, rowBytes: Int, columns: Int,
                        x: UnsafePointer<Float>, m: Int, rows n0: Int, _ n1: Int, y: UnsafeMutablePointer<Float>, ldy: Int) {
        if m == 1 && format.isBlockFormat {
            rowProducts(format, base: base, rowBytes: rowBytes, columns: columns, x: x, rows: n0, n1, y: y)
            return
        }
        switch format {
        case .float32: product(F32Decoder.self, base: base, rowBytes: rowBytes, columns: columns, x: x, m: m, rows: n0, n1, y: y, ldy: ldy)
        case .float16: product(F16Decoder.self, base: base, rowBytes: rowBytes, columns: columns, x: x, m: m, rows: n0, n1, y: y, ldy: ldy)
        case .bfloat16: product(BF16Decoder.self, base: base, rowBytes: rowBytes, columns: columns, x: x, m: m, rows: n0, n1, y: y, ldy: ldy)
        case .q8_0: product(Q8_0Decoder.self, base: base, rowBytes: rowBytes, columns: columns, x: x, m: m, rows: n0, n1, y: y, ldy: ldy)
        case .q4_0: product(Q4_0Decoder.self, base: base, rowBytes: rowBytes, columns: columns, x: x, m: m, rows: n0, n1, y: y, ldy: ldy)
        case .q4_1: product(Q4_1Decoder.self, base: base, rowBytes: rowBytes, columns: columns, x: x, m: m, rows: n0, n1, y: y, ldy: ldy)
        }
    }

    /// Decodes rows `r0 ..< r1` of a matrix (rows `rowBytes` apart from `base`, `columns` wide)
    /// into `out`, row `r` at `out + (r − r0)·ld`.
    static func dequantize<D: BlockDecoder>(_: D.Type, base: UnsafeRawPointer, rowBytes: Int, columns: Int,
                                            rows r0: Int, _ r1: Int, into out: UnsafeMutablePointer<Float>, ld: Int) {
        let blocks = columns / 32
        for r in r0..<r1 {
            let row = base + r * rowBytes, dst = out + (r - r0) * ld
            for b in 0..<blocks { D.decode32(row, block: b, into: dst + 32 * b) }
            for j in (32 * blocks)..<columns { dst[j] = D.element(row, j) }
        }
    }

    /// `y[i, n] = Σ_k x[i, k] · W[n, k]` for the `m` rows of `x` (`columns` apart) and the weight
    /// rows `n0 ..< n1`, written at `y + i·ldy + n`.
    ///
    /// Each block is decoded once to small-integer values (`decodeRaw32`: nibbles or bytes as
    /// floats, no multiply-add per weight) and used for every row of `x`:
    /// `Σ_j w_j x_j = scale·Σ_j v_j x_j + offset·Σ_j x_j`, the input's block sums computed once per
    /// call. Two accumulators alternate between blocks so that the additions do not wait on each
    /// other. The sum differs from the product of the decoded matrix by rounding only.
    static func product<D: BlockDecoder>(_: D.Type, base: UnsafeRawPointer, rowBytes: Int, columns: Int,
                                         x: UnsafePointer<Float>, m: Int, rows n0: Int, _ n1: Int,
                                         y: UnsafeMutablePointer<Float>, ldy: Int) {
        let blocks = columns / 32
        let sums = D.hasOffset ? m * blocks + m : 0     // the input's block sums, then each row's offset sum
        // The decoded values get a Float allocation of their own: carved out of the SIMD scratch,
        // their stores were not known to be independent of the loads of x, and the m = 1 loop ran
        // at a third of its speed.
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 64) { values in
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 2 * m + (sums + 7) / 8) { scratch in
            let v = values.baseAddress!
            let acc = scratch.baseAddress!
            let xsum = UnsafeMutableRawPointer(scratch.baseAddress! + 2 * m).assumingMemoryBound(to: Float.self)
            let offsets = xsum + m * blocks
            if D.hasOffset {
                for i in 0..<m {
                    for b in 0..<blocks { xsum[i * blocks + b] = RowMath.sum(UnsafeMutablePointer(mutating: x + i * columns + 32 * b), 32) }
                }
            }
            for n in n0..<n1 {
                let row = base + n * rowBytes
                for i in 0..<(2 * m) { acc[i] = SIMD8(repeating: 0) }
                if D.hasOffset { for i in 0..<m { offsets[i] = 0 } }
                for b in 0..<blocks {
                    let (scale, offset) = D.decodeRaw32(row, block: b, into: v)
                    let slot = b & 1
                    for i in 0..<m {
                        acc[2 * i + slot] = acc[2 * i + slot].addingProduct(SIMD8(repeating: scale), dot32(v, x + i * columns + 32 * b))
                        if D.hasOffset { offsets[i] += offset * xsum[i * blocks + b] }
                    }
                }
                for i in 0..<m {
                    var s = (acc[2 * i] + acc[2 * i + 1]).sum() + (D.hasOffset ? offsets[i] : 0)
                    for j in (32 * blocks)..<columns { s += D.element(row, j) * x[i * columns + j] }
                    y[i * ldy + n] = s
                }
            }
        }
        }
    }

    /// `y[n] = Σ_k x[k] · W[n, k]` for one input row and the rows `n0 ..< n1` of a block format:
    /// the loop of decoding one token, kept free of the multi-row bookkeeping of `product` (with
    /// it, specialised, this loop ran at a third of the speed: its SIMD values were split into
    /// 128-bit halves and spilled). Per block, the stored integers are converted to floats into
    /// 32 floats of scratch (vectorised), multiplied into x, and scaled once:
    ///
    ///     Q8_0: d·Σ q·x      Q4_0: d·Σ (n − 8)·x      Q4_1: d·Σ (n − 8)·x + (m + 8d)·Σ x
    ///
    /// (Q4_1's nibbles are centred so that its offset term is small and does not cancel most of
    /// the other, as `d·Σ n·x + m·Σ x` would.) Two accumulators alternate between blocks.
    static func rowProducts(_ format: QuantizedFormat, base: UnsafeRawPointer, rowBytes: Int, columns: Int,
                            x: UnsafePointer<Float>, rows n0: Int, _ n1: Int, y: UnsafeMutablePointer<Float>) {
        switch format {
        case .q4_1: rowProducts(Q4_1Decoder.self, base: base, rowBytes: rowBytes, columns: columns, x: x, rows: n0, n1, y: y)
        case .q4_0: rowProducts(Q4_0Decoder.self, base: base, rowBytes: rowBytes, columns: columns, x: x, rows: n0, n1, y: y)
        case .q8_0: rowProducts(Q8_0Decoder.self, base: base, rowBytes: rowBytes, columns: columns, x: x, rows: n0, n1, y: y)
        case .float32, .float16, .bfloat16:
            product(format, base: base, rowBytes: rowBytes, columns: columns, x: x, m: 1, rows: n0, n1, y: y, ldy: 1)
        }
    }

    @inline(__always)
    private static func rowProducts<D: BlockDecoder>(_: D.Type, base: UnsafeRawPointer, rowBytes: Int, columns: Int,
                                                     x: UnsafePointer<Float>, rows n0: Int, _ n1: Int,
                                                     y: UnsafeMutablePointer<Float>) {
        let blocks = columns / 32
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 32 + blocks) { buffer in
            let w = buffer.baseAddress!, xsum = w + 32
            if D.hasOffset {
                for b in 0..<blocks { xsum[b] = RowMath.sum(UnsafeMutablePointer(mutating: x + 32 * b), 32) }
            }
            for n in n0..<n1 {
                let row = base + n * rowBytes
                var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
                var offsets: Float = 0
                for b in 0..<blocks {
                    let (d, offset) = D.decodeRaw32(row, block: b, into: w)
                    if D.hasOffset { offsets += offset * xsum[b] }
                    let xb = UnsafeRawPointer(x + 32 * b)
                    var s0 = UnsafeRawPointer(w).load(as: SIMD8<Float>.self) * xb.loadUnaligned(as: SIMD8<Float>.self)
                    var s1 = UnsafeRawPointer(w + 8).load(as: SIMD8<Float>.self) * (xb + 32).loadUnaligned(as: SIMD8<Float>.self)
                    s0 = s0.addingProduct(UnsafeRawPointer(w + 16).load(as: SIMD8<Float>.self), (xb + 64).loadUnaligned(as: SIMD8<Float>.self))
                    s1 = s1.addingProduct(UnsafeRawPointer(w + 24).load(as: SIMD8<Float>.self), (xb + 96).loadUnaligned(as: SIMD8<Float>.self))
                    if b & 1 == 0 { acc0 = acc0.addingProduct(SIMD8(repeating: d), s0 + s1) } else {
                        acc1 = acc1.addingProduct(SIMD8(repeating: d), s0 + s1)
                    }
                }
                y[n] = (acc0 + acc1).sum() + offsets
            }
        }
    }

    /// `v[0..<32] ⊙ x[0..<32]` folded to 8 lanes (two independent chains).
    @inline(__always)
    static func dot32(_ v: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>) -> SIMD8<Float> {
        let xb = UnsafeRawPointer(x), vb = UnsafeRawPointer(v)
        var s0 = vb.load(as: SIMD8<Float>.self) * xb.loadUnaligned(as: SIMD8<Float>.self)
        var s1 = (vb + 32).load(as: SIMD8<Float>.self) * (xb + 32).loadUnaligned(as: SIMD8<Float>.self)
        s0 = s0.addingProduct((vb + 64).load(as: SIMD8<Float>.self), (xb + 64).loadUnaligned(as: SIMD8<Float>.self))
        s1 = s1.addingProduct((vb + 96).load(as: SIMD8<Float>.self), (xb + 96).loadUnaligned(as: SIMD8<Float>.self))
        return s0 + s1
    }
}
