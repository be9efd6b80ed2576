import CDNNL

/// Everything a oneDNN convolution primitive depends on, for 1-D and 2-D convolutions.
///
/// Spatial arrays (`inputSize`, `kernelSize`, `stride`, `padding`, `dilation`) hold one value per
/// spatial dimension, outermost first (`[H, W]` or `[L]`). `dilation` follows PyTorch (1: none);
/// oneDNN's dilation is one less.
struct ConvolutionGeometry: Hashable, CustomStringConvertible {
    let batch: Int
    let inChannels: Int
    let outChannels: Int
    let groups: Int
    let inputSize: [Int]
    let kernelSize: [Int]
    let stride: [Int]
    let padding: [Int]
    let dilation: [Int]
    var hasBias: Bool

    init(batch: Int, inChannels: Int, outChannels: Int, groups: Int, inputSize: [Int], kernelSize: [Int],
         stride: [Int], padding: [Int], dilation: [Int], hasBias: Bool) {
        self.batch = batch
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.groups = groups
        self.inputSize = inputSize
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.hasBias = hasBias
    }

    var spatialRank: Int { inputSize.count }

    /// Extent of the dilated kernel: `(k − 1)·d + 1`.
    var kernelExtent: [Int] { (0..<spatialRank).map { (kernelSize[$0] - 1) * dilation[$0] + 1 } }

    /// `⌊(in + 2p − (k − 1)·d − 1) / s⌋ + 1` per spatial dimension (PyTorch's floor mode).
    var outputSize: [Int] {
        (0..<spatialRank).map { (inputSize[$0] + 2 * padding[$0] - kernelExtent[$0]) / stride[$0] + 1 }
    }

    /// The right/bottom padding that the last window actually reaches (≤ `padding`): oneDNN then
    /// does no work on padding that no output reads. It may be negative (down to 1 − stride),
    /// which oneDNN accepts.
    var paddingRight: [Int] {
        let out = outputSize, extent = kernelExtent
        return (0..<spatialRank).map { (out[$0] - 1) * stride[$0] + extent[$0] - inputSize[$0] - padding[$0] }
    }

    /// `[N, C, spatial…]`.
    var sourceShape: [Int] { [batch, inChannels] + inputSize }
    /// `[N, O, spatial…]`.
    var destinationShape: [Int] { [batch, outChannels] + outputSize }
    /// PyTorch's weight shape `[O, C / groups, kernel…]`.
    var weightShape: [Int] { [outChannels, inChannels / groups] + kernelSize }
    /// oneDNN's weight dims: with groups, `[G, O / G, C / G, kernel…]` (the same memory as
    /// `weightShape` in plain layout).
    var weightDims: [Int] {
        groups == 1 ? weightShape : [groups, outChannels / groups, inChannels / groups] + kernelSize
    }

    /// Multiply-adds × 2 of one forward pass (backward-data and backward-weights cost the same).
    var flops: Double {
        2 * Double(batch) * Double(outChannels) * Double(outputSize.reduce(1, *))
            * Double(inChannels / groups) * Double(kernelSize.reduce(1, *))
    }

    var key: String {
        "n\(batch)c\(inChannels)o\(outChannels)g\(groups)i\(inputSize)k\(kernelSize)s\(stride)p\(padding)"
            + "d\(dilation)b\(hasBias ? 1 : 0)"
    }

    var description: String { key }
}

extension DNNL {
    /// The forward convolution primitive for `g`, letting oneDNN choose the layouts of source,
    /// weights and destination (`format_tag any`: nChw8c and friends on AVX2).
    /// - Parameter training: `forward_training` (the hint of the backward primitives) or
    ///   `forward_inference`.
    static func convolutionForward(_ g: ConvolutionGeometry, training: Bool) -> Primitive {
        let key = "conv.fwd|\(training ? "train" : "infer")|" + g.key
        return context.primitive(key) {
            var src = anyDesc(g.sourceShape), dst = anyDesc(g.destinationShape)
            var wei = anyDesc(g.weightDims), bias = plainDesc([g.outChannels])
            var desc = dnnl_convolution_desc_t()
            let strides = g.stride.map(Int64.init), dilates = g.dilation.map { Int64($0 - 1) }
            let padL = g.padding.map(Int64.init), padR = g.paddingRight.map(Int64.init)
            let prop = training ? dnnl_forward_training : dnnl_forward_inference
            if g.hasBias {
                check(dnnl_dilated_convolution_forward_desc_init(
                    &desc, prop, dnnl_convolution_direct, &src, &wei, &bias, &dst,
                    strides, dilates, padL, padR), "convolution forward desc \(g)")
            } else {
                check(dnnl_dilated_convolution_forward_desc_init(
                    &desc, prop, dnnl_convolution_direct, &src, &wei, nil, &dst,
                    strides, dilates, padL, padR), "convolution forward desc \(g)")
            }
            var pd: dnnl_primitive_desc_t?
            check(dnnl_primitive_desc_create(&pd, &desc, nil, context.engine, nil), "convolution forward pd \(g)")
            return pd!
        }
    }

    /// The backward-data primitive (`dL/dx` from `dL/dy` and the weights).
    ///
    /// `dL/dx` takes the layout the forward pass read `x` in. Left to oneDNN (`any`), a stem-like
    /// convolution (3 input channels, which the forward reads plain) would get a channel-padded
    /// nChw16c gradient, written 16/3 times over: twice slower than oneDNN's GEMM-based kernel
    /// on plain layouts, measured at 3→64 7×7/2 @224.
    static func convolutionBackwardData(_ g: ConvolutionGeometry) -> Primitive {
        let hint = convolutionForward(g, training: true)
        return context.primitive("conv.bwd-data|" + g.key) {
            var diffSrc = hint.md(dnnl_query_src_md), diffDst = anyDesc(g.destinationShape)
            var wei = anyDesc(g.weightDims)
            var desc = dnnl_convolution_desc_t()
            check(dnnl_dilated_convolution_backward_data_desc_init(
                &desc, dnnl_convolution_direct, &diffSrc, &wei, &diffDst,
                g.stride.map(Int64.init), g.dilation.map { Int64($0 - 1) },
                g.padding.map(Int64.init), g.paddingRight.map(Int64.init)), "convolution backward-data desc \(g)")
            var pd: dnnl_primitive_desc_t?
            check(dnnl_primitive_desc_create(&pd, &desc, nil, context.engine, hint.pd),
                  "convolution backward-data pd \(g)")
            return pd!
        }
    }

    /// The backward-weights primitive (`dL/dW`, and `dL/db` when `g.hasBias`, from `x` and `dL/dy`).
    static func convolutionBackwardWeights(_ g: ConvolutionGeometry) -> Primitive {
        let hint = convolutionForward(g, training: true)
        return context.primitive("conv.bwd-weights|" + g.key) {
            var src = anyDesc(g.sourceShape), diffDst = anyDesc(g.destinationShape)
            var diffWei = anyDesc(g.weightDims), diffBias = plainDesc([g.outChannels])
            var desc = dnnl_convolution_desc_t()
            let strides = g.stride.map(Int64.init), dilates = g.dilation.map { Int64($0 - 1) }
            let padL = g.padding.map(Int64.init), padR = g.paddingRight.map(Int64.init)
            if g.hasBias {
                check(dnnl_dilated_convolution_backward_weights_desc_init(
                    &desc, dnnl_convolution_direct, &src, &diffWei, &diffBias, &diffDst,
                    strides, dilates, padL, padR), "convolution backward-weights desc \(g)")
            } else {
                check(dnnl_dilated_convolution_backward_weights_desc_init(
                    &desc, dnnl_convolution_direct, &src, &diffWei, nil, &diffDst,
                    strides, dilates, padL, padR), "convolution backward-weights desc \(g)")
            }
            var pd: dnnl_primitive_desc_t?
            check(dnnl_primitive_desc_create(&pd, &desc, nil, context.engine, hint.pd),
                  "convolution backward-weights pd \(g)")
            return pd!
        }
    }

    // MARK: - Running the primitives

    /// A plain weight `[O, C/G, kernel…]` viewed with oneDNN's dims (`[G, O/G, C/G, kernel…]`).
    static func weightView(_ w: Tensor, _ g: ConvolutionGeometry) -> Tensor {
        let p = w.plain().detached()
        return g.groups == 1 ? p : Tensor(shape: g.weightDims, storage: p.storage, offset: p.offset)
    }

    /// Forward convolution. `source` may be plain or blocked; it is reordered into the
    /// primitive's layout when it differs. Returns the destination in the primitive's layout and
    /// the source as the primitive read it (kept by the caller for backward-weights).
    static func runConvolutionForward(_ g: ConvolutionGeometry, source: Tensor, weight: Tensor, bias: Tensor?,
                                      training: Bool, name: String) -> (output: Tensor, source: Tensor) {
        let prim = convolutionForward(g, training: training)
        let src = reorder(source.detached(), to: prim.md(dnnl_query_src_md))
        let wei = reorder(weightView(weight, g), to: prim.md(dnnl_query_weights_md))
        let dst = empty(g.destinationShape, prim.md(dnnl_query_dst_md))
        var args = [execArg(DNNL_ARG_SRC, src), execArg(DNNL_ARG_WEIGHTS, wei), execArg(DNNL_ARG_DST, dst)]
        if g.hasBias, let bias { args.append(execArg(DNNL_ARG_BIAS, bias.plain())) }
        KernelTrace.note(name + ".forward")
        prim.execute(args)
        return (dst, src)
    }

    /// `dL/dx` in the primitive's layout, from `dL/dy` (any layout) and the plain weight.
    static func runConvolutionBackwardData(_ g: ConvolutionGeometry, outputGradient: Tensor, weight: Tensor,
                                           name: String) -> Tensor {
        let prim = convolutionBackwardData(g)
        let diffDst = reorder(outputGradient.detached(), to: prim.md(dnnl_query_diff_dst_md))
        let wei = reorder(weightView(weight, g), to: prim.md(dnnl_query_weights_md))
        let diffSrc = empty(g.sourceShape, prim.md(dnnl_query_diff_src_md))
        KernelTrace.note(name + ".backward-data")
        prim.execute([execArg(DNNL_ARG_DIFF_DST, diffDst), execArg(DNNL_ARG_WEIGHTS, wei),
                      execArg(DNNL_ARG_DIFF_SRC, diffSrc)])
        return diffSrc
    }

    /// `dL/dW` (plain, PyTorch's weight shape) and `dL/db` when `g.hasBias`, from the source
    /// and `dL/dy` (any layouts).
    static func runConvolutionBackwardWeights(_ g: ConvolutionGeometry, source: Tensor, outputGradient: Tensor,
                                              name: String) -> (weight: Tensor, bias: Tensor?) {
        let prim = convolutionBackwardWeights(g)
        let src = reorder(source.detached(), to: prim.md(dnnl_query_src_md))
        let diffDst = reorder(outputGradient.detached(), to: prim.md(dnnl_query_diff_dst_md))
        let diffWei = empty(g.weightDims, prim.md(dnnl_query_diff_weights_md))
        var args = [execArg(DNNL_ARG_SRC, src), execArg(DNNL_ARG_DIFF_DST, diffDst),
                    execArg(DNNL_ARG_DIFF_WEIGHTS, diffWei)]
        let diffBias = g.hasBias ? Tensor(uninitialized: [g.outChannels]) : nil
        if let diffBias { args.append(execArg(DNNL_ARG_DIFF_BIAS, diffBias)) }
        KernelTrace.note(name + ".backward-weights")
        prim.execute(args)
        let plainWeight = diffWei.plain()
        return (Tensor(shape: g.weightShape, storage: plainWeight.storage, offset: plainWeight.offset), diffBias)
    }
}
