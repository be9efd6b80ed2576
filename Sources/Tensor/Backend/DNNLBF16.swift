import CDNNL
import Foundation

/// Products in bf16 (`ComputePrecision.bfloat16`): convolutions (frozen or trainable weight) and
/// fully connected products with a frozen weight, whose weight is read from a bf16 copy and whose
/// other operand is rounded to bf16 as it is read, with f32 accumulation and an f32 result, on the
/// CPU's bf16 units.
///
/// Every f32 tensor stays f32: the input (forward) or the output gradient (backward-data) is
/// converted by a oneDNN reorder into a bf16 buffer that lives for one call, and the result is
/// written in the f32 layout the f32 path would give, so the layers around a bf16 one (batch
/// norm, ReLU, a LoRA adapter's f32 convolutions adding into its output) see no difference but
/// the rounding. A frozen weight's bf16 copy, in the primitive's layout, is kept beside its f32
/// storage (`TensorStorage.derivedValue`): made once, dropped when the weight is written in place
/// (merging an adapter), freed with it.
///
/// Every primitive is checked to run an optimised kernel: where oneDNN offers only a reference
/// kernel for a bf16 shape (hundreds of times slower), the call answers nil and the caller runs
/// the f32 path.
extension DNNL {
    /// bf16 data in a oneDNN layout: a frozen weight's copy, or one call's operand.
    final class BF16Data: @unchecked Sendable {
        let desc: dnnl_memory_desc_t
        let storage: TensorStorage
        /// Bytes from the storage's start to the data.
        let byteOffset: Int

        init(desc: dnnl_memory_desc_t) {
            var d = desc
            self.desc = desc
            self.storage = TensorStorage(byteCount: Swift.max(dnnl_memory_desc_get_size(&d), 2), dtype: .bfloat16)
            self.byteOffset = 0
        }

        /// BF16 data that a tensor holds, from element `offset` of its storage.
        init(desc: dnnl_memory_desc_t, storage: TensorStorage, offset: Int) {
            self.desc = desc
            self.storage = storage
            self.byteOffset = offset * 2
        }

        func isLaidOut(as wanted: dnnl_memory_desc_t) -> Bool {
            var a = desc, b = wanted
            return dnnl_memory_desc_equal(&a, &b) != 0
        }

        /// The execution argument `id` for this data.
        func arg(_ id: Int32) -> (Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer) { (id, desc, storage.base + byteOffset) }
    }

    /// `source` (f32, laid out as `sourceDesc` at `pointer`) rounded to bf16 (to nearest, ties to
    /// even) in the layout `md`, by a oneDNN reorder.
    static func bf16(_ sourceDesc: dnnl_memory_desc_t, at pointer: UnsafeMutableRawPointer, shape: [Int],
                     to md: dnnl_memory_desc_t, trace: String = "to-bf16") -> BF16Data {
        let out = BF16Data(desc: md)
        KernelTrace.note(trace)
        reorderPrimitive(from: sourceDesc, to: md, shape: shape)
            .execute([(DNNL_ARG_FROM, sourceDesc, pointer), (DNNL_ARG_TO, md, out.storage.base)])
        return out
    }

    /// An f32 tensor (plain or blocked) rounded to bf16 in the layout `md`.
    ///
    /// The last few conversions are remembered (`RecentConversions`), so that a tensor that feeds
    /// several bf16 products in a row — a LoRA convolution's input read by the base and by A, its
    /// output gradient read by the base's and B's backward — is converted once.
    /// `remembering: false` for a conversion no product will read (an activation kept for
    /// backward), which would only push a useful one out.
    static func bf16(_ t: Tensor, to md: dnnl_memory_desc_t, trace: String = "to-bf16",
                     remembering: Bool = true) -> BF16Data {
        let (desc, pointer) = arg(t.detached())
        if remembersConversions, let known = recentConversions.find(t.storage, offset: t.offset, from: desc, to: md) {
            return known
        }
        let data = bf16(desc, at: pointer, shape: t.shape, to: md, trace: trace)
        if remembering { recentConversions.remember(t.storage, offset: t.offset, from: desc, data: data) }
        return data
    }

    /// The last four conversions to bf16, by source storage (held weakly: a freed source's entry
    /// is dropped), its version (an in-place write invalidates), offset and the two layouts
    /// (compared as oneDNN compares descriptors). At most four bf16 copies live a little longer.
    private final class RecentConversions: @unchecked Sendable {
        private struct Entry {
            /// Weak: remembering a conversion does not keep its source alive.
            weak var storage: TensorStorage?
            let version: UInt64
            let offset: Int
            let source: dnnl_memory_desc_t
            let data: BF16Data
        }
        private let lock = NSLock()
        private var entries: [Entry] = []

        func find(_ storage: TensorStorage, offset: Int, from source: dnnl_memory_desc_t,
                  to md: dnnl_memory_desc_t) -> BF16Data? {
            lock.lock(); defer { lock.unlock() }
            return entries.first { e in
                guard let known = e.storage, known === storage, e.version == storage.version, e.offset == offset else { return false }
                var a = e.source, b = source
                return dnnl_memory_desc_equal(&a, &b) != 0 && e.data.isLaidOut(as: md)
            }?.data
        }

        func remember(_ storage: TensorStorage, offset: Int, from source: dnnl_memory_desc_t, data: BF16Data) {
            lock.lock(); defer { lock.unlock() }
            entries.insert(Entry(storage: storage, version: storage.version, offset: offset, source: source, data: data), at: 0)
            entries.removeAll { $0.storage == nil }
            if entries.count > 4 { entries.removeLast() }
        }
    }
    private static let recentConversions = RecentConversions()

    /// Remembers `data` as the conversion of `t` (in `t`'s layout) made by the caller.
    static func rememberConversion(of t: Tensor, _ data: BF16Data) {
        guard remembersConversions else { return }
        recentConversions.remember(t.storage, offset: t.offset, from: desc(of: t), data: data)
    }
    /// Off: every conversion runs (tests compare the two).
    @TaskLocal static var remembersConversions = true

    /// Primitives that may not exist (nil: oneDNN has only a reference kernel, or none), by key.
    private final class OptionalPrimitives: @unchecked Sendable {
        let lock = NSLock()
        var primitives: [String: Primitive?] = [:]

        func primitive(_ key: String, name: () -> String, make: () -> dnnl_primitive_desc_t?) -> Primitive? {
            lock.lock()
            if let known = primitives[key] { lock.unlock(); return known }
            lock.unlock()
            var prim: Primitive?
            if let pd = make() {
                if DNNL.isReference(pd) { dnnl_primitive_desc_destroy(pd) } else { prim = Primitive(pd, name: name()) }
            }
            lock.lock()
            primitives[key] = .some(prim)
            lock.unlock()
            return prim
        }
    }
    private static let bf16Primitives = OptionalPrimitives()

    // MARK: - Convolutions

    /// The bf16 forward convolution of `g` (bf16 source and weights, f32 destination and bias),
    /// in the preferred layout family, or oneDNN's choice; with `accumulating`, it adds into its
    /// destination (`sum` post-op). Nil when no optimised kernel exists.
    static func convolutionForwardBF16(_ g: ConvolutionGeometry, training: Bool, accumulating: Bool = false) -> Primitive? {
        let key = "conv.fwd.bf16|\(training ? "train" : "infer")|\(accumulating ? "sum|" : "")" + g.key
        return bf16Primitives.primitive(key, name: { "bf16 convolution forward\(accumulating ? " (accumulating)" : "") for \(g)" }) {
            let attributes = accumulating ? sumPostOpAttributes() : nil
            defer { if let attributes { dnnl_primitive_attr_destroy(attributes) } }
            let layouts: [ConvolutionLayout] = ConvolutionLayout.preferred == .channelsLast ? [.channelsLast, .chosen] : [.chosen]
            for layout in layouts {
                // An accumulating primitive must write the layout the f32 path's output has.
                if accumulating && layout != ConvolutionLayout.preferred { continue }
                guard let pd = convolutionForwardPD(g, layout: layout, training: training, attributes: attributes,
                                                    operands: dnnl_bf16).pd else { continue }
                if !isReference(pd) { return pd }
                dnnl_primitive_desc_destroy(pd)
            }
            return nil
        }
    }

    /// A convolution weight's bf16 copy in the layout `md`; `flipped` for backward-data run as a
    /// forward convolution (`transposedFlippedWeight`). Kept beside the weight's storage for as
    /// long as its values do not change: a frozen weight's for the run, a trainable one's until
    /// the next optimizer step writes it (made once per step, for forward and backward alike).
    static func weightBF16(_ weight: Tensor, _ g: ConvolutionGeometry, md: dnnl_memory_desc_t,
                                 flipped: Bool) -> BF16Data {
        weight.storage.derivedValue("conv-bf16\(flipped ? "-flipped" : "")|\(weight.offset)|\(weight.shape)|"
                                        + BlockedFormat.key(md), isValid: { (c: BF16Data) in c.isLaidOut(as: md) }) {
            // A BF16 weight (held so, `toBFloat16`) is laid out from its own values (exact); it
            // is decoded to F32 only to be flipped (once).
            let source = flipped ? transposedFlippedWeight(weight.toFloat32()) : weightView(weight, g)
            let dims = flipped ? source.shape : g.weightDims
            let type = source.dtype == .bfloat16 ? dnnl_bf16 : dnnl_f32
            return bf16(plainDesc(dims, type: type), at: source.storage.base + source.offset * source.dtype.byteSize,
                        shape: dims, to: md, trace: "weight-to-bf16")
        }
    }

    /// The forward convolution of `source` (f32, any layout) by `weight` (F32 or BF16) in bf16, with
    /// an f32 result in the layout the f32 path gives, and the bf16 source it read; nil when
    /// oneDNN has no optimised bf16 kernel for `g`.
    static func runConvolutionForwardBF16(_ g: ConvolutionGeometry, source: Tensor, weight: Tensor, bias: Tensor?,
                                          training: Bool, name: String) -> (output: Tensor, source: BF16Data)? {
        guard let prim = convolutionForwardBF16(g, training: training) else { return nil }
        let src = bf16(source, to: prim.md(dnnl_query_src_md))
        let wei = weightBF16(weight, g, md: prim.md(dnnl_query_weights_md), flipped: false)
        let dst = empty(g.destinationShape, prim.md(dnnl_query_dst_md))
        var args = [src.arg(DNNL_ARG_SRC), wei.arg(DNNL_ARG_WEIGHTS), execArg(DNNL_ARG_DST, dst)]
        if g.hasBias, let bias { args.append(execArg(DNNL_ARG_BIAS, bias.plain())) }
        KernelTrace.note(name + ".forward-bf16")
        withExtendedLifetime((src, wei)) { prim.execute(args) }
        return (dst, src)
    }

    /// `destination += conv(source, weight)` in bf16 (bf16 source and weights, f32 destination,
    /// oneDNN's `sum` post-op), in `destination`'s memory, which must be laid out as the primitive's
    /// destination and belong to nobody else. Returns the bf16 source it read (what dL/dW reads),
    /// or nil when there is no such primitive or the layout differs (the caller adds by itself).
    static func runConvolutionForwardAccumulatingBF16(_ g: ConvolutionGeometry, source: Tensor, weight: Tensor,
                                                      into destination: Tensor, name: String) -> BF16Data? {
        guard let prim = convolutionForwardBF16(g, training: true, accumulating: true) else { return nil }
        var want = prim.md(dnnl_query_dst_md), have = desc(of: destination)
        guard dnnl_memory_desc_equal(&want, &have) != 0 else { return nil }
        let src = bf16(source, to: prim.md(dnnl_query_src_md))
        let wei = weightBF16(weight, g, md: prim.md(dnnl_query_weights_md), flipped: false)
        KernelTrace.note(name + ".forward-accumulate-bf16")
        withExtendedLifetime((src, wei)) {
            prim.execute([src.arg(DNNL_ARG_SRC), wei.arg(DNNL_ARG_WEIGHTS), execArg(DNNL_ARG_DST, destination)])
        }
        return src
    }

    /// The bf16 backward-weights primitive of `g` (bf16 source and output gradient, f32 weight
    /// and bias gradients), hinted by the bf16 training forward. Nil without an optimised kernel.
    static func convolutionBackwardWeightsBF16(_ g: ConvolutionGeometry) -> Primitive? {
        guard let hint = convolutionForwardBF16(g, training: true) else { return nil }
        return bf16Primitives.primitive("conv.bwd-weights.bf16|" + g.key, name: { "bf16 convolution backward-weights for \(g)" }) {
            let (status, made) = backwardWeightsDesc(g, layout: layout(of: hint, g), type: dnnl_bf16)
            var desc = made
            guard status == dnnl_success else { return nil }
            return createPD(&desc, hint: hint.pd).pd
        }
    }

    /// dL/dW (plain, PyTorch's weight shape, f32) and dL/db when `g.hasBias`, from the kept bf16
    /// source (the forward's) and the f32 output gradient (any layout) rounded to bf16; nil when
    /// oneDNN has no optimised bf16 kernel for `g` (the caller runs the f32 path).
    static func runConvolutionBackwardWeightsBF16(_ g: ConvolutionGeometry, source: KeptBF16, outputGradient: Tensor,
                                                  name: String) -> (weight: Tensor, bias: Tensor?)? {
        guard let prim = convolutionBackwardWeightsBF16(g) else { return nil }
        let src = relaidOut(source.data, shape: g.sourceShape, to: prim.md(dnnl_query_src_md))
        let diffDst = bf16(outputGradient, to: prim.md(dnnl_query_diff_dst_md))
        let diffWei = empty(g.weightDims, prim.md(dnnl_query_diff_weights_md))
        var args = [src.arg(DNNL_ARG_SRC), diffDst.arg(DNNL_ARG_DIFF_DST), execArg(DNNL_ARG_DIFF_WEIGHTS, diffWei)]
        let diffBias = g.hasBias ? Tensor(uninitialized: [g.outChannels]) : nil
        if let diffBias { args.append(execArg(DNNL_ARG_DIFF_BIAS, diffBias)) }
        KernelTrace.note(name + ".backward-weights-bf16")
        withExtendedLifetime((src, diffDst)) { prim.execute(args) }
        let plainWeight = diffWei.plain()
        return (Tensor(shape: g.weightShape, storage: plainWeight.storage, offset: plainWeight.offset), diffBias)
    }

    /// The bf16 backward-data primitive of `g` (bf16 output gradient and weights, f32 input
    /// gradient in the layout the forward pass read its input in; plain for a stem of fewer than
    /// 8 channels), hinted by the bf16 training forward. Nil without an optimised kernel.
    static func convolutionBackwardDataBF16(_ g: ConvolutionGeometry) -> Primitive? {
        guard let hint = convolutionForwardBF16(g, training: true) else { return nil }
        return bf16Primitives.primitive("conv.bwd-data.bf16|" + g.key, name: { "bf16 convolution backward-data for \(g)" }) {
            let sourceLayout = layout(of: hint, g)
            var diffSrc = g.inChannels < 8 ? plainDesc(g.sourceShape) : sourceLayout.desc(g.sourceShape)
            var diffDst = sourceLayout.desc(g.destinationShape, type: dnnl_bf16), wei = anyDesc(g.weightDims, type: dnnl_bf16)
            var desc = dnnl_convolution_desc_t()
            guard dnnl_dilated_convolution_backward_data_desc_init(
                &desc, dnnl_convolution_direct, &diffSrc, &wei, &diffDst,
                g.stride.map(Int64.init), g.dilation.map { Int64($0 - 1) },
                g.padding.map(Int64.init), g.paddingRight.map(Int64.init)) == dnnl_success else { return nil }
            return createPD(&desc, hint: hint.pd).pd
        }
    }

    /// `dL/dx` of a convolution by `weight` (frozen, or trainable: its bf16 copies are made once
    /// per value) in bf16 (see the type's comment), f32 in the layout of the f32 path. With `destination` (unshared, offset 0), the gradient is added into
    /// it instead and the result is `destination`, when the kernel can (backward-data by forward,
    /// `sum` post-op, same layout); otherwise it is returned alone. Nil when oneDNN has no
    /// optimised bf16 kernel for `g`: the caller runs the f32 path.
    static func runConvolutionBackwardDataBF16(_ g: ConvolutionGeometry, outputGradient: Tensor, weight: Tensor,
                                               accumulatingInto destination: Tensor?, name: String)
        -> (gradient: Tensor, accumulated: Bool)? {
        // Stride 1 on brgemm kernels: as a forward convolution of dL/dy by the flipped weight
        // (`backwardDataAsForward`), 27–75 % faster than the backward-data kernel in f32.
        if ConvolutionLayout.preferred == .channelsLast, let t = g.backwardDataAsForward,
           let forward = convolutionForwardBF16(t, training: true), forward.implementation.hasPrefix("brg") {
            // Into `destination` when an accumulating kernel writes its layout, else into new memory.
            var into: (Primitive, Tensor)?
            if let destination, destination.offset == 0,
               let accumulating = convolutionForwardBF16(t, training: true, accumulating: true) {
                var want = accumulating.md(dnnl_query_dst_md), have = desc(of: destination)
                if dnnl_memory_desc_equal(&want, &have) != 0 { into = (accumulating, destination) }
            }
            let (prim, diffSrc) = into ?? (forward, empty(g.sourceShape, forward.md(dnnl_query_dst_md)))
            let diffDst = bf16(outputGradient, to: prim.md(dnnl_query_src_md))
            let wei = weightBF16(weight, g, md: prim.md(dnnl_query_weights_md), flipped: true)
            KernelTrace.note(name + (into != nil ? ".backward-data-accumulate-bf16" : ".backward-data-bf16"))
            withExtendedLifetime((diffDst, wei)) {
                prim.execute([diffDst.arg(DNNL_ARG_SRC), wei.arg(DNNL_ARG_WEIGHTS), execArg(DNNL_ARG_DST, diffSrc)])
            }
            return (diffSrc, into != nil)
        }
        guard let prim = convolutionBackwardDataBF16(g) else { return nil }
        let diffDst = bf16(outputGradient, to: prim.md(dnnl_query_diff_dst_md))
        let wei = weightBF16(weight, g, md: prim.md(dnnl_query_weights_md), flipped: false)
        let diffSrc = empty(g.sourceShape, prim.md(dnnl_query_diff_src_md))
        KernelTrace.note(name + ".backward-data-bf16")
        withExtendedLifetime((diffDst, wei)) {
            prim.execute([diffDst.arg(DNNL_ARG_DIFF_DST), wei.arg(DNNL_ARG_WEIGHTS),
                          execArg(DNNL_ARG_DIFF_SRC, diffSrc)])
        }
        return (diffSrc, false)
    }

    /// bf16 `data` in the layout `md` (bf16): itself when it has it, otherwise a reorder.
    static func relaidOut(_ data: BF16Data, shape: [Int], to md: dnnl_memory_desc_t) -> BF16Data {
        if data.isLaidOut(as: md) { return data }
        let out = BF16Data(desc: md)
        let (_, from, pointer) = data.arg(DNNL_ARG_FROM)
        KernelTrace.note("bf16-reorder")
        reorderPrimitive(from: from, to: md, shape: shape)
            .execute([(DNNL_ARG_FROM, from, pointer), (DNNL_ARG_TO, md, out.storage.base)])
        return out
    }

    // MARK: - Fully connected products

    /// Row-major `C = A · op(B)` (+ `bias` on every row; or `C += …` with `accumulate`) for an f32
    /// `A` [m, k] (leading dimension k) rounded to bf16 per call and a weight `b` ([k, n], or
    /// [n, k] with `transB`) read in bf16: packed once per value, beside its storage (a frozen
    /// weight's copy lasts the run, a trainable one's until the optimizer writes it), or read in
    /// place when held in BF16; f32 `C` [m, n]. Returns false, having done nothing, when oneDNN has
    /// no optimised bf16 matmul for the shape.
    static func matmulWeightBF16(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: Tensor, transB: Bool,
                                 bias: UnsafePointer<Float>? = nil, c: UnsafeMutablePointer<Float>,
                                 accumulate: Bool = false) -> Bool {
        if m == 0 || n == 0 { return true }
        let hasBias = bias != nil
        // A BF16 matrix (held so, `toBFloat16`) is read in place, by strides: it is the only copy.
        let direct = b.dtype == .bfloat16
        precondition(direct || b.dtype == .float32, "matmulWeightBF16: B must be F32 or BF16, got \(b.dtype.rawValue)")
        var directDesc = dnnl_memory_desc_t()
        if direct {
            check(dnnl_memory_desc_init_by_strides(&directDesc, 2, [Int64(k), Int64(n)], dnnl_bf16,
                                                   transB ? [1, Int64(k)] : [Int64(n), 1]), "bf16 matmul B md for [\(k), \(n)]")
        }
        let key = "matmul-frozen-bf16|\(m)|\(n)|\(k)|\(hasBias)|\(accumulate)" + (direct ? "|direct|\(transB)" : "")
        let srcDesc = plainDesc([m, k], type: dnnl_bf16), dstDesc = plainDesc([m, n]), biasDesc = plainDesc([1, n])
        let prim = bf16Primitives.primitive(key, name: { "bf16 matmul [\(m), \(k)] · [\(k), \(n)]\(hasBias ? " + bias" : "")\(accumulate ? " accumulating" : "")" }) {
            var src = srcDesc, dst = dstDesc, bd = biasDesc
            var weights = direct ? directDesc : anyDesc([k, n], type: dnnl_bf16)
            var desc = dnnl_matmul_desc_t()
            let status = hasBias ? dnnl_matmul_desc_init(&desc, &src, &weights, &bd, &dst)
                                 : dnnl_matmul_desc_init(&desc, &src, &weights, nil, &dst)
            guard status == dnnl_success else { return nil }
            let attr = accumulate ? sumPostOpAttributes() : nil
            defer { if let attr { dnnl_primitive_attr_destroy(attr) } }
            var pd: dnnl_primitive_desc_t?
            guard dnnl_primitive_desc_create(&pd, &desc, attr, context.engine, nil) == dnnl_success else { return nil }
            return pd
        }
        guard let prim else { return false }
        let wanted = prim.md(dnnl_query_weights_md)
        let packed = direct ? BF16Data(desc: directDesc, storage: b.storage, offset: b.offset) : b.storage.derivedValue("matmul-b-bf16|\(b.offset)|\(b.shape)|\(transB)|" + BlockedFormat.key(wanted),
                                            isValid: { (p: BF16Data) in p.isLaidOut(as: wanted) }) {
            var source = dnnl_memory_desc_t()
            let strides: [Int64] = transB ? [1, Int64(k)] : [Int64(n), 1]
            check(dnnl_memory_desc_init_by_strides(&source, 2, [Int64(k), Int64(n)], dnnl_f32, strides),
                  "bf16 matmul source md for [\(k), \(n)]")
            return bf16(source, at: UnsafeMutableRawPointer(b.storage.floats + b.offset), shape: [k, n], to: wanted,
                        trace: "weight-to-bf16")
        }
        let src = bf16(plainDesc([m, k]), at: UnsafeMutableRawPointer(mutating: a), shape: [m, k], to: srcDesc)
        var args = [src.arg(DNNL_ARG_SRC), packed.arg(DNNL_ARG_WEIGHTS),
                    (DNNL_ARG_DST, dstDesc, UnsafeMutableRawPointer(c))]
        if let bias { args.append((DNNL_ARG_BIAS, biasDesc, UnsafeMutableRawPointer(mutating: bias))) }
        KernelTrace.note("matmul-weight-bf16")
        withExtendedLifetime((src, packed)) { prim.execute(args) }
        return true
    }
}

extension DNNL {
    /// Row-major `C = Aᵀ · B` for f32 `A` [k, m] and `B` [k, n], both rounded to bf16 per call,
    /// with f32 accumulation and an f32 `C` [m, n]: a linear layer's weight gradient
    /// (dL/dW = dL/dyᵀ · x) in bf16. Returns false, having done nothing, when oneDNN has no
    /// optimised bf16 matmul for the shape.
    static func matmulTransposedABF16(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                                      c: UnsafeMutablePointer<Float>) -> Bool {
        if m == 0 || n == 0 { return true }
        guard k > 0 else { return false }
        var transposed = dnnl_memory_desc_t()
        check(dnnl_memory_desc_init_by_strides(&transposed, 2, [Int64(m), Int64(k)], dnnl_bf16, [1, Int64(m)]),
              "bf16 matmul Aᵀ md for [\(k), \(m)]")
        let weightsDesc = plainDesc([k, n], type: dnnl_bf16), dstDesc = plainDesc([m, n])
        let prim = bf16Primitives.primitive("matmul-at-bf16|\(m)|\(n)|\(k)", name: { "bf16 matmul [\(k), \(m)]ᵀ · [\(k), \(n)]" }) {
            var src = transposed, weights = weightsDesc, dst = dstDesc
            var desc = dnnl_matmul_desc_t()
            guard dnnl_matmul_desc_init(&desc, &src, &weights, nil, &dst) == dnnl_success else { return nil }
            var pd: dnnl_primitive_desc_t?
            guard dnnl_primitive_desc_create(&pd, &desc, nil, context.engine, nil) == dnnl_success else { return nil }
            return pd
        }
        guard let prim else { return false }
        let a16 = bf16(plainDesc([k, m]), at: UnsafeMutableRawPointer(mutating: a), shape: [k, m],
                       to: plainDesc([k, m], type: dnnl_bf16))
        let b16 = bf16(plainDesc([k, n]), at: UnsafeMutableRawPointer(mutating: b), shape: [k, n], to: weightsDesc)
        KernelTrace.note("matmul-at-bf16")
        withExtendedLifetime((a16, b16)) {
            prim.execute([(DNNL_ARG_SRC, transposed, a16.storage.base), b16.arg(DNNL_ARG_WEIGHTS),
                          (DNNL_ARG_DST, dstDesc, UnsafeMutableRawPointer(c))])
        }
        return true
    }
}

extension DNNL {
    /// A plain row-major descriptor for `shape` of element type `type`.
    static func plainDesc(_ shape: [Int], type: dnnl_data_type_t) -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        let dims = shape.isEmpty ? [Int64(1)] : shape.map(Int64.init)
        let strides = contiguousStrides(shape.isEmpty ? [1] : shape).map(Int64.init)
        check(dnnl_memory_desc_init_by_strides(&md, Int32(dims.count), dims, type, strides), "plain md \(type.rawValue)\(shape)")
        return md
    }
}
