import CDNNL

/// Products of bf16 operands accumulated in f32 (`dst` f32) on oneDNN's matmul primitive, for the
/// CPU's bf16 units: AVX-512-BF16 (`vdpbf16ps`: twice the multiply-adds of an f32 FMA per
/// instruction) or AMX tiles. Used by the quantised product when asked for
/// (`withQuantizedMatmulPrecision(.bfloat16)`).
///
/// oneDNN 2.6 ignores `fpmath_mode` (KERNELS.md), so bf16 is asked for through the operands'
/// data types; on a CPU without bf16 units it would run a reference kernel hundreds of times
/// slower, so `hasBF16Units` gates every use.
extension DNNL {
    /// Whether oneDNN runs bf16 matmuls on this CPU's bf16 units (its effective ISA includes
    /// `avx512_core_bf16`: AVX-512-BF16, or AMX which implies it). Detected at run time.
    static let hasBF16Units: Bool = {
        let isa = dnnl_get_effective_cpu_isa().rawValue
        let bf16 = dnnl_cpu_isa_avx512_core_bf16.rawValue
        return isa & bf16 == bf16
    }()

    /// The ISA oneDNN runs on, as `dnnl_cpu_isa_t`'s bits in hex (0xe7: avx512_core_bf16), for messages.
    static var effectiveISA: String { "ISA 0x" + String(dnnl_get_effective_cpu_isa().rawValue, radix: 16) }

    /// Row-major `C = A · op(B)` (or `C += …` with `accumulate`) for bf16 `A` [m, k] (rows `lda`
    /// apart) and `B` ([k, n] plain, or [n, k] read transposed with `transB`), f32 `C` [m, n]
    /// (rows `ldc` apart).
    static func matmulBF16(m: Int, n: Int, k: Int, a: UnsafePointer<UInt16>, lda: Int, b: UnsafePointer<UInt16>,
                           transB: Bool, c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        if m == 0 || n == 0 { return }
        precondition(hasBF16Units, "matmulBF16 on a CPU without bf16 units (\(effectiveISA))")
        func name() -> String {
            "bf16 matmul [\(m), \(k)] · \(transB ? "[\(n), \(k)]ᵀ" : "[\(k), \(n)]")\(accumulate ? " accumulating" : "")"
        }
        func descs() -> (dnnl_memory_desc_t, dnnl_memory_desc_t, dnnl_memory_desc_t) {
            var src = dnnl_memory_desc_t(), weights = dnnl_memory_desc_t(), dst = dnnl_memory_desc_t()
            check(dnnl_memory_desc_init_by_strides(&src, 2, [Int64(m), Int64(k)], dnnl_bf16, [Int64(lda), 1]), "bf16 src md")
            check(dnnl_memory_desc_init_by_strides(&weights, 2, [Int64(k), Int64(n)], dnnl_bf16,
                                                   transB ? [1, Int64(k)] : [Int64(n), 1]), "bf16 weights md")
            check(dnnl_memory_desc_init_by_strides(&dst, 2, [Int64(m), Int64(n)], dnnl_f32, [Int64(ldc), 1]), "f32 dst md")
            return (src, weights, dst)
        }
        let (srcDesc, weightsDesc, dstDesc) = descs()
        let prim = context.primitive("matmul-bf16|\(m)|\(n)|\(k)|\(lda)|\(ldc)|\(transB)|\(accumulate)", name: name()) {
            var (src, weights, dst) = (srcDesc, weightsDesc, dstDesc)
            var desc = dnnl_matmul_desc_t()
            check(dnnl_matmul_desc_init(&desc, &src, &weights, nil, &dst), "matmul desc init for \(name())")
            let attr = accumulate ? sumPostOpAttributes() : nil
            defer { if let attr { dnnl_primitive_attr_destroy(attr) } }
            var pd: dnnl_primitive_desc_t?
            check(dnnl_primitive_desc_create(&pd, &desc, attr, context.engine, nil), "matmul primitive_desc_create for \(name())")
            return pd!
        }
        KernelTrace.note("matmul-bf16")
        prim.execute([
            (DNNL_ARG_SRC, srcDesc, UnsafeMutableRawPointer(mutating: a)),
            (DNNL_ARG_WEIGHTS, weightsDesc, UnsafeMutableRawPointer(mutating: b)),
            (DNNL_ARG_DST, dstDesc, UnsafeMutableRawPointer(c)),
        ])
    }
}
