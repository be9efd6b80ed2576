import CDNNL

/// Everything a oneDNN batch-normalization primitive depends on. The data layout is the input's
/// own (blocked or plain); statistics, scale and shift are plain `[C]`.
struct BatchNormGeometry: Hashable {
    var shape: [Int]
    var epsilon: Float
    var hasScale: Bool
    var hasShift: Bool
    /// Normalise with given (running) statistics instead of the batch's.
    var globalStatistics: Bool

    var channels: Int { shape[1] }

    var flags: UInt32 {
        var f: UInt32 = 0
        if hasScale { f |= dnnl_use_scale.rawValue }
        if hasShift { f |= dnnl_use_shift.rawValue }
        if globalStatistics { f |= dnnl_use_global_stats.rawValue }
        return f
    }

    var key: String { "\(shape)|e\(epsilon.bitPattern)|f\(flags)" }

    /// For messages: the input shape and the options.
    var description: String {
        "input \(shape), epsilon \(epsilon)\(hasScale ? ", scale" : "")\(hasShift ? ", shift" : "")"
            + (globalStatistics ? ", running statistics" : ", batch statistics")
    }
}

extension DNNL {
    static func batchNormForward(_ g: BatchNormGeometry, layout: dnnl_memory_desc_t, training: Bool) -> Primitive {
        let key = "bnorm.fwd|\(training ? "train" : "infer")|" + g.key + "|" + BlockedFormat.key(layout)
        return context.primitive(key, name: "batch norm forward (\(training ? "training" : "inference")) for "
                                 + "\(g.description) in \(describe(layout))") {
            var data = layout
            var desc = dnnl_batch_normalization_desc_t()
            check(dnnl_batch_normalization_forward_desc_init(
                &desc, training ? dnnl_forward_training : dnnl_forward_inference, &data, g.epsilon, g.flags),
                  "batch norm forward desc init for \(g.description) in \(describe(layout))")
            var pd: dnnl_primitive_desc_t?
            check(dnnl_primitive_desc_create(&pd, &desc, nil, context.engine, nil), "batch norm forward primitive_desc_create for \(g.description) in \(describe(layout))")
            return pd!
        }
    }

    /// Backward batch norm. oneDNN 2.6 implements backward-data only without scale and shift,
    /// so with either the full backward runs (`dL/dγ`, `dL/dβ` cost one extra pass over data that
    /// `dL/dx` reads anyway) and the caller drops what it does not need.
    static func batchNormBackward(_ g: BatchNormGeometry, layout: dnnl_memory_desc_t) -> Primitive {
        let hint = batchNormForward(g, layout: layout, training: true)
        let key = "bnorm.bwd|" + g.key + "|" + BlockedFormat.key(layout)
        return context.primitive(key, name: "batch norm backward for \(g.description) in \(describe(layout))") {
            var diffData = layout, data = layout
            var desc = dnnl_batch_normalization_desc_t()
            let prop = g.hasScale || g.hasShift ? dnnl_backward : dnnl_backward_data
            check(dnnl_batch_normalization_backward_desc_init(&desc, prop, &diffData, &data, g.epsilon, g.flags),
                  "batch norm backward desc init for \(g.description) in \(describe(layout))")
            var pd: dnnl_primitive_desc_t?
            check(dnnl_primitive_desc_create(&pd, &desc, nil, context.engine, hint.pd),
                  "batch norm backward primitive_desc_create for \(g.description) in \(describe(layout))")
            return pd!
        }
    }

    /// Forward batch norm of `source` in its own layout. With batch statistics, `mean` and
    /// `variance` are filled (biased variance); with global statistics they are read.
    static func runBatchNormForward(_ g: BatchNormGeometry, source: Tensor, scale: Tensor?, shift: Tensor?,
                                    mean: Tensor, variance: Tensor, training: Bool) -> Tensor {
        let src = source.detached()
        let layout = desc(of: src)
        let prim = batchNormForward(g, layout: layout, training: training)
        let dst = empty(g.shape, layout)
        var args = [execArg(DNNL_ARG_SRC, src), execArg(DNNL_ARG_DST, dst),
                    execArg(DNNL_ARG_MEAN, mean), execArg(DNNL_ARG_VARIANCE, variance)]
        if let scale { args.append(execArg(DNNL_ARG_SCALE, scale)) }
        if let shift { args.append(execArg(DNNL_ARG_SHIFT, shift)) }
        KernelTrace.note("batchnorm.forward")
        prim.execute(args)
        return dst
    }

    /// `dL/dx` in `layout`, and `dL/dγ`, `dL/dβ` (plain `[C]`) for the parameters the geometry has.
    static func runBatchNormBackward(_ g: BatchNormGeometry, layout: dnnl_memory_desc_t, source: Tensor,
                                     outputGradient: Tensor, scale: Tensor?, shift: Tensor?, mean: Tensor,
                                     variance: Tensor) -> (input: Tensor, scale: Tensor?, shift: Tensor?) {
        let prim = batchNormBackward(g, layout: layout)
        let src = reorder(source.detached(), to: layout)
        let diffDst = reorder(outputGradient.detached(), to: layout)
        let diffSrc = empty(g.shape, layout)
        var args = [execArg(DNNL_ARG_SRC, src), execArg(DNNL_ARG_DIFF_DST, diffDst),
                    execArg(DNNL_ARG_MEAN, mean), execArg(DNNL_ARG_VARIANCE, variance),
                    execArg(DNNL_ARG_DIFF_SRC, diffSrc)]
        var diffScale: Tensor?, diffShift: Tensor?
        if let scale {
            let d = Tensor(uninitialized: [g.channels])
            args += [execArg(DNNL_ARG_SCALE, scale), execArg(DNNL_ARG_DIFF_SCALE, d)]
            diffScale = d
        }
        if let shift {
            let d = Tensor(uninitialized: [g.channels])
            args += [execArg(DNNL_ARG_SHIFT, shift), execArg(DNNL_ARG_DIFF_SHIFT, d)]
            diffShift = d
        }
        KernelTrace.note("batchnorm.backward")
        prim.execute(args)
        return (diffSrc, diffScale, diffShift)
    }
}
