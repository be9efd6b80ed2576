/// Dequantisation of GGUF blocks into floats, bit for bit as ggml (`ggml-quants.c`,
/// `dequantize_row_*`) and the `gguf` Python package (`gguf.quants`) define it:
///
///     F32   4 bytes per element, as stored
///     F16   2 bytes per element (IEEE binary16; NaN payloads kept, as NumPy keeps them)
///     BF16  2 bytes per element: the high half of an F32
///     Q8_0  blocks of 32: f16 d, 32 × int8 q               w = q · d
///     Q4_0  blocks of 32: f16 d, 16 bytes of nibbles       w = (q − 8) · d
///     Q4_1  blocks of 32: f16 d, f16 m, 16 bytes           w = q · d + m
///
/// In Q4_0 and Q4_1 the low nibble of byte j is element j and the high nibble element j + 16. The
/// multiply and the add of Q4_1 round separately (no fused multiply-add), as NumPy computes them.
///
/// Frozen weights can stay quantised in memory and be dequantised a row, a layer or a range of
/// blocks at a time, when they are used: the loops are plain per-block code that the compiler
/// vectorises, and callers split large ranges over threads (`GGUFFile.tensor(named:)` does).
public enum GGUFDequantize {
    /// Dequantises blocks `range` of `blocks` — consecutive blocks of `type`, for instance one
    /// row of a tensor (`GGUFTensorInfo.rowByteCount` bytes) or a whole tensor — into
    /// `destination`, which receives `range.count × type.blockSize` floats.
    ///
    /// - Parameters:
    ///   - type: one of `GGUFTensorType.dequantizable` (check `type.isDequantizable` first).
    ///   - blocks: the raw bytes; only whole blocks are read.
    ///   - range: indices of the blocks to dequantise, within `0 ..< blocks.count / type.typeSize`.
    ///   - destination: at least `range.count × type.blockSize` floats.
    /// - Complexity: O(`range.count × type.blockSize`).
    public static func dequantize(_ type: GGUFTensorType, blocks: UnsafeRawBufferPointer, range: Range<Int>,
                                  into destination: UnsafeMutableBufferPointer<Float>) {
        precondition(destination.count >= range.count * type.blockSize,
                     "destination holds \(destination.count) floats, \(range.count) \(type) blocks need \(range.count * type.blockSize)")
        guard let out = destination.baseAddress else {
            precondition(range.isEmpty, "no destination for \(range.count) blocks")
            return
        }
        dequantize(type, blocks: blocks, range: range, into: out)
    }

    /// As the public entry, with the destination's size checked by the caller.
    static func dequantize(_ type: GGUFTensorType, blocks: UnsafeRawBufferPointer, range: Range<Int>,
                           into out: UnsafeMutablePointer<Float>) {
        precondition(type.isDequantizable, "\(type) cannot be dequantised")
        precondition(range.lowerBound >= 0 && range.upperBound <= blocks.count / type.typeSize,
                     "blocks \(range) outside the \(blocks.count / type.typeSize) \(type) blocks given")
        guard !range.isEmpty, let base = blocks.baseAddress else { return }
        let src = base + range.lowerBound * type.typeSize
        let n = range.count
        switch type {
        case .f32: f32(src, n, out)
        case .f16: f16(src, n, out)
        case .bf16: bf16(src, n, out)
        case .q8_0: q8_0(src, n, out)
        case .q4_0: q4_0(src, n, out)
        case .q4_1: q4_1(src, n, out)
        default: preconditionFailure("\(type) cannot be dequantised")
        }
    }

    // MARK: - Kernels (n blocks from src to out)

    private static func f32(_ src: UnsafeRawPointer, _ n: Int, _ out: UnsafeMutablePointer<Float>) {
        // Raw bytes: the file's data need not be aligned for Float (an unaligned offset is allowed
        // inside a block of another type, and alignments of 1, 2 are legal).
        UnsafeMutableRawPointer(out).copyMemory(from: src, byteCount: n * 4)
        #if _endian(big)
        for i in 0..<n { out[i] = Float(bitPattern: UInt32(littleEndian: out[i].bitPattern)) }
        #endif
    }

    private static func f16(_ src: UnsafeRawPointer, _ n: Int, _ out: UnsafeMutablePointer<Float>) {
        for i in 0..<n { out[i] = halfToFloat(load16(src, 2 * i)) }
    }

    private static func bf16(_ src: UnsafeRawPointer, _ n: Int, _ out: UnsafeMutablePointer<Float>) {
        for i in 0..<n { out[i] = Float(bitPattern: UInt32(load16(src, 2 * i)) << 16) }
    }

    private static func q8_0(_ src: UnsafeRawPointer, _ n: Int, _ out: UnsafeMutablePointer<Float>) {
        for b in 0..<n {
            let block = src + b * 34
            let d = halfToFloat(load16(block, 0))
            let qs = (block + 2).assumingMemoryBound(to: Int8.self)
            let y = out + b * 32
            for j in 0..<32 { y[j] = Float(qs[j]) * d }
        }
    }

    private static func q4_0(_ src: UnsafeRawPointer, _ n: Int, _ out: UnsafeMutablePointer<Float>) {
        for b in 0..<n {
            let block = src + b * 18
            let d = halfToFloat(load16(block, 0))
            let qs = (block + 2).assumingMemoryBound(to: UInt8.self)
            let y = out + b * 32
            for j in 0..<16 {
                let q = qs[j]
                y[j] = Float(Int32(q & 0x0F) - 8) * d
                y[j + 16] = Float(Int32(q >> 4) - 8) * d
            }
        }
    }

    private static func q4_1(_ src: UnsafeRawPointer, _ n: Int, _ out: UnsafeMutablePointer<Float>) {
        for b in 0..<n {
            let block = src + b * 20
            let d = halfToFloat(load16(block, 0))
            let m = halfToFloat(load16(block, 2))
            let qs = (block + 4).assumingMemoryBound(to: UInt8.self)
            let y = out + b * 32
            for j in 0..<16 {
                let q = qs[j]
                // Two roundings, as NumPy's `(d * qs) + m`: Swift does not contract into an FMA.
                y[j] = Float(q & 0x0F) * d + m
                y[j + 16] = Float(q >> 4) * d + m
            }
        }
    }

    // MARK: - Scalars

    @inline(__always)
    private static func load16(_ p: UnsafeRawPointer, _ offset: Int) -> UInt16 {
        UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    /// IEEE binary16 → binary32, exact; NaNs keep their payload and signalling bit (shifted into
    /// place), as NumPy's conversion does — F16C hardware would quiet them.
    @inline(__always)
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        let mantissa = UInt32(h & 0x03FF)
        if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
        if exponent == 0 {
            // Zero or subnormal: mantissa × 2⁻²⁴, exact in binary32.
            let magnitude = Float(mantissa) * 0x1p-24
            return Float(bitPattern: sign | magnitude.bitPattern)
        }
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }
}
