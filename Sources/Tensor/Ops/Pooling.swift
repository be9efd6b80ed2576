/// 2-D pooling over `[N, C, H, W]` with PyTorch's semantics (floor rounding of the output size;
/// `ceil_mode` is not supported). Max and average pooling run on oneDNN in the input's own layout,
/// so blocked activations stay blocked.
extension Tensor {
    /// Max pooling: `y[n, c, i, j] = max_{p, q} x[n, c, i·s_h − pad_h + p·d_h, j·s_w − pad_w + q·d_w]`
    /// over the positions inside the input (padding never wins).
    ///
    /// Output `[N, C, H', W']`, `H' = ⌊(H + 2·pad_h − d_h·(k_h − 1) − 1) / s_h⌋ + 1`. The backward
    /// pass routes each output gradient to the position of its maximum; the tape keeps only
    /// oneDNN's record of those positions (the workspace), not the input.
    /// - Parameters:
    ///   - kernelSize: the window.
    ///   - stride: defaults to `kernelSize`, as in PyTorch.
    ///   - padding: at most half the window.
    ///   - dilation: spacing of the window's elements (1: none).
    public func maxPool2d(kernelSize: IntPair, stride: IntPair? = nil, padding: IntPair = 0,
                          dilation: IntPair = 1) -> Tensor {
        let g = poolingGeometry(.max, kernelSize: kernelSize, stride: stride ?? kernelSize, padding: padding,
                                dilation: dilation, op: "maxPool2d")
        return Tensor.pooling(self, geometry: g, name: "maxpool2d")
    }

    /// Average pooling: the mean of each window, `y[n, c, i, j] = Σ_{p, q} x[…] / divisor`.
    ///
    /// The divisor is `k_h·k_w` when `countIncludingPadding` (PyTorch's default,
    /// `count_include_pad=True`), else the number of input elements inside the window.
    /// Output size as for `maxPool2d` (without dilation).
    public func avgPool2d(kernelSize: IntPair, stride: IntPair? = nil, padding: IntPair = 0,
                          countIncludingPadding: Bool = true) -> Tensor {
        let g = poolingGeometry(countIncludingPadding ? .averageIncludingPadding : .averageExcludingPadding,
                                kernelSize: kernelSize, stride: stride ?? kernelSize, padding: padding,
                                dilation: 1, op: "avgPool2d")
        return Tensor.pooling(self, geometry: g, name: "avgpool2d")
    }

    /// Adaptive average pooling to `outputSize` (PyTorch's `adaptive_avg_pool2d`): output
    /// `[N, C, OH, OW]`, where `y[n, c, i, j]` is the mean of `x[n, c, h, w]` over
    /// `⌊i·H/OH⌋ ≤ h < ⌈(i+1)·H/OH⌉` and likewise for `w`.
    ///
    /// When `OH` divides `H` and `OW` divides `W` (always for `[1, 1]`, the global average
    /// pool) the windows are regular and oneDNN's average pooling runs in the input's layout;
    /// otherwise a plain-layout loop does.
    public func adaptiveAvgPool2d(outputSize: IntPair) -> Tensor {
        precondition(rank == 4, "adaptiveAvgPool2d: input must be [N, C, H, W], got \(shape)")
        precondition(dtype == .float32, "adaptiveAvgPool2d: input must be F32, got \(dtype.rawValue) of shape \(shape)")
        let (h, w) = (shape[2], shape[3])
        precondition(h >= 1 && w >= 1, "adaptiveAvgPool2d: input \(shape) has an empty spatial dimension")
        precondition(outputSize.height >= 1 && outputSize.width >= 1,
                     "adaptiveAvgPool2d: output size \(outputSize) must be positive (input \(shape))")
        if h % outputSize.height == 0 && w % outputSize.width == 0 {
            let k = IntPair(h / outputSize.height, w / outputSize.width)
            let g = poolingGeometry(.averageIncludingPadding, kernelSize: k, stride: k, padding: 0, dilation: 1,
                                    op: "adaptiveAvgPool2d")
            return Tensor.pooling(self, geometry: g, name: "adaptive-avgpool2d")
        }
        return Tensor.adaptiveAveragePooling(self, outputSize: outputSize)
    }

    func poolingGeometry(_ algorithm: PoolingGeometry.Algorithm, kernelSize: IntPair, stride: IntPair,
                         padding: IntPair, dilation: IntPair, op: String) -> PoolingGeometry {
        precondition(rank == 4, "\(op): input must be [N, C, H, W], got \(shape)")
        precondition(dtype == .float32, "\(op): input must be F32, got \(dtype.rawValue) of shape \(shape)")
        precondition(kernelSize.height >= 1 && kernelSize.width >= 1 && stride.height >= 1 && stride.width >= 1
                     && dilation.height >= 1 && dilation.width >= 1,
                     "\(op): kernel \(kernelSize), stride \(stride) and dilation \(dilation) must be ≥ 1")
        precondition(padding.height >= 0 && padding.width >= 0 && 2 * padding.height <= kernelSize.height
                     && 2 * padding.width <= kernelSize.width,
                     "\(op): padding \(padding) must be between 0 and half the kernel \(kernelSize)")
        let g = PoolingGeometry(algorithm: algorithm, batch: shape[0], channels: shape[1],
                                inputSize: [shape[2], shape[3]], kernelSize: kernelSize.array,
                                stride: stride.array, padding: padding.array, dilation: dilation.array)
        precondition(g.outputSize.allSatisfy { $0 >= 1 },
                     "\(op): input \(shape) is too small for kernel \(kernelSize) with padding \(padding)")
        return g
    }

    /// Differentiable oneDNN pooling; backward needs the input's layout (and for max pooling
    /// the workspace), never the input's values.
    static func pooling(_ input: Tensor, geometry g: PoolingGeometry, name: String) -> Tensor {
        let recording = GradMode.isEnabled && input.requiresGrad
        let (out, workspace) = DNNL.runPoolingForward(g, source: input, training: recording, name: name)
        guard recording else { return out }
        let layout = DNNL.desc(of: input)
        let inputIsLeaf = input.isLeaf
        return Tensor.record(out, op: name, inputs: [input]) { gradient in
            let d = DNNL.runPoolingBackward(g, source: layout, outputGradient: gradient, workspace: workspace,
                                            name: name)
            return [inputIsLeaf ? d.plain() : d]
        }
    }

    /// Adaptive average pooling with irregular windows. Hand-written: oneDNN has no adaptive
    /// pooling, and irregular windows cannot be expressed as one regular pooling.
    static func adaptiveAveragePooling(_ input: Tensor, outputSize: IntPair) -> Tensor {
        let x = input.plain()
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (oh, ow) = (outputSize.height, outputSize.width)
        let out = Tensor(uninitialized: [n, c, oh, ow])
        let src = x.floats, dst = out.storage.floats
        KernelTrace.note("adaptive-avgpool2d.forward")
        parallelFor(n * c, grain: Swift.max(1, 16_384 / Swift.max(h * w, 1))) { p0, p1 in
            for plane in p0..<p1 {
                let s = src + plane * h * w, d = dst + plane * oh * ow
                for i in 0..<oh {
                    let h0 = i * h / oh, h1 = ((i + 1) * h + oh - 1) / oh
                    for j in 0..<ow {
                        let w0 = j * w / ow, w1 = ((j + 1) * w + ow - 1) / ow
                        var acc: Float = 0
                        for y in h0..<h1 { for xx in w0..<w1 { acc += s[y * w + xx] } }
                        d[i * ow + j] = acc / Float((h1 - h0) * (w1 - w0))
                    }
                }
            }
        }
        let inShape = x.shape
        return Tensor.record(out, op: "adaptive-avgpool2d", inputs: [input]) { gradient in
            let g = gradient.plain()
            let gi = Tensor.zeros(inShape)
            let gs = g.floats, gd = gi.storage.floats
            KernelTrace.note("adaptive-avgpool2d.backward")
            parallelFor(n * c, grain: Swift.max(1, 16_384 / Swift.max(h * w, 1))) { p0, p1 in
                for plane in p0..<p1 {
                    let s = gs + plane * oh * ow, d = gd + plane * h * w
                    for i in 0..<oh {
                        let h0 = i * h / oh, h1 = ((i + 1) * h + oh - 1) / oh
                        for j in 0..<ow {
                            let w0 = j * w / ow, w1 = ((j + 1) * w + ow - 1) / ow
                            let v = s[i * ow + j] / Float((h1 - h0) * (w1 - w0))
                            for y in h0..<h1 { for xx in w0..<w1 { d[y * w + xx] += v } }
                        }
                    }
                }
            }
            return [gi]
        }
    }
}
