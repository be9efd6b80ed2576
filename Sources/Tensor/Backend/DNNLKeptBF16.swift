import CDNNL
import Foundation

/// Activations kept for backward in bf16 (`ComputePrecision.bfloat16`): half the memory of the
/// f32 tensors a training step holds between its forward and its backward.
///
/// An op that keeps an activation only to compute a gradient from it keeps its bf16 copy instead
/// when bf16 is in effect (`keepsActivationsInBF16`):
/// - a convolution whose weight trains (a LoRA adapter) keeps the bf16 source its forward kernel
///   read (made anyway), which its bf16 backward-weights kernel reads as it is;
/// - batch norm keeps its input rounded to bf16: on a channels-last input (what convolutions give
///   on CPUs with bf16 units) its own forward writes that copy in the pass that normalises, and
///   its own backward reads it (`runBatchNormForwardKeepingBF16`, `runBatchNormBackwardKeptBF16`);
///   otherwise a conversion after oneDNN's forward, decoded for oneDNN's backward, which needs
///   f32 data with an f32 gradient;
/// - ReLU keeps the sign of its output as a bf16 copy written in the same pass as the output,
///   which the next convolution also reads as its bf16 source instead of converting the output.
/// So the f32 tensors between layers live only until the forward pass has read them. Forward
/// values are the f32 ones (batch norm's own forward within f32 rounding of oneDNN's); gradients
/// are those of the f32 formulas evaluated on the kept values rounded to bf16 (exactly what the
/// bf16 products read already, and for batch norm the input that x̂ is recomputed from; its mean
/// and variance stay the f32 batch statistics).
extension DNNL {
    /// Whether ops keep activations for backward in bf16 now: bf16 compute in effect (asked for,
    /// and the CPU has bf16 units).
    static var keepsActivationsInBF16: Bool { keepsActivations && ComputePrecision.effective == .bfloat16 }
    /// Off: batch norm and ReLU keep their f32 activations in bf16 compute too (tests compare the
    /// two). A bf16 convolution whose weight trains keeps the bf16 source it read either way (the
    /// values its backward-weights kernel reads).
    @TaskLocal static var keepsActivations = true

    /// The layout of `t` (`desc(of:)`) with elements of `type`.
    static func desc(of t: Tensor, type: dnnl_data_type_t) -> dnnl_memory_desc_t {
        var md = desc(of: t)
        md.data_type = type
        return md
    }

    /// `md` with elements of `type`.
    static func retyped(_ md: dnnl_memory_desc_t, _ type: dnnl_data_type_t) -> dnnl_memory_desc_t {
        var copy = md
        copy.data_type = type
        return copy
    }

    /// An f32 activation kept for backward as bf16, in the f32 tensor's layout (or the layout a
    /// bf16 kernel read it in); `decoded()` gives it back as f32 (the rounded values), in that
    /// layout.
    final class KeptBF16: @unchecked Sendable {
        let data: BF16Data
        let shape: [Int]

        init(data: BF16Data, shape: [Int]) {
            self.data = data
            self.shape = shape
        }

        /// The f32 layout the values decode to: the bf16 layout with f32 elements.
        var layout: dnnl_memory_desc_t { retyped(data.desc, dnnl_f32) }

        /// The kept values as an f32 tensor (exact: every bf16 value is an f32 value).
        func decoded() -> Tensor {
            let (_, _, pointer) = data.arg(DNNL_ARG_FROM)
            return reorder(data.desc, at: pointer, shape: shape, to: layout, trace: "kept-bf16-to-f32")
        }
    }

    /// `v` rounded to bf16 as the bf16 units (and so oneDNN's reorders) round: to nearest, ties
    /// to even; NaN stays a quiet NaN; an f32 subnormal becomes a zero of its sign.
    @inline(__always)
    static func bf16Bits(_ v: Float) -> UInt16 {
        let bits = v.bitPattern
        let exponent = bits & 0x7F80_0000
        if exponent == 0x7F80_0000 && bits & 0x007F_FFFF != 0 { return UInt16(truncatingIfNeeded: bits >> 16) | 0x40 }
        if exponent == 0 { return UInt16(truncatingIfNeeded: bits >> 16) & 0x8000 }
        return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    }

    /// `t` (f32) rounded to bf16 in its own layout, to keep for backward.
    static func keepInBF16(_ t: Tensor) -> KeptBF16 {
        KeptBF16(data: bf16(t, to: desc(of: t, type: dnnl_bf16), trace: "keep-bf16", remembering: false), shape: t.shape)
    }

    /// Announces `data` as `t`'s bf16 copy in `t`'s layout (written by the caller in the same pass
    /// as `t`), so that the next bf16 product reading `t` in that layout uses it instead of
    /// converting `t` (`bf16(_:to:)`'s remembered conversions).
    static func rememberBF16(of t: Tensor, _ data: BF16Data) {
        rememberConversion(of: t, data)
    }
}

extension Tensor {
    /// `max(x, 0)`, with the result's bf16 copy (rounded as oneDNN rounds: to nearest, ties to
    /// even, NaN kept quiet, f32 subnormals to zero as the bf16 units do) written in the same pass.
    /// Returns the f32 result and the copy, in the result's layout.
    static func reluKeepingBF16(_ x: Tensor) -> (Tensor, DNNL.KeptBF16) {
        let (src, out, n) = unaryOperands(x, op: "relu", zeroPreserving: true)
        let data = DNNL.BF16Data(desc: DNNL.desc(of: out, type: dnnl_bf16))
        let s = src.storage.floats + src.offset, d = out.storage.floats
        let h = data.storage.base.assumingMemoryBound(to: UInt16.self)
        KernelTrace.note("relu-keeping-bf16")
        parallelFor(n) { b, e in
            for i in b..<e {
                let v = s[i] < 0 ? 0 : s[i]
                d[i] = v
                h[i] = DNNL.bf16Bits(v)
            }
        }
        DNNL.rememberBF16(of: out, data)
        return (out, DNNL.KeptBF16(data: data, shape: x.shape))
    }

    /// ReLU's backward from its output's bf16 copy: `g` where the kept value is positive (a
    /// positive finite number or +∞), 0 elsewhere; in the kept layout.
    static func reluBackward(_ g: Tensor, kept: DNNL.KeptBF16) -> Tensor {
        let layout = kept.layout
        let gb = DNNL.reorder(g.detached(), to: layout)
        let out = DNNL.empty(kept.shape, layout)
        var md = layout
        let n = dnnl_memory_desc_get_size(&md) / MemoryLayout<Float>.size
        let (_, pg) = DNNL.arg(gb)
        let p = pg.assumingMemoryBound(to: Float.self), d = out.storage.floats
        let (_, _, raw) = kept.data.arg(DNNL_ARG_FROM)
        let h = raw.assumingMemoryBound(to: Int16.self)
        parallelFor(n) { b, e in
            for i in b..<e { d[i] = h[i] > 0 && h[i] <= 0x7F80 ? p[i] : 0 }
        }
        return out
    }
}

extension DNNL {
    /// Per-channel sums of two terms over `rows` rows of `channels` values (channels-last):
    /// `wide(row, k)` gives the terms of channels k..<k+16 of a row, `scalar(row, k)` of channel k
    /// alone. Each thread sums its share of the rows by blocks of 64 rows, which are then added
    /// to its totals (rounding error grows with the number of blocks, not of rows), 16 channels
    /// at a time in registers when `channels` is a multiple of 16; the threads' totals are added
    /// last. Batch norm's two kernels below share it.
    @inline(__always)
    static func channelSums(rows: Int, channels c: Int,
                            wide: (_ row: Int, _ k: Int) -> (SIMD16<Float>, SIMD16<Float>),
                            scalar: (_ row: Int, _ k: Int) -> (Float, Float)) -> ([Float], [Float]) {
        let parts = Swift.max(1, Swift.min(Threads.count, rows))
        var partial = [Float](repeating: 0, count: 2 * c * parts)
        partial.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            parallelFor(parts, grain: 1) { p0, p1 in
                for p in p0..<p1 {
                    let first = base + 2 * c * p, second = first + c
                    let end = rows * (p + 1) / parts
                    var start = rows * p / parts
                    while start < end {
                        let stop = Swift.min(start + 64, end)
                        if c % 16 == 0 {
                            for k in stride(from: 0, to: c, by: 16) {
                                var a = SIMD16<Float>(), b = SIMD16<Float>()
                                for row in start..<stop {
                                    let (u, v) = wide(row, k)
                                    a += u
                                    b += v
                                }
                                let pa = UnsafeMutableRawPointer(first + k), pb = UnsafeMutableRawPointer(second + k)
                                pa.storeBytes(of: pa.loadUnaligned(as: SIMD16<Float>.self) + a, as: SIMD16<Float>.self)
                                pb.storeBytes(of: pb.loadUnaligned(as: SIMD16<Float>.self) + b, as: SIMD16<Float>.self)
                            }
                        } else {
                            for k in 0..<c {
                                var a: Float = 0, b: Float = 0
                                for row in start..<stop {
                                    let (u, v) = scalar(row, k)
                                    a += u
                                    b += v
                                }
                                first[k] += a
                                second[k] += b
                            }
                        }
                        start = stop
                    }
                }
            }
        }
        var first = [Float](repeating: 0, count: c), second = first
        for p in 0..<parts {
            for k in 0..<c {
                first[k] += partial[2 * c * p + k]
                second[k] += partial[2 * c * p + c + k]
            }
        }
        return (first, second)
    }
}

extension DNNL {
    /// Batch norm's backward with batch statistics, from the input kept in bf16 (`kept`), read as
    /// it is: dL/dx in the kept f32 layout, with its bf16 copy written in the same pass and
    /// remembered for the convolutions that read dL/dx next (`rememberConversion`), and dL/dγ,
    /// dL/dβ (plain `[C]`). Nil unless the layout is channels-last (every channel contiguous in
    /// each row of `N·spatial` rows; what convolutions give on CPUs with bf16 units), where the
    /// caller decodes the input for oneDNN's backward.
    ///
    /// Written here because oneDNN's batch norm reads bf16 only with bf16 gradients in and out
    /// (and f32 only with f32 data): with x̂ = (x − μ)·r, r = 1/√(σ² + ε), M rows,
    ///
    ///     dβ = Σ dy,   dγ = r · Σ dy·(x − μ),   dx = γr·(dy − dβ/M − (x − μ)·r·dγ/M)
    ///
    /// the formulas oneDNN evaluates, in two passes (sums, then dx), each thread summing its own
    /// rows first.
    static func runBatchNormBackwardKeptBF16(_ g: BatchNormGeometry, kept: KeptBF16, outputGradient: Tensor,
                                             scale: Tensor?, mean: Tensor, variance: Tensor)
        -> (input: Tensor, scale: Tensor?, shift: Tensor?)? {
        guard !g.globalStatistics, g.shape.count >= 2 else { return nil }
        var layout = kept.layout, channelsLast = channelsLastDesc(g.shape)
        guard dnnl_memory_desc_equal(&layout, &channelsLast) != 0 else { return nil }
        let c = g.channels, rows = g.shape.reduce(1, *) / Swift.max(c, 1)
        guard c > 0, rows > 0 else { return nil }
        let dyTensor = reorder(outputGradient.detached(), to: layout)
        let (_, dyRaw) = arg(dyTensor)
        let dy = UnsafePointer(dyRaw.assumingMemoryBound(to: Float.self))
        let (_, _, xRaw) = kept.data.arg(DNNL_ARG_FROM)
        let x = UnsafePointer(xRaw.assumingMemoryBound(to: UInt16.self))
        let mu = mean.plain().scalars
        let r = variance.plain().scalars.map { 1 / ($0 + g.epsilon).squareRoot() }
        let gamma = scale?.plain().scalars ?? [Float](repeating: 1, count: c)

        // Pass 1: Σ dy and Σ dy·(x − μ) per channel.
        let (dBeta, sumDyX) = mu.withUnsafeBufferPointer { muBuffer in
            let m = muBuffer.baseAddress!
            return channelSums(rows: rows, channels: c, wide: { row, k in
                let d = UnsafeRawPointer(dy + row * c + k).loadUnaligned(as: SIMD16<Float>.self)
                let h = UnsafeRawPointer(x + row * c + k).loadUnaligned(as: SIMD16<UInt16>.self)
                let xv = unsafeBitCast(SIMD16<UInt32>(truncatingIfNeeded: h) &<< 16, to: SIMD16<Float>.self)
                return (d, d * (xv - UnsafeRawPointer(m + k).loadUnaligned(as: SIMD16<Float>.self)))
            }, scalar: { row, k in
                let d = dy[row * c + k]
                return (d, d * (Float(bitPattern: UInt32(x[row * c + k]) << 16) - m[k]))
            })
        }
        let dGamma = (0..<c).map { sumDyX[$0] * r[$0] }

        // Pass 2: dx = k1·dy + k2·x + k3 per channel, with its bf16 copy.
        let inverseRows = 1 / Float(rows)
        var k1 = [Float](repeating: 0, count: c), k2 = k1, k3 = k1
        for k in 0..<c {
            k1[k] = gamma[k] * r[k]
            k2[k] = -k1[k] * r[k] * dGamma[k] * inverseRows
            k3[k] = -k1[k] * dBeta[k] * inverseRows - k2[k] * mu[k]
        }
        let dxTensor = empty(g.shape, layout)
        let dx = dxTensor.storage.floats
        let copy = BF16Data(desc: kept.data.desc)
        let dx16 = copy.storage.base.assumingMemoryBound(to: UInt16.self)
        KernelTrace.note("batchnorm.backward-kept-bf16")
        k1.withUnsafeBufferPointer { a in k2.withUnsafeBufferPointer { b in k3.withUnsafeBufferPointer { z in
            let pa = a.baseAddress!, pb = b.baseAddress!, pz = z.baseAddress!
            parallelFor(rows, grain: Swift.max(1, 32_768 / c)) { r0, r1 in
                for row in r0..<r1 {
                    let xr = x + row * c, dr = dy + row * c, out = dx + row * c, out16 = dx16 + row * c
                    for k in 0..<c {
                        let v = pa[k] * dr[k] + pb[k] * Float(bitPattern: UInt32(xr[k]) << 16) + pz[k]
                        out[k] = v
                        out16[k] = bf16Bits(v)
                    }
                }
            }
        } } }
        rememberConversion(of: dxTensor, copy)
        return (dxTensor, g.hasScale ? Tensor(dGamma, shape: [c]) : nil, g.hasShift ? Tensor(dBeta, shape: [c]) : nil)
    }
}

extension DNNL {
    /// Batch norm's forward with batch statistics on a channels-last f32 input, writing the
    /// input's bf16 copy (to keep for backward) in the pass that normalises it: the output, and
    /// the copy. Fills `mean` and `variance` (biased) as oneDNN's forward does. Nil unless the
    /// input is channels-last (the caller runs oneDNN's forward and converts).
    ///
    /// Written here because oneDNN's batch norm cannot write a second, bf16 copy of its input:
    /// converting separately reads the input once more. Two passes: per channel, the sums of
    /// x − s and (x − s)² (s: the channel's first value, so the variance does not come from the
    /// difference of two large sums), by blocks of 64 rows; then y = (x − μ)·γ/√(σ² + ε) + β.
    static func runBatchNormForwardKeepingBF16(_ g: BatchNormGeometry, source: Tensor, scale: Tensor?, shift: Tensor?,
                                               mean: Tensor, variance: Tensor) -> (output: Tensor, kept: KeptBF16)? {
        guard !g.globalStatistics, g.shape.count >= 2, source.dtype == .float32 else { return nil }
        var layout = desc(of: source), channelsLast = channelsLastDesc(g.shape)
        guard dnnl_memory_desc_equal(&layout, &channelsLast) != 0 else { return nil }
        let c = g.channels, rows = g.shape.reduce(1, *) / Swift.max(c, 1)
        guard c > 0, rows > 0 else { return nil }
        let (_, xRaw) = arg(source.detached())
        let x = UnsafePointer(xRaw.assumingMemoryBound(to: Float.self))
        let shiftValues = Array(UnsafeBufferPointer(start: x, count: c))

        // Pass 1: Σ (x − s) and Σ (x − s)² per channel.
        let (sums, squares) = shiftValues.withUnsafeBufferPointer { shiftBuffer in
            let sv = shiftBuffer.baseAddress!
            return channelSums(rows: rows, channels: c, wide: { row, k in
                let d = UnsafeRawPointer(x + row * c + k).loadUnaligned(as: SIMD16<Float>.self)
                    - UnsafeRawPointer(sv + k).loadUnaligned(as: SIMD16<Float>.self)
                return (d, d * d)
            }, scalar: { row, k in
                let d = x[row * c + k] - sv[k]
                return (d, d * d)
            })
        }
        var mu = [Float](repeating: 0, count: c), sigma2 = mu
        for k in 0..<c {
            let d = sums[k] / Float(rows)
            mu[k] = shiftValues[k] + d
            sigma2[k] = Swift.max(squares[k] / Float(rows) - d * d, 0)
        }
        mean.withUnsafeMutableFloats { for k in 0..<c { $0[k] = mu[k] } }
        variance.withUnsafeMutableFloats { for k in 0..<c { $0[k] = sigma2[k] } }

        // Pass 2: y = a·x + b per channel, with x's bf16 copy.
        let gamma = scale?.plain().scalars ?? [Float](repeating: 1, count: c)
        let beta = shift?.plain().scalars ?? [Float](repeating: 0, count: c)
        var a = [Float](repeating: 0, count: c), b = a
        for k in 0..<c {
            a[k] = gamma[k] / (sigma2[k] + g.epsilon).squareRoot()
            b[k] = beta[k] - a[k] * mu[k]
        }
        let output = empty(g.shape, layout)
        let y = output.storage.floats
        let copy = BF16Data(desc: retyped(layout, dnnl_bf16))
        let x16 = copy.storage.base.assumingMemoryBound(to: UInt16.self)
        KernelTrace.note("batchnorm.forward-keeping-bf16")
        a.withUnsafeBufferPointer { aBuffer in b.withUnsafeBufferPointer { bBuffer in
            let pa = aBuffer.baseAddress!, pb = bBuffer.baseAddress!
            parallelFor(rows, grain: Swift.max(1, 32_768 / c)) { r0, r1 in
                for row in r0..<r1 {
                    let xr = x + row * c, out = y + row * c, out16 = x16 + row * c
                    for k in 0..<c {
                        out[k] = pa[k] * xr[k] + pb[k]
                        out16[k] = bf16Bits(xr[k])
                    }
                }
            }
        } }
        return (output, KeptBF16(data: copy, shape: g.shape))
    }
}
