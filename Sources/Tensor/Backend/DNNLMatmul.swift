import CDNNL

/// Products with a frozen right-hand matrix, on oneDNN's matmul primitive with that matrix packed
/// once into the layout the primitive prefers (`format_tag any`).
///
/// A frozen weight is multiplied by every step's activations, so packing it once and keeping the
/// packed copy beside its storage (`TensorStorage.derivedValue`) pays for itself after one use:
/// the packed GEMM runs 15–30 % faster than `dnnl_sgemm` on the plain matrix for BERT's shapes
/// (KERNELS.md, "GEMM with a packed matrix"). The packed copy is dropped when the storage is
/// written in place (an optimizer step) and freed with the storage.
extension DNNL {
    /// A packed copy of a matrix, in the layout `desc`.
    final class PackedMatrix: @unchecked Sendable {
        let desc: dnnl_memory_desc_t
        let tensor: Tensor

        init(desc: dnnl_memory_desc_t, tensor: Tensor) {
            self.desc = desc
            self.tensor = tensor
        }

        /// Whether the copy is laid out as `wanted`.
        func isLaidOut(as wanted: dnnl_memory_desc_t) -> Bool {
            var a = desc, b = wanted
            return dnnl_memory_desc_equal(&a, &b) != 0
        }
    }

    /// Row-major `C = A · op(B)` for a plain `A` [m, k] (leading dimension k) and a matrix `b`
    /// that does not change between calls, packed on first use. `b` is a plain 2-D tensor:
    /// [k, n], or [n, k] with `transB`.
    ///
    /// With `accumulate`, C holds a matrix that the product is added to (oneDNN's `sum` post-op).
    static func matmulPacked(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: Tensor, transB: Bool,
                             c: UnsafeMutablePointer<Float>, accumulate: Bool = false) {
        if m == 0 || n == 0 { return }
        let key = "matmul-packed|\(m)|\(n)|\(k)|\(accumulate)"
        // A function, so that the name is built only when the primitive is created or fails.
        func name() -> String { "packed matmul [\(m), \(k)] · [\(k), \(n)]\(accumulate ? " accumulating" : "")" }
        let prim = context.primitive(key, name: name()) {
            var src = plainDesc([m, k]), dst = plainDesc([m, n]), weights = anyDesc([k, n])
            var desc = dnnl_matmul_desc_t()
            check(dnnl_matmul_desc_init(&desc, &src, &weights, nil, &dst), "matmul desc init for \(name())")
            let attr = accumulate ? sumPostOpAttributes() : nil
            defer { if let attr { dnnl_primitive_attr_destroy(attr) } }
            var pd: dnnl_primitive_desc_t?
            check(dnnl_primitive_desc_create(&pd, &desc, attr, context.engine, nil), "matmul primitive_desc_create for \(name())")
            return pd!
        }
        let wanted = prim.md(dnnl_query_weights_md)
        let packed = b.storage.derivedValue("matmul-b|\(b.offset)|\(b.shape)|\(transB)|" + BlockedFormat.key(wanted),
                                            isValid: { (p: PackedMatrix) in p.isLaidOut(as: wanted) }) {
            pack(b, transB: transB, k: k, n: n, into: wanted)
        }
        KernelTrace.note("matmul-packed")
        prim.execute([
            (DNNL_ARG_SRC, plainDesc([m, k]), UnsafeMutableRawPointer(mutating: a)),
            (DNNL_ARG_WEIGHTS, packed.desc, packed.tensor.storage.base),
            (DNNL_ARG_DST, plainDesc([m, n]), UnsafeMutableRawPointer(c)),
        ])
    }

    /// Row-major `C = A · Bᵀ` for plain `A` [m, k] and `B` [n, k] on oneDNN's matmul primitive,
    /// which reads the transposed matrix in place. For products that shrink the width (n ≤ k:
    /// BERT's 768→768 and 3072→768 projections) it runs 10–20 % faster than `dnnl_sgemm`; for
    /// widening ones (768→3072) sgemm is faster (KERNELS.md).
    ///
    /// `bias` [n], if given, is added to every row by the primitive itself (no pass of its own).
    static func matmulTransposedB(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                                  bias: UnsafePointer<Float>? = nil, c: UnsafeMutablePointer<Float>) {
        if m == 0 || n == 0 { return }
        var weights = dnnl_memory_desc_t()
        check(dnnl_memory_desc_init_by_strides(&weights, 2, [Int64(k), Int64(n)], dnnl_f32, [1, Int64(k)]),
              "matmul B md for [\(n), \(k)]ᵀ")
        let biasDesc = plainDesc([1, n])
        func name() -> String { "matmul [\(m), \(k)] · [\(n), \(k)]ᵀ\(bias != nil ? " + bias [\(n)]" : "")" }
        let prim = context.primitive("matmul-bt|\(m)|\(n)|\(k)|\(bias != nil)", name: name()) {
            var src = plainDesc([m, k]), dst = plainDesc([m, n]), w = weights, bd = biasDesc
            var desc = dnnl_matmul_desc_t()
            if bias != nil {
                check(dnnl_matmul_desc_init(&desc, &src, &w, &bd, &dst), "matmul desc init for \(name())")
            } else {
                check(dnnl_matmul_desc_init(&desc, &src, &w, nil, &dst), "matmul desc init for \(name())")
            }
            var pd: dnnl_primitive_desc_t?
            check(dnnl_primitive_desc_create(&pd, &desc, nil, context.engine, nil), "matmul primitive_desc_create for \(name())")
            return pd!
        }
        KernelTrace.note("matmul")
        var args = [
            (DNNL_ARG_SRC, plainDesc([m, k]), UnsafeMutableRawPointer(mutating: a)),
            (DNNL_ARG_WEIGHTS, weights, UnsafeMutableRawPointer(mutating: b)),
            (DNNL_ARG_DST, plainDesc([m, n]), UnsafeMutableRawPointer(c)),
        ]
        if let bias { args.append((DNNL_ARG_BIAS, biasDesc, UnsafeMutableRawPointer(mutating: bias))) }
        prim.execute(args)
    }

    /// Primitive attributes with one post-op, `dst += result` (oneDNN's `sum` with scale 1): the
    /// kernel adds into what the destination holds. The caller destroys them.
    static func sumPostOpAttributes() -> dnnl_primitive_attr_t {
        var postOps: dnnl_post_ops_t?
        var attr: dnnl_primitive_attr_t?
        check(dnnl_post_ops_create(&postOps), "post-ops")
        defer { dnnl_post_ops_destroy(postOps) }
        check(dnnl_post_ops_append_sum(postOps, 1), "sum post-op")
        check(dnnl_primitive_attr_create(&attr), "primitive attr")
        check(dnnl_primitive_attr_set_post_ops(attr, postOps), "set post-ops")
        return attr!
    }

    /// `op(b)` [k, n] reordered into `desc`.
    private static func pack(_ b: Tensor, transB: Bool, k: Int, n: Int, into desc: dnnl_memory_desc_t) -> PackedMatrix {
        var source = dnnl_memory_desc_t()
        let strides: [Int64] = transB ? [1, Int64(k)] : [Int64(n), 1]
        check(dnnl_memory_desc_init_by_strides(&source, 2, [Int64(k), Int64(n)], dnnl_f32, strides), "packed matmul source md for [\(k), \(n)]")
        let packed = reorder(source, at: UnsafeMutableRawPointer(b.storage.floats + b.offset), shape: [k, n], to: desc,
                             trace: "pack")
        return PackedMatrix(desc: desc, tensor: packed)
    }
}
