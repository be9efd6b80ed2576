import CDNNL

/// One convolution shape's three oneDNN kernels, ready to time (`lorakit bench kernels`). `package`
/// access: the Bench target of this package uses it; programs and plugins do not see it.
///
/// Every operand is prepared once in the layout its primitive uses (the convolutions' activation
/// layout, reordered weights), so a timed call runs the primitive alone: reorders are excluded,
/// as they are between layers of a model whose activations stay in that layout. Backward-data
/// runs the kernel `conv2d`'s backward runs (for stride 1 on AVX-512, a forward convolution with
/// the flipped kernel).
package final class ConvolutionBenchmark {
    /// Floating-point operations of one call of any of the three kernels: `2·N·O·H'·W'·(C/g)·kH·kW`.
    package let flops: Double
    /// oneDNN's implementation names (e.g. "jit:avx2") per kernel: forward, backward-data,
    /// backward-weights.
    package let implementations: [String]

    private let geometry: ConvolutionGeometry
    private let forwardArgs: [(Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer)]
    private let dataArgs: [(Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer)]
    private let weightArgs: [(Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer)]
    private let forwardPrimitive, dataPrimitive, weightPrimitive: DNNL.Primitive
    /// Whether backward-data runs as a forward convolution with the flipped kernel.
    private let dataByForward: Bool
    /// The buffers behind the arguments, kept alive with the benchmark.
    private let buffers: [Tensor]
    private let plainWeight: Tensor

    /// Prepares a 2-D convolution `[N, C, H, W] → [N, O, H', W']` with a square kernel.
    package init(batch: Int, inChannels: Int, outChannels: Int, size: Int, kernel: Int, stride: Int = 1,
                padding: Int = 0) {
        // The sizes come from a command line: checked here, before any oneDNN descriptor.
        do {
            _ = try Tensor.checkedConvolutionGeometry(
                input: [batch, inChannels, size, size], weight: [outChannels, inChannels, kernel, kernel], bias: nil,
                stride: [stride, stride], padding: [padding, padding], dilation: [1, 1], groups: 1,
                op: "ConvolutionBenchmark")
        } catch {
            preconditionFailure("\(error)")
        }
        let g = ConvolutionGeometry(batch: batch, inChannels: inChannels, outChannels: outChannels, groups: 1,
                                    inputSize: [size, size], kernelSize: [kernel, kernel], stride: [stride, stride],
                                    padding: [padding, padding], dilation: [1, 1], hasBias: false)
        geometry = g
        flops = g.flops
        var rng = RandomGenerator(seed: 1)
        let x = Tensor.uniform(g.sourceShape, low: -1, high: 1, generator: &rng)
        let w = Tensor.uniform(g.weightShape, low: -0.1, high: 0.1, generator: &rng)
        let dy = Tensor.uniform(g.destinationShape, low: -1, high: 1, generator: &rng)

        forwardPrimitive = DNNL.convolutionForward(g, training: true)
        weightPrimitive = DNNL.convolutionBackwardWeights(g)
        let f = forwardPrimitive, u = weightPrimitive
        let fSrc = DNNL.reorder(x, to: f.md(dnnl_query_src_md))
        let fWei = DNNL.reorder(w, to: f.md(dnnl_query_weights_md))
        let fDst = DNNL.empty(g.destinationShape, f.md(dnnl_query_dst_md))
        // Backward-data as `conv2d`'s backward runs it: a forward convolution with the flipped
        // kernel where that is faster (stride 1, brgemm), else oneDNN's backward-data kernel.
        let dDiffDst: Tensor, dWei: Tensor, dDiffSrc: Tensor
        if let t = DNNL.backwardDataByForward(g) {
            let d = DNNL.convolutionForward(t, training: true)
            dataPrimitive = d
            dDiffDst = DNNL.reorder(dy, to: d.md(dnnl_query_src_md))
            dWei = DNNL.reorder(DNNL.transposedFlippedWeight(w), to: d.md(dnnl_query_weights_md))
            dDiffSrc = DNNL.empty(g.sourceShape, d.md(dnnl_query_dst_md))
            dataArgs = [DNNL.execArg(DNNL_ARG_SRC, dDiffDst), DNNL.execArg(DNNL_ARG_WEIGHTS, dWei),
                        DNNL.execArg(DNNL_ARG_DST, dDiffSrc)]
            dataByForward = true
        } else {
            let d = DNNL.convolutionBackwardData(g)
            dataPrimitive = d
            dDiffDst = DNNL.reorder(dy, to: d.md(dnnl_query_diff_dst_md))
            dWei = DNNL.reorder(w, to: d.md(dnnl_query_weights_md))
            dDiffSrc = DNNL.empty(g.sourceShape, d.md(dnnl_query_diff_src_md))
            dataArgs = [DNNL.execArg(DNNL_ARG_DIFF_DST, dDiffDst), DNNL.execArg(DNNL_ARG_WEIGHTS, dWei),
                        DNNL.execArg(DNNL_ARG_DIFF_SRC, dDiffSrc)]
            dataByForward = false
        }
        let uSrc = DNNL.reorder(x, to: u.md(dnnl_query_src_md))
        let uDiffDst = DNNL.reorder(dy, to: u.md(dnnl_query_diff_dst_md))
        let uDiffWei = DNNL.empty(g.weightDims, u.md(dnnl_query_diff_weights_md))
        plainWeight = w
        buffers = [fSrc, fWei, fDst, dDiffDst, dWei, dDiffSrc, uSrc, uDiffDst, uDiffWei]
        forwardArgs = [DNNL.execArg(DNNL_ARG_SRC, fSrc), DNNL.execArg(DNNL_ARG_WEIGHTS, fWei),
                       DNNL.execArg(DNNL_ARG_DST, fDst)]
        weightArgs = [DNNL.execArg(DNNL_ARG_SRC, uSrc), DNNL.execArg(DNNL_ARG_DIFF_DST, uDiffDst),
                      DNNL.execArg(DNNL_ARG_DIFF_WEIGHTS, uDiffWei)]
        implementations = [f.implementation, dataPrimitive.implementation + (dataByForward ? " (as forward)" : ""),
                           u.implementation]
    }
    /// Runs the forward primitive once.
    package func forward() { forwardPrimitive.execute(forwardArgs) }
    /// Runs the backward-data primitive once.
    package func backwardData() { dataPrimitive.execute(dataArgs) }
    /// Runs the backward-weights primitive once.
    package func backwardWeights() { weightPrimitive.execute(weightArgs) }

    /// Runs the inference forward primitive (what `conv2d` uses under `withNoGrad`) on operands
    /// in its own layouts; prepared on first use.
    package func forwardInference() {
        if inference == nil {
            let g = geometry
            let p = DNNL.convolutionForward(g, training: false)
            let x = DNNL.reorder(buffers[0].plain(), to: p.md(dnnl_query_src_md))
            let w = DNNL.reorder(plainWeight, to: p.md(dnnl_query_weights_md))
            let y = DNNL.empty(g.destinationShape, p.md(dnnl_query_dst_md))
            inference = (p, [x, w, y], [DNNL.execArg(DNNL_ARG_SRC, x), DNNL.execArg(DNNL_ARG_WEIGHTS, w),
                                        DNNL.execArg(DNNL_ARG_DST, y)])
        }
        inference!.primitive.execute(inference!.args)
    }

    private var inference: (primitive: DNNL.Primitive, buffers: [Tensor],
                            args: [(Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer)])?

    /// Reorders the plain weight into the forward primitive's layout, into fresh (pooled)
    /// memory, as `conv2d` does on every call.
    package func reorderWeight() {
        _ = DNNL.reorder(plainWeight, to: forwardPrimitive.md(dnnl_query_weights_md))
    }

    /// Prepares the weight for backward-data as `conv2d`'s backward does on every call: the
    /// flip and transpose (when backward-data runs as a forward convolution) and the reorder.
    package func prepareBackwardDataWeight() {
        let w = dataByForward ? DNNL.transposedFlippedWeight(plainWeight) : plainWeight
        _ = DNNL.reorder(w, to: dataPrimitive.md(dnnl_query_weights_md))
    }

    /// Layout names oneDNN chose (source, weights, destination of the forward pass), for reports.
    package var layouts: String {
        let f = forwardPrimitive
        return [dnnl_query_src_md, dnnl_query_weights_md, dnnl_query_dst_md]
            .map { DNNL.layoutName(f.md($0)) }.joined(separator: " ")
    }
}

extension DNNL {
    /// A short human name of a layout: "plain", a permutation of the dims ("acdb" is nhwc), or
    /// with inner blocks ("aBcd16b" is nChw16c), as oneDNN's verbose output names them.
    static func layoutName(_ md: dnnl_memory_desc_t) -> String {
        let n = Int(md.ndims)
        let blocking = md.format_desc.blocking
        let strides = withUnsafeBytes(of: blocking.strides) { Array($0.bindMemory(to: Int64.self).prefix(n)) }
        let nblks = Int(blocking.inner_nblks)
        let sizes = withUnsafeBytes(of: blocking.inner_blks) { Array($0.bindMemory(to: Int64.self).prefix(nblks)) }
        let indices = withUnsafeBytes(of: blocking.inner_idxs) { Array($0.bindMemory(to: Int64.self).prefix(nblks)) }
        let letters = Array("abcdefghijkl")
        let blocked = Set(indices.map(Int.init))
        // Outer dims by decreasing stride; blocked dims upper-case.
        let order = (0..<n).sorted { strides[$0] > strides[$1] || (strides[$0] == strides[$1] && $0 < $1) }
        let outer = String(order.map { blocked.contains($0) ? Character(letters[$0].uppercased()) : letters[$0] })
        if nblks == 0 && outer == String(letters.prefix(n)) { return "plain" }
        return outer + zip(sizes, indices).map { "\($0)\(letters[Int($1)])" }.joined()
    }
}
