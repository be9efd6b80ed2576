import CDNNL
import Foundation

/// The thin wrapper around oneDNN's C API (v2): one CPU engine and stream, primitives created once
/// per shape and cached, and the reorders between plain and blocked layouts. Everything that
/// touches oneDNN goes through here, so a move to oneDNN 3 (or a CUDA backend) changes this file
/// and its neighbours in `Backend/` only.
enum DNNL {
    /// Engine and stream: created once, immutable afterwards, like the CPU itself.
    final class Context: @unchecked Sendable {
        let engine: dnnl_engine_t
        let stream: dnnl_stream_t
        /// oneDNN streams are not thread-safe: executions are serialised (they parallelise inside).
        let lock = NSLock()
        private var cache: [String: Primitive] = [:]
        private let cacheLock = NSLock()

        init() {
            var engine: dnnl_engine_t?
            DNNL.check(dnnl_engine_create(&engine, dnnl_cpu, 0), "engine_create (CPU engine 0)")
            var stream: dnnl_stream_t?
            DNNL.check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue),
                       "stream_create (CPU stream)")
            guard let engine, let stream else { fatalError("oneDNN returned success but no CPU engine or stream") }
            self.engine = engine
            self.stream = stream
        }

        /// The cached primitive for `key`, created by `make` on first use. `name` (evaluated only
        /// then; `key` when nil) names the primitive in failure messages: what it computes, on
        /// which shapes.
        func primitive(_ key: String, name: @autoclosure () -> String? = nil,
                       make: () -> dnnl_primitive_desc_t) -> Primitive {
            cacheLock.lock()
            if let p = cache[key] { cacheLock.unlock(); return p }
            cacheLock.unlock()
            let p = Primitive(make(), name: name() ?? key)
            cacheLock.lock()
            cache[key] = p
            cacheLock.unlock()
            return p
        }
    }

    static let context = Context()

    /// A primitive and its descriptor; lives as long as the process (cached).
    final class Primitive: @unchecked Sendable {
        let pd: dnnl_primitive_desc_t
        let primitive: dnnl_primitive_t
        /// What the primitive computes, on which shapes (its cache key): named by failure messages.
        let name: String
        /// Scratch memory the primitive asks for, reused across calls (serialised by the lock).
        let scratchpad: Tensor?

        init(_ pd: dnnl_primitive_desc_t, name: String) {
            self.pd = pd
            self.name = name
            var prim: dnnl_primitive_t?
            DNNL.check(dnnl_primitive_create(&prim, pd), "primitive_create of \(name) (\(DNNL.implementation(pd)))")
            guard let prim else { fatalError("oneDNN primitive_create of \(name) returned success but no primitive") }
            self.primitive = prim
            guard let md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0) else {
                fatalError("oneDNN primitive \(name) has no scratchpad descriptor")
            }
            let bytes = dnnl_memory_desc_get_size(md)
            // Kept as long as the primitive (the process): memory of its own (see `MemoryPool`).
            scratchpad = bytes > 0
                ? MemoryPool.withLongLivedAllocations {
                    Tensor(shape: [bytes / 4 + 1], storage: TensorStorage(byteCount: bytes + 4, dtype: .float32))
                }
                : nil
        }

        /// The memory descriptor the primitive chose for `query` (e.g. `dnnl_query_src_md`).
        func md(_ query: dnnl_query_t, _ index: Int32 = 0) -> dnnl_memory_desc_t {
            guard let md = dnnl_primitive_desc_query_md(pd, query, index) else {
                fatalError("oneDNN primitive \(name) has no memory descriptor for query \(query.rawValue) #\(index)")
            }
            return md.pointee
        }

        /// Implementation name (e.g. "jit:avx2"), as `DNNL_VERBOSE` prints it.
        var implementation: String { DNNL.implementation(pd) }

        /// Runs the primitive with `args`: (argument id, memory descriptor, data pointer).
        func execute(_ args: [(Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer)]) {
            let ctx = DNNL.context
            var memories: [dnnl_memory_t?] = []
            var list: [dnnl_exec_arg_t] = []
            var all = args
            if let scratchpad {
                all.append((DNNL_ARG_SCRATCHPAD, md(dnnl_query_scratchpad_md), scratchpad.storage.base))
            }
            for (arg, desc, ptr) in all {
                var mem: dnnl_memory_t?
                var d = desc
                DNNL.check(dnnl_memory_create(&mem, &d, ctx.engine, ptr),
                           "memory_create for argument \(arg) of \(name): \(DNNL.describe(desc))")
                memories.append(mem)
                list.append(dnnl_exec_arg_t(arg: arg, memory: mem))
            }
            ctx.lock.lock()
            let status = dnnl_primitive_execute(primitive, ctx.stream, Int32(list.count), list)
            let waited = status == dnnl_success ? dnnl_stream_wait(ctx.stream) : dnnl_success
            ctx.lock.unlock()
            for m in memories { dnnl_memory_destroy(m) }
            if status != dnnl_success || waited != dnnl_success {
                let arguments = all.map { "\($0.0): \(DNNL.describe($0.1))" }.joined(separator: ", ")
                DNNL.check(status != dnnl_success ? status : waited,
                           "\(status != dnnl_success ? "execute" : "stream_wait") of \(name) (\(implementation)) "
                           + "with arguments [\(arguments)]")
            }
        }
    }

    /// Stops the program on a oneDNN failure with a message naming the call, the primitive and
    /// the shapes involved (`what`) and the status by name (`out_of_memory`, `invalid_arguments`,
    /// `unimplemented`, …). Shapes that user data can reach are checked before any oneDNN call,
    /// so what remains is a bug in LoRAKit or an exhausted machine; `fatalError` reports it in
    /// every build configuration (a precondition would vanish under `-Ounchecked`).
    ///
    /// Code on a path that can throw uses `checked(_:_:)` instead.
    /// `what` is evaluated only on failure, so a call on a hot path costs one comparison.
    static func check(_ status: dnnl_status_t, _ what: @autoclosure () -> String) {
        if status != dnnl_success { fatalError(failure(status, what()).description) }
    }

    /// `check`, throwing `TensorError.backend(operation: what, status: name)` instead of stopping.
    static func checked(_ status: dnnl_status_t, _ what: @autoclosure () -> String) throws {
        if status != dnnl_success { throw failure(status, what()) }
    }

    /// The error for a failed call: `what` and the status's name.
    static func failure(_ status: dnnl_status_t, _ what: String) -> TensorError {
        .backend(operation: what, status: statusName(status))
    }

    /// oneDNN's name for a status (as `dnnl_status2str` spells it), with its number.
    static func statusName(_ status: dnnl_status_t) -> String {
        let name: String
        switch status {
        case dnnl_success: name = "success"
        case dnnl_out_of_memory: name = "out_of_memory"
        case dnnl_invalid_arguments: name = "invalid_arguments"
        case dnnl_unimplemented: name = "unimplemented"
        case dnnl_iterator_ends: name = "iterator_ends"
        case dnnl_runtime_error: name = "runtime_error"
        case dnnl_not_required: name = "not_required"
        default: name = "unknown status"
        }
        return "\(name) (\(status.rawValue))"
    }

    /// Implementation name of a primitive descriptor (e.g. "jit:avx2"), "?" when unknown.
    static func implementation(_ pd: dnnl_primitive_desc_t) -> String {
        var p: UnsafePointer<CChar>?
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &p)
        return p.map { String(cString: $0) } ?? "?"
    }

    /// A memory descriptor for messages: element type, dims, and the layout (strides and inner
    /// blocks, `any`, or another format kind), e.g. `f32[8, 64, 56, 56] strides [200704, 1, 3584, 64]`.
    static func describe(_ md: dnnl_memory_desc_t) -> String {
        let rank = Int(md.ndims)
        func values<T>(_ tuple: T, _ count: Int) -> [Int64] {
            withUnsafeBytes(of: tuple) { Array($0.bindMemory(to: Int64.self).prefix(Swift.max(0, Swift.min(count, 12)))) }
        }
        let type: String
        switch md.data_type {
        case dnnl_f32: type = "f32"
        case dnnl_f16: type = "f16"
        case dnnl_bf16: type = "bf16"
        case dnnl_s32: type = "s32"
        case dnnl_s8: type = "s8"
        case dnnl_u8: type = "u8"
        default: type = "type \(md.data_type.rawValue)"
        }
        let dims = values(md.dims, rank)
        var text = "\(type)\(dims)"
        switch md.format_kind {
        case dnnl_format_kind_any:
            text += " any"
        case dnnl_blocked:
            let b = md.format_desc.blocking
            text += " strides \(values(b.strides, rank))"
            let blocks = Int(b.inner_nblks)
            if blocks > 0 {
                let sizes = values(b.inner_blks, blocks), axes = values(b.inner_idxs, blocks)
                text += " blocks " + zip(sizes, axes).map { "\($0)×axis\($1)" }.joined(separator: ", ")
            }
        default:
            text += " format kind \(md.format_kind.rawValue)"
        }
        return text
    }

    // MARK: - Memory descriptors

    /// A plain row-major f32 descriptor for `shape`.
    static func plainDesc(_ shape: [Int]) -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        let dims = shape.isEmpty ? [Int64(1)] : shape.map(Int64.init)
        let strides = contiguousStrides(shape.isEmpty ? [1] : shape).map(Int64.init)
        check(dnnl_memory_desc_init_by_strides(&md, Int32(dims.count), dims, dnnl_f32, strides), "plain md f32\(shape)")
        return md
    }

    /// A descriptor that lets the primitive choose the layout (`format_tag any`), of element
    /// type `type` (f32 unless bf16 is asked for).
    static func anyDesc(_ shape: [Int], type: dnnl_data_type_t = dnnl_f32) -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        let dims = shape.map(Int64.init)
        check(dnnl_memory_desc_init_by_tag(&md, Int32(dims.count), dims, type, dnnl_format_tag_any), "any md \(type.rawValue)\(shape)")
        return md
    }

    /// Whether `md` is plain row-major for its dims.
    static func isPlain(_ md: dnnl_memory_desc_t, shape: [Int]) -> Bool {
        var a = md, b = plainDesc(shape)
        return dnnl_memory_desc_equal(&a, &b) != 0
    }

    /// The descriptor and pointer of `t` as oneDNN sees it. oneDNN reads F32 data only here:
    /// another element type would be read past its buffer's end (a U8 tensor has a quarter of the
    /// bytes), so it stops the program with the shape and type.
    static func arg(_ t: Tensor) -> (dnnl_memory_desc_t, UnsafeMutableRawPointer) {
        precondition(t.dtype == .float32,
                     "oneDNN kernels read F32 tensors, got a \(t.dtype.rawValue) tensor of shape \(t.shape): convert it with toFloat32()")
        if let f = t.format { return (f.desc, t.storage.base) }
        return (plainDesc(t.shape), UnsafeMutableRawPointer(t.storage.floats + t.offset))
    }

    /// Brings `t` into the layout `md` (a reorder, or `t` itself when it already has it).
    static func reorder(_ t: Tensor, to md: dnnl_memory_desc_t) -> Tensor {
        let (srcMD, srcPtr) = arg(t)
        var a = srcMD, b = md
        if dnnl_memory_desc_equal(&a, &b) != 0 { return t }
        return reorder(srcMD, at: srcPtr, shape: t.shape, to: md)
    }

    /// The data at `pointer`, laid out as `source` (any strides or blocking) with logical `shape`,
    /// copied into a new tensor laid out as `md`. `trace` names the kernel for `KernelTrace`.
    static func reorder(_ source: dnnl_memory_desc_t, at pointer: UnsafeMutableRawPointer, shape: [Int],
                        to md: dnnl_memory_desc_t, trace: String = "reorder") -> Tensor {
        let out: Tensor
        if isPlain(md, shape: shape) {
            out = Tensor(uninitialized: shape)
        } else {
            let fmt = BlockedFormat(md, logicalCount: shape.reduce(1, *))
            out = Tensor(shape: shape, storage: TensorStorage(byteCount: fmt.byteCount, dtype: .float32),
                         format: fmt)
        }
        KernelTrace.note(trace)
        reorderPrimitive(from: source, to: md, shape: shape)
            .execute([(DNNL_ARG_FROM, source, pointer), (DNNL_ARG_TO, md, out.storage.base)])
        return out
    }

    /// The cached reorder primitive from layout `source` to `md` (element types may differ: f32 to
    /// bf16 rounds to nearest even); `shape` names it in messages.
    static func reorderPrimitive(from source: dnnl_memory_desc_t, to md: dnnl_memory_desc_t, shape: [Int]) -> Primitive {
        let key = "reorder|" + BlockedFormat.key(source) + "|" + BlockedFormat.key(md)
        return context.primitive(key, name: "reorder of \(shape) from \(describe(source)) to \(describe(md))") {
            var pd: dnnl_primitive_desc_t?
            var s = source, d = md
            check(dnnl_reorder_primitive_desc_create(&pd, &s, context.engine, &d, context.engine, nil),
                  "reorder_primitive_desc_create from \(describe(source)) to \(describe(md))")
            guard let pd else { fatalError("oneDNN reorder of \(shape) returned success but no primitive descriptor") }
            return pd
        }
    }

    /// A plain copy of a blocked tensor.
    static func reorderToPlain(_ t: Tensor, from format: BlockedFormat) -> Tensor {
        reorder(t.detached(), to: plainDesc(t.shape))
    }

    // MARK: - GEMM

    /// Row-major `C = alpha · op(A) · op(B) + beta · C` (oneDNN's `dnnl_sgemm`).
    static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                      a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                      beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            // An empty inner dimension: the product is zero, so C = beta·C. oneDNN would reject
            // the leading dimension 0 of an [m, 0] operand instead of computing it.
            for i in 0..<m {
                let row = c + i * ldc
                if beta == 0 { row.update(repeating: 0, count: n) } else if beta != 1 { for j in 0..<n { row[j] *= beta } }
            }
            return
        }
        KernelTrace.note("sgemm")
        check(dnnl_sgemm(transA ? 84 : 78, transB ? 84 : 78, Int64(m), Int64(n), Int64(k), alpha,
                         a, Int64(lda), b, Int64(ldb), beta, c, Int64(ldc)),
              "sgemm \(m)×\(k)\(transA ? " (A transposed)" : "") · \(k)×\(n)\(transB ? " (B transposed)" : "")"
              + " with lda \(lda), ldb \(ldb), ldc \(ldc)")
    }
}

/// A oneDNN memory layout other than plain row-major (e.g. nChw8c), carried by tensors that stay
/// blocked between oneDNN layers.
final class BlockedFormat: Equatable, @unchecked Sendable {
    let desc: dnnl_memory_desc_t
    /// Bytes the layout occupies (padding included).
    let byteCount: Int
    /// Whether the layout has padding elements beyond the logical ones.
    let hasPadding: Bool
    let key: String

    init(_ desc: dnnl_memory_desc_t, logicalCount: Int) {
        var d = desc
        self.desc = desc
        self.byteCount = dnnl_memory_desc_get_size(&d)
        self.hasPadding = byteCount != logicalCount * 4
        self.key = BlockedFormat.key(desc)
    }

    /// Float elements in the buffer, padding included.
    var elementCount: Int { byteCount / 4 }

    static func == (a: BlockedFormat, b: BlockedFormat) -> Bool {
        if a === b { return true }
        var x = a.desc, y = b.desc
        return dnnl_memory_desc_equal(&x, &y) != 0
    }

    /// A string that identifies a descriptor, for primitive cache keys.
    static func key(_ md: dnnl_memory_desc_t) -> String {
        var d = md
        return withUnsafeBytes(of: &d) { raw in
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in raw { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
            return String(h, radix: 16)
        }
    }
}
