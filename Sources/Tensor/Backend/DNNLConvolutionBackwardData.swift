import CDNNL

/// Backward-data of a stride-1 convolution computed as a forward convolution.
///
/// For stride 1 (any padding up to the dilated kernel extent, any dilation, one group),
///
///     dL/dx = conv(dL/dy, W̃, padding: d·(k − 1) − p, dilation: d),  W̃[c, o, i, j] = W[o, c, k_h−1−i, k_w−1−j]
///
/// and oneDNN's forward brgemm kernels (AVX-512, channels-last) run it 27–75 % faster than its
/// backward-data kernel on ResNet-34's 3×3 shapes (measured at batch 8, 2 threads). Where the
/// forward kernel is not a brgemm one (AVX2), the ordinary backward-data primitive runs.
extension ConvolutionGeometry {
    /// The forward convolution that computes this one's backward-data, if it is stride 1.
    var backwardDataAsForward: ConvolutionGeometry? {
        guard groups == 1, stride.allSatisfy({ $0 == 1 }) else { return nil }
        let padding = (0..<spatialRank).map { dilation[$0] * (kernelSize[$0] - 1) - self.padding[$0] }
        guard padding.allSatisfy({ $0 >= 0 }) else { return nil }
        let t = ConvolutionGeometry(batch: batch, inChannels: outChannels, outChannels: inChannels, groups: 1,
                                    inputSize: outputSize, kernelSize: kernelSize, stride: stride, padding: padding,
                                    dilation: dilation, hasBias: false)
        return t.outputSize == inputSize ? t : nil
    }
}

extension DNNL {
    /// The forward geometry to run `g`'s backward-data with, when that is faster: stride 1 and a
    /// brgemm forward kernel for it. A trainable weight much larger than the activations
    /// (512→512 @7) stays on the backward-data kernel: there the extra pass that flips it each
    /// step costs what the faster kernel saves. A frozen one is flipped once (`flippedWeight`).
    static func backwardDataByForward(_ g: ConvolutionGeometry, weightIsFrozen: Bool = false) -> ConvolutionGeometry? {
        guard ConvolutionLayout.preferred == .channelsLast, let t = g.backwardDataAsForward,
              weightIsFrozen || !flipsLargeWeight(g) else { return nil }
        return convolutionForward(t, training: true).implementation.hasPrefix("brg") ? t : nil
    }

    /// Whether `g`'s weight is much larger than its activations (more than twice the source's
    /// elements), so that preparing it costs a noticeable part of the convolution.
    static func flipsLargeWeight(_ g: ConvolutionGeometry) -> Bool {
        g.weightShape.reduce(1, *) > 2 * g.sourceShape.reduce(1, *)
    }

    /// The flipped weight `W̃` of `weight`, laid out as `md`, for backward-data by forward.
    ///
    /// A frozen weight keeps its flipped copy beside its storage (`TensorStorage.derivedValue`):
    /// flipping and reordering ResNet-34's frozen weights cost 2–3 % of a LoRA training step
    /// (1.3–1.5 ms of a 14 ms convolution for 512→512 @7), for 81 MiB kept. The copy is dropped
    /// when the weight is written in place and freed with it. A trainable weight is flipped per
    /// call (it changes every step).
    static func flippedWeight(_ weight: Tensor, _ g: ConvolutionGeometry, md: dnnl_memory_desc_t,
                              weightIsFrozen: Bool) -> Tensor {
        let make = { reorder(transposedFlippedWeight(weight), to: md) }
        guard weightIsFrozen else { return make() }
        let packed = weight.storage.derivedValue(
            "conv-flipped|\(weight.offset)|\(weight.shape)|" + BlockedFormat.key(md),
            isValid: { (p: PackedMatrix) in p.isLaidOut(as: md) }) {
            PackedMatrix(desc: md, tensor: make())
        }
        return packed.tensor
    }

    /// `W̃[c, o, kernel reversed] = W[o, c, kernel]` for a plain `[O, C, kernel…]` weight.
    /// Hand-written: a oneDNN reorder can transpose by strides but cannot reverse the kernel.
    static func transposedFlippedWeight(_ w: Tensor) -> Tensor {
        let p = w.plain()
        let (o, c) = (p.shape[0], p.shape[1])
        let k = p.shape[2...].reduce(1, *)
        KernelTrace.note("flip-weight")
        let out = Tensor(uninitialized: [c, o] + Array(p.shape[2...]))
        let src = p.floats, dst = out.storage.floats
        parallelFor(c, grain: Swift.max(1, 16_384 / Swift.max(o * k, 1))) { c0, c1 in
            for ci in c0..<c1 {
                for oi in 0..<o {
                    let s = src + (oi * c + ci) * k, d = dst + (ci * o + oi) * k + (k - 1)
                    for r in 0..<k { d[-r] = s[r] }
                }
            }
        }
        return out
    }

    /// `destination += dL/dx` in `destination`'s memory, when backward-data runs as a forward
    /// convolution (`backwardDataByForward`) that can add into it (oneDNN's `sum` post-op) and
    /// `destination` is laid out as its output. The caller guarantees nothing else refers to
    /// that memory. Returns false, having done nothing, otherwise.
    static func runConvolutionBackwardData(_ g: ConvolutionGeometry, outputGradient: Tensor, weight: Tensor,
                                           weightIsFrozen: Bool, accumulatingInto destination: Tensor,
                                           name: String) -> Bool {
        guard destination.offset == 0, let t = backwardDataByForward(g, weightIsFrozen: weightIsFrozen),
              let prim = convolutionForwardAccumulating(t) else { return false }
        var want = prim.md(dnnl_query_dst_md), have = desc(of: destination)
        guard dnnl_memory_desc_equal(&want, &have) != 0 else { return false }
        let diffDst = reorder(outputGradient.detached(), to: prim.md(dnnl_query_src_md))
        let wei = flippedWeight(weight, g, md: prim.md(dnnl_query_weights_md), weightIsFrozen: weightIsFrozen)
        KernelTrace.note(name + ".backward-data-accumulate")
        prim.execute([execArg(DNNL_ARG_SRC, diffDst), execArg(DNNL_ARG_WEIGHTS, wei), execArg(DNNL_ARG_DST, destination)])
        return true
    }

    /// `dL/dx` in the forward source's layout, from `dL/dy` (any layout) and the plain weight.
    ///
    /// `weightIsFrozen` says that `weight` does not change between calls (it requires no gradient),
    /// so a prepared copy of it may be kept (`flippedWeight`).
    static func runConvolutionBackwardData(_ g: ConvolutionGeometry, outputGradient: Tensor, weight: Tensor,
                                           weightIsFrozen: Bool = false, name: String) -> Tensor {
        if let t = backwardDataByForward(g, weightIsFrozen: weightIsFrozen) {
            let prim = convolutionForward(t, training: true)
            let diffDst = reorder(outputGradient.detached(), to: prim.md(dnnl_query_src_md))
            let wei = flippedWeight(weight, g, md: prim.md(dnnl_query_weights_md), weightIsFrozen: weightIsFrozen)
            let diffSrc = empty(g.sourceShape, prim.md(dnnl_query_dst_md))
            KernelTrace.note(name + ".backward-data")
            prim.execute([execArg(DNNL_ARG_SRC, diffDst), execArg(DNNL_ARG_WEIGHTS, wei),
                          execArg(DNNL_ARG_DST, diffSrc)])
            return diffSrc
        }
        let prim = convolutionBackwardData(g)
        let diffDst = reorder(outputGradient.detached(), to: prim.md(dnnl_query_diff_dst_md))
        let wei = reorder(weightView(weight, g), to: prim.md(dnnl_query_weights_md))
        let diffSrc = empty(g.sourceShape, prim.md(dnnl_query_diff_src_md))
        KernelTrace.note(name + ".backward-data")
        prim.execute([execArg(DNNL_ARG_DIFF_DST, diffDst), execArg(DNNL_ARG_WEIGHTS, wei),
                      execArg(DNNL_ARG_DIFF_SRC, diffSrc)])
        return diffSrc
    }
}
