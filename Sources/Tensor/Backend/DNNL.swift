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
            DNNL.check(dnnl_engine_create(&engine, dnnl_cpu, 0), "engine")
            var stream: dnnl_stream_t?
            DNNL.check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue), "stream")
            self.engine = engine!
            self.stream = stream!
        }

        /// The cached primitive for `key`, created by `make` on first use.
        func primitive(_ key: String, make: () -> dnnl_primitive_desc_t) -> Primitive {
            cacheLock.lock()
            if let p = cache[key] { cacheLock.unlock(); return p }
            cacheLock.unlock()
            let p = Primitive(make())
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
        /// Scratch memory the primitive asks for, reused across calls (serialised by the lock).
        let scratchpad: Tensor?

        init(_ pd: dnnl_primitive_desc_t) {
            self.pd = pd
            var prim: dnnl_primitive_t?
            DNNL.check(dnnl_primitive_create(&prim, pd), "primitive_create")
            self.primitive = prim!
            let md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0)!
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
            dnnl_primitive_desc_query_md(pd, query, index)!.pointee
        }

        /// Implementation name (e.g. "jit:avx2"), as `DNNL_VERBOSE` prints it.
        var implementation: String {
            var p: UnsafePointer<CChar>?
            dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &p)
            return p.map { String(cString: $0) } ?? "?"
        }

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
                DNNL.check(dnnl_memory_create(&mem, &d, ctx.engine, ptr), "memory_create")
                memories.append(mem)
                list.append(dnnl_exec_arg_t(arg: arg, memory: mem))
            }
            ctx.lock.lock()
            DNNL.check(dnnl_primitive_execute(primitive, ctx.stream, Int32(list.count), list), "execute")
            DNNL.check(dnnl_stream_wait(ctx.stream), "stream_wait")
            ctx.lock.unlock()
            for m in memories { dnnl_memory_destroy(m) }
        }
    }

    /// Stops on a oneDNN failure: every call here passes descriptors this wrapper built, so a
    /// failure is a bug in LoRAKit, not a user error.
    static func check(_ status: dnnl_status_t, _ what: String) {
        if status != dnnl_success {
            preconditionFailure("oneDNN \(what) failed with status \(status.rawValue)")
        }
    }

    // MARK: - Memory descriptors

    /// A plain row-major f32 descriptor for `shape`.
    static func plainDesc(_ shape: [Int]) -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        let dims = shape.isEmpty ? [Int64(1)] : shape.map(Int64.init)
        let strides = contiguousStrides(shape.isEmpty ? [1] : shape).map(Int64.init)
        check(dnnl_memory_desc_init_by_strides(&md, Int32(dims.count), dims, dnnl_f32, strides), "plain md")
        return md
    }

    /// A descriptor that lets the primitive choose the layout (`format_tag any`).
    static func anyDesc(_ shape: [Int]) -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        let dims = shape.map(Int64.init)
        check(dnnl_memory_desc_init_by_tag(&md, Int32(dims.count), dims, dnnl_f32, dnnl_format_tag_any), "any md")
        return md
    }

    /// Whether `md` is plain row-major for its dims.
    static func isPlain(_ md: dnnl_memory_desc_t, shape: [Int]) -> Bool {
        var a = md, b = plainDesc(shape)
        return dnnl_memory_desc_equal(&a, &b) != 0
    }

    /// The descriptor and pointer of `t` as oneDNN sees it.
    static func arg(_ t: Tensor) -> (dnnl_memory_desc_t, UnsafeMutableRawPointer) {
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
        let key = "reorder|" + BlockedFormat.key(source) + "|" + BlockedFormat.key(md)
        let prim = context.primitive(key) {
            var pd: dnnl_primitive_desc_t?
            var s = source, d = md
            check(dnnl_reorder_primitive_desc_create(&pd, &s, context.engine, &d, context.engine, nil), "reorder")
            return pd!
        }
        KernelTrace.note(trace)
        prim.execute([(DNNL_ARG_FROM, source, pointer), (DNNL_ARG_TO, md, out.storage.base)])
        return out
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
        KernelTrace.note("sgemm")
        check(dnnl_sgemm(transA ? 84 : 78, transB ? 84 : 78, Int64(m), Int64(n), Int64(k), alpha,
                         a, Int64(lda), b, Int64(ldb), beta, c, Int64(ldc)), "sgemm")
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
