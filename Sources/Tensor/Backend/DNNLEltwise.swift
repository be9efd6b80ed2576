import CDNNL

/// oneDNN's eltwise primitive, for the activations whose functions are transcendental (exp,
/// tanh, erf): its JIT kernels evaluate them vectorised, where a Swift loop calls scalar libm
/// (measured on this machine: GELU forward ~16× slower as a Swift loop over `erff`). Memory-bound
/// functions (relu, abs, clamp, sqrt) stay Swift loops.
///
/// Data stays in the layout it comes in (plain or blocked, padding included: oneDNN keeps the
/// padding of its outputs zero).
enum EltwiseFunction {
    case exp, log, tanh, sigmoid, geluErf, geluTanh, silu

    /// The algorithm, with the `use_dst_for_bwd` variant where the derivative is a function of
    /// the output (so backward keeps the output, not the input).
    var algorithm: dnnl_alg_kind_t {
        switch self {
        case .exp: return dnnl_eltwise_exp_use_dst_for_bwd
        case .log: return dnnl_eltwise_log
        case .tanh: return dnnl_eltwise_tanh_use_dst_for_bwd
        case .sigmoid: return dnnl_eltwise_logistic_use_dst_for_bwd
        case .geluErf: return dnnl_eltwise_gelu_erf
        case .geluTanh: return dnnl_eltwise_gelu_tanh
        case .silu: return dnnl_eltwise_swish
        }
    }

    /// `alpha`: the sigmoid's scale for swish (x·σ(αx), α = 1 is SiLU); unused otherwise.
    var alpha: Float { self == .silu ? 1 : 0 }

    /// Whether backward reads the output (DST) rather than the input (SRC).
    var backwardUsesOutput: Bool {
        switch self {
        case .exp, .tanh, .sigmoid: return true
        case .log, .geluErf, .geluTanh, .silu: return false
        }
    }

    var name: String { "\(self)" }
}

extension DNNL {
    /// The descriptor of `t` for eltwise: its blocked layout, or plain data seen as 1-D, so that
    /// every plain shape with the same element count shares one cached primitive.
    private static func eltwiseDesc(_ t: Tensor) -> dnnl_memory_desc_t {
        t.format?.desc ?? plainDesc([t.count])
    }

    private static func eltwiseForwardPrimitive(_ f: EltwiseFunction, _ md: dnnl_memory_desc_t) -> Primitive {
        context.primitive("eltwise.fwd|\(f.name)|" + BlockedFormat.key(md), name: "eltwise \(f.name) forward on \(describe(md))") {
            var data = md
            var desc = dnnl_eltwise_desc_t()
            check(dnnl_eltwise_forward_desc_init(&desc, dnnl_forward_training, f.algorithm, &data, f.alpha, 0),
                  "eltwise \(f.name) forward desc init on \(describe(md))")
            var pd: dnnl_primitive_desc_t?
            check(dnnl_primitive_desc_create(&pd, &desc, nil, context.engine, nil), "eltwise \(f.name) forward primitive_desc_create on \(describe(md))")
            return pd!
        }
    }

    /// An uninitialised tensor in the layout `like` has.
    private static func empty(like t: Tensor) -> Tensor {
        if let format = t.format {
            return Tensor(shape: t.shape, storage: TensorStorage(byteCount: format.byteCount, dtype: .float32),
                          format: format)
        }
        return Tensor(uninitialized: t.shape)
    }

    /// `f(x)` elementwise, in `x`'s layout.
    static func eltwiseForward(_ f: EltwiseFunction, _ x: Tensor) -> Tensor {
        precondition(x.dtype == .float32,
                     "\(f.name): needs an F32 tensor, got \(x.dtype.rawValue) of shape \(x.shape) (convert it with toFloat32())")
        let src = x.detached()
        let out = empty(like: src)
        if src.count == 0 { return out }
        let md = eltwiseDesc(src)
        let prim = eltwiseForwardPrimitive(f, md)
        KernelTrace.note("eltwise.\(f.name)")
        prim.execute([(DNNL_ARG_SRC, md, arg(src).1), (DNNL_ARG_DST, md, out.storage.base)])
        return out
    }

    /// `g·f'` elementwise, where `saved` is the forward's output when `f.backwardUsesOutput`,
    /// its input otherwise. The result takes `saved`'s layout; `g` is reordered into it if needed.
    static func eltwiseBackward(_ f: EltwiseFunction, saved: Tensor, gradient g: Tensor) -> Tensor {
        precondition(g.shape == saved.shape, "gradient shape \(g.shape) does not match saved shape \(saved.shape)")
        let data = saved.detached()
        let out = empty(like: data)
        if data.count == 0 { return out }
        let md = eltwiseDesc(data)
        let grad: Tensor
        if let format = data.format {
            grad = g.format == format ? g.detached() : reorder(g.detached(), to: format.desc)
        } else {
            grad = g.plain().detached()
        }
        let hint = eltwiseForwardPrimitive(f, md)
        let prim = context.primitive("eltwise.bwd|\(f.name)|" + BlockedFormat.key(md),
                                     name: "eltwise \(f.name) backward on \(describe(md))") {
            var diff = md, dataMD = md
            var desc = dnnl_eltwise_desc_t()
            check(dnnl_eltwise_backward_desc_init(&desc, f.algorithm, &diff, &dataMD, f.alpha, 0),
                  "eltwise \(f.name) backward desc init on \(describe(md))")
            var pd: dnnl_primitive_desc_t?
            check(dnnl_primitive_desc_create(&pd, &desc, nil, context.engine, hint.pd), "eltwise \(f.name) backward primitive_desc_create on \(describe(md))")
            return pd!
        }
        KernelTrace.note("eltwise.\(f.name).backward")
        prim.execute([(f.backwardUsesOutput ? DNNL_ARG_DST : DNNL_ARG_SRC, md, arg(data).1),
                      (DNNL_ARG_DIFF_DST, md, arg(grad).1),
                      (DNNL_ARG_DIFF_SRC, md, out.storage.base)])
        return out
    }
}
