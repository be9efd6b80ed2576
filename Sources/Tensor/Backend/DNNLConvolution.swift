import CDNNL
import Foundation

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

    /// For messages: the three shapes and the options.
    var description: String {
        "input \(sourceShape), weight \(weightShape), output \(destinationShape), stride \(stride), "
            + "padding \(padding), dilation \(dilation), groups \(groups)\(hasBias ? ", bias" : "")"
    }
}

/// The activation layouts convolutions ask oneDNN for: one family per process, so that every
/// convolution's output is the next one's input layout and no reorder runs between layers.
enum ConvolutionLayout: String {
    /// `format_tag any`: oneDNN's choice, nChw8c / nChw16c for its direct JIT kernels.
    case chosen
    /// Channels-last (nhwc), for oneDNN's brgemm kernels (AVX-512). Measured on ResNet-34's
    /// shapes at batch 8, 2 threads, against nChw16c: forward 6–35 % faster, backward-weights
    /// 20–80 % faster, backward-data equal (stride-1 backward-data then runs as a forward
    /// convolution: `DNNLConvolutionBackwardData.swift`).
    case channelsLast

    /// Channels-last where oneDNN runs a brgemm forward kernel on it (AVX-512), else its choice.
    static let preferred: ConvolutionLayout = {
        let g = ConvolutionGeometry(batch: 8, inChannels: 64, outChannels: 64, groups: 1, inputSize: [56, 56],
                                    kernelSize: [3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1],
                                    hasBias: false)
        guard let pd = DNNL.convolutionForwardPD(g, layout: .channelsLast, training: true).pd else { return .chosen }
        defer { dnnl_primitive_desc_destroy(pd) }
        var p: UnsafePointer<CChar>?
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &p)
        return p.map { String(cString: $0).hasPrefix("brg") } == true ? .channelsLast : .chosen
    }()

    /// The descriptor of an activation `[N, C, spatial…]` in this layout, of element type `type`.
    func desc(_ shape: [Int], type: dnnl_data_type_t = dnnl_f32) -> dnnl_memory_desc_t {
        switch self {
        case .chosen: return DNNL.anyDesc(shape, type: type)
        case .channelsLast: return DNNL.channelsLastDesc(shape, type: type)
        }
    }
}

extension DNNL {
    /// `[N, C, spatial…]` with channels innermost (nwc, nhwc).
    static func channelsLastDesc(_ shape: [Int], type: dnnl_data_type_t = dnnl_f32) -> dnnl_memory_desc_t {
        var strides = [Int](repeating: 0, count: shape.count)
        strides[1] = 1
        var step = shape[1]
        for axis in stride(from: shape.count - 1, through: 2, by: -1) {
            strides[axis] = step
            step *= shape[axis]
        }
        strides[0] = step
        var md = dnnl_memory_desc_t()
        check(dnnl_memory_desc_init_by_strides(&md, Int32(shape.count), shape.map(Int64.init), type,
                                               strides.map(Int64.init)), "channels-last md \(type.rawValue)\(shape)")
        return md
    }

    /// A primitive descriptor, or the status of the failed attempt to create one (`unimplemented`
    /// when oneDNN has no implementation, `out_of_memory`, …).
    struct DescriptorAttempt {
        let pd: dnnl_primitive_desc_t?
        let status: dnnl_status_t
    }

    /// Creates a primitive descriptor; its `pd` is nil when oneDNN has no implementation.
    static func createPD(_ desc: UnsafeRawPointer, hint: dnnl_primitive_desc_t?,
                                 attributes: dnnl_primitive_attr_t? = nil) -> DescriptorAttempt {
        var pd: dnnl_primitive_desc_t?
        let status = dnnl_primitive_desc_create(&pd, desc, attributes, context.engine, hint)
        return DescriptorAttempt(pd: status == dnnl_success ? pd : nil, status: status)
    }

    /// Whether a primitive descriptor fell back to oneDNN's reference kernels (scalar loops,
    /// hundreds of times slower: seen for plain source with channels-last destination).
    static func isReference(_ pd: dnnl_primitive_desc_t) -> Bool {
        var p: UnsafePointer<CChar>?
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &p)
        return p.map { String(cString: $0).hasPrefix("ref") } ?? true
    }

    /// Tries `layout` first, then oneDNN's own choice when `layout` has no implementation or
    /// only a reference one.
    /// Stops the program, naming the status, when neither layout has an implementation.
    private static func withFallback(_ what: String, _ g: ConvolutionGeometry, layout: ConvolutionLayout,
                                     _ make: (ConvolutionLayout) -> DescriptorAttempt) -> dnnl_primitive_desc_t {
        if layout != .chosen, let pd = make(layout).pd {
            if !isReference(pd) { return pd }
            dnnl_primitive_desc_destroy(pd)
        }
        let attempt = make(.chosen)
        guard let pd = attempt.pd else {
            check(attempt.status == dnnl_success ? dnnl_runtime_error : attempt.status,
                  "primitive_desc_create of \(what) for \(g)")
            fatalError("unreachable: oneDNN \(what) for \(g) has no primitive descriptor")
        }
        return pd
    }

    /// The forward convolution of `g` in `layout`; `operands` is the element type of source and
    /// weights (f32, or bf16 with the f32 destination and bias of `DNNLBF16.swift`).
    static func convolutionForwardPD(_ g: ConvolutionGeometry, layout: ConvolutionLayout, training: Bool,
                                     attributes: dnnl_primitive_attr_t? = nil,
                                     operands: dnnl_data_type_t = dnnl_f32) -> DescriptorAttempt {
        var src = layout.desc(g.sourceShape, type: operands), dst = layout.desc(g.destinationShape)
        var wei = anyDesc(g.weightDims, type: operands), bias = plainDesc([g.outChannels])
        var desc = dnnl_convolution_desc_t()
        let prop = training ? dnnl_forward_training : dnnl_forward_inference
        let status = withUnsafeMutablePointer(to: &bias) { biasPointer in
            dnnl_dilated_convolution_forward_desc_init(
                &desc, prop, dnnl_convolution_direct, &src, &wei, g.hasBias ? biasPointer : nil, &dst,
                g.stride.map(Int64.init), g.dilation.map { Int64($0 - 1) },
                g.padding.map(Int64.init), g.paddingRight.map(Int64.init))
        }
        check(status, "convolution forward desc init for \(g)")
        return createPD(&desc, hint: nil, attributes: attributes)
    }

    /// The forward convolution primitive for `g`, in the preferred layout family
    /// (`ConvolutionLayout.preferred`); the weights' layout is always oneDNN's choice.
    /// - Parameter training: `forward_training` (the hint of the backward primitives) or
    ///   `forward_inference`.
    static func convolutionForward(_ g: ConvolutionGeometry, training: Bool) -> Primitive {
        let key = "conv.fwd|\(training ? "train" : "infer")|" + g.key
        return context.primitive(key, name: "convolution forward (\(training ? "training" : "inference")) for \(g)") {
            withFallback("convolution forward", g, layout: .preferred) {
                convolutionForwardPD(g, layout: $0, training: training)
            }
        }
    }

    /// The layout family the training forward primitive of `g` ended up with.
    static func layout(of forward: Primitive, _ g: ConvolutionGeometry) -> ConvolutionLayout {
        var a = forward.md(dnnl_query_src_md), b = channelsLastDesc(g.sourceShape, type: a.data_type)
        return dnnl_memory_desc_equal(&a, &b) != 0 ? .channelsLast : .chosen
    }

    /// The backward-weights descriptor of `g`: source and output gradient of `type` in `layout`,
    /// weight gradient in oneDNN's choice of layout and bias gradient plain, both f32.
    static func backwardWeightsDesc(_ g: ConvolutionGeometry, layout: ConvolutionLayout,
                                    type: dnnl_data_type_t = dnnl_f32) -> (dnnl_status_t, dnnl_convolution_desc_t) {
        var src = layout.desc(g.sourceShape, type: type), diffDst = layout.desc(g.destinationShape, type: type)
        var diffWei = anyDesc(g.weightDims), diffBias = plainDesc([g.outChannels])
        var desc = dnnl_convolution_desc_t()
        let status = withUnsafeMutablePointer(to: &diffBias) { biasPointer in
            dnnl_dilated_convolution_backward_weights_desc_init(
                &desc, dnnl_convolution_direct, &src, &diffWei, g.hasBias ? biasPointer : nil, &diffDst,
                g.stride.map(Int64.init), g.dilation.map { Int64($0 - 1) },
                g.padding.map(Int64.init), g.paddingRight.map(Int64.init))
        }
        return (status, desc)
    }

    /// The backward-data primitive (`dL/dx` from `dL/dy` and the weights).
    ///
    /// `dL/dx` takes the layout the forward pass read `x` in, except with fewer than 8 input
    /// channels (a stem reading an image): there it is plain, which lets oneDNN run its GEMM
    /// kernel: 3→64 7×7/2 @224 measured 2–3.5× faster than with nChw16c (channel-padded) or nhwc.
    static func convolutionBackwardData(_ g: ConvolutionGeometry) -> Primitive {
        let hint = convolutionForward(g, training: true)
        return context.primitive("conv.bwd-data|" + g.key, name: "convolution backward-data for \(g)") {
            let small = g.inChannels < 8
            return withFallback("convolution backward-data", g, layout: small ? .chosen : layout(of: hint, g)) { l in
                var diffSrc = small ? plainDesc(g.sourceShape) : hint.md(dnnl_query_src_md)
                var diffDst = l.desc(g.destinationShape), wei = anyDesc(g.weightDims)
                var desc = dnnl_convolution_desc_t()
                check(dnnl_dilated_convolution_backward_data_desc_init(
                    &desc, dnnl_convolution_direct, &diffSrc, &wei, &diffDst,
                    g.stride.map(Int64.init), g.dilation.map { Int64($0 - 1) },
                    g.padding.map(Int64.init), g.paddingRight.map(Int64.init)), "convolution backward-data desc init for \(g)")
                return createPD(&desc, hint: hint.pd)
            }
        }
    }

    /// The backward-weights primitive (`dL/dW`, and `dL/db` when `g.hasBias`, from `x` and `dL/dy`).
    static func convolutionBackwardWeights(_ g: ConvolutionGeometry) -> Primitive {
        let hint = convolutionForward(g, training: true)
        return context.primitive("conv.bwd-weights|" + g.key, name: "convolution backward-weights for \(g)") {
            withFallback("convolution backward-weights", g, layout: layout(of: hint, g)) { l in
                let (status, made) = backwardWeightsDesc(g, layout: l)
                var desc = made
                check(status, "convolution backward-weights desc init for \(g)")
                return createPD(&desc, hint: hint.pd)
            }
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

    /// The forward convolution of `g` that adds its result to what its destination holds
    /// (oneDNN's `sum` post-op), in the preferred layout family; nil when oneDNN has no
    /// optimised kernel for it there.
    static func convolutionForwardAccumulating(_ g: ConvolutionGeometry) -> Primitive? {
        let key = g.key
        accumulating.lock.lock()
        if let known = accumulating.primitives[key] { accumulating.lock.unlock(); return known }
        accumulating.lock.unlock()
        let attributes = sumPostOpAttributes()
        defer { dnnl_primitive_attr_destroy(attributes) }
        let pd = convolutionForwardPD(g, layout: .preferred, training: true, attributes: attributes).pd
        var prim: Primitive?
        if let pd {
            if isReference(pd) {
                dnnl_primitive_desc_destroy(pd)
            } else {
                prim = Primitive(pd, name: "accumulating convolution forward for \(g)")
            }
        }
        accumulating.lock.lock()
        accumulating.primitives[key] = .some(prim)
        accumulating.lock.unlock()
        return prim
    }

    /// Accumulating forward convolutions by geometry (nil: oneDNN has no optimised kernel).
    private final class AccumulatingPrimitives: @unchecked Sendable {
        let lock = NSLock()
        var primitives: [String: Primitive?] = [:]
    }
    private static let accumulating = AccumulatingPrimitives()

    /// `destination += conv(source, weight)` in `destination`'s memory, which must be laid out as
    /// the accumulating primitive's destination and belong to nobody else. Returns the source as
    /// the primitive read it (kept by the caller for backward-weights), or nil when there is no
    /// such primitive or `destination`'s layout differs (the caller then adds by itself).
    static func runConvolutionForwardAccumulating(_ g: ConvolutionGeometry, source: Tensor, weight: Tensor,
                                                  into destination: Tensor, name: String) -> Tensor? {
        guard let prim = convolutionForwardAccumulating(g) else { return nil }
        var want = prim.md(dnnl_query_dst_md), have = desc(of: destination)
        guard dnnl_memory_desc_equal(&want, &have) != 0 else { return nil }
        let src = reorder(source.detached(), to: prim.md(dnnl_query_src_md))
        let wei = reorder(weightView(weight, g), to: prim.md(dnnl_query_weights_md))
        KernelTrace.note(name + ".forward-accumulate")
        prim.execute([execArg(DNNL_ARG_SRC, src), execArg(DNNL_ARG_WEIGHTS, wei), execArg(DNNL_ARG_DST, destination)])
        return src
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
