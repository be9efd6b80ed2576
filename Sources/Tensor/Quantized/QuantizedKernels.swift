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

    /// `product` with the decoder of `format`.
    static func product(_ format: QuantizedFormat, base: UnsafeRawPointer, rowBytes: Int, columns: Int,
                        x: UnsafePointer<Float>, m: Int, rows n0: Int, _ n1: Int, y: UnsafeMutablePointer<Float>, ldy: Int) {
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
    /// rows `n0 ..< n1`, written at `y + i·ldy + n`. Each block is decoded once into 32 floats of
    /// scratch and used for every row of `x`.
    static func product<D: BlockDecoder>(_: D.Type, base: UnsafeRawPointer, rowBytes: Int, columns: Int,
                                         x: UnsafePointer<Float>, m: Int, rows n0: Int, _ n1: Int,
                                         y: UnsafeMutablePointer<Float>, ldy: Int) {
        let blocks = columns / 32
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 4 + m) { scratch in
            let w = UnsafeMutableRawPointer(scratch.baseAddress!).assumingMemoryBound(to: Float.self)
            let acc = scratch.baseAddress! + 4
            for n in n0..<n1 {
                let row = base + n * rowBytes
                if m == 1 {
                    // One input row: the accumulator stays in a register.
                    var a = SIMD8<Float>(repeating: 0)
                    for b in 0..<blocks {
                        D.decode32(row, block: b, into: w)
                        let xb = UnsafeRawPointer(x + 32 * b)
                        for c in 0..<4 {
                            a = a.addingProduct(UnsafeRawPointer(w + 8 * c).load(as: SIMD8<Float>.self),
                                                (xb + 32 * c).loadUnaligned(as: SIMD8<Float>.self))
                        }
                    }
                    var s = a.sum()
                    for j in (32 * blocks)..<columns { s += D.element(row, j) * x[j] }
                    y[n] = s
                    continue
                }
                for i in 0..<m { acc[i] = SIMD8(repeating: 0) }
                for b in 0..<blocks {
                    D.decode32(row, block: b, into: w)
                    let w0 = UnsafeRawPointer(w).load(as: SIMD8<Float>.self)
                    let w1 = UnsafeRawPointer(w + 8).load(as: SIMD8<Float>.self)
                    let w2 = UnsafeRawPointer(w + 16).load(as: SIMD8<Float>.self)
                    let w3 = UnsafeRawPointer(w + 24).load(as: SIMD8<Float>.self)
                    for i in 0..<m {
                        let xb = UnsafeRawPointer(x + i * columns + 32 * b)
                        var a = acc[i]
                        a = a.addingProduct(w0, xb.loadUnaligned(as: SIMD8<Float>.self))
                        a = a.addingProduct(w1, (xb + 32).loadUnaligned(as: SIMD8<Float>.self))
                        a = a.addingProduct(w2, (xb + 64).loadUnaligned(as: SIMD8<Float>.self))
                        a = a.addingProduct(w3, (xb + 96).loadUnaligned(as: SIMD8<Float>.self))
                        acc[i] = a
                    }
                }
                for i in 0..<m {
                    var s = acc[i].sum()
                    for j in (32 * blocks)..<columns { s += D.element(row, j) * x[i * columns + j] }
                    y[i * ldy + n] = s
                }
            }
        }
    }
}
