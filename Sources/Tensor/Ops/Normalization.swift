import Foundation

/// Layer normalisation and RMS normalisation over the trailing dimensions: primitives with one
/// fused Swift kernel each way (forward saves each row's mean and 1/σ; backward computes the
/// input, weight and bias gradients in one pass). Written by hand rather than with oneDNN's
/// layer_normalization so that RMS norm (which oneDNN 2.6 lacks) shares the kernel and a frozen
/// affine weight costs no weight-gradient pass.
extension Tensor {
    /// Layer normalisation (Ba et al. 2016) over the last `normalizedShape.count` dimensions:
    ///
    ///     y = (x − E[x]) / √(Var[x] + ε) ⊙ weight + bias
    ///
    /// with the mean and the biased variance taken over those dimensions, as in PyTorch's
    /// `layer_norm`.
    ///
    /// - Parameters:
    ///   - normalizedShape: the trailing dimensions to normalise over; must equal the end of `shape`.
    ///   - weight: optional scale of shape `normalizedShape` (γ).
    ///   - bias: optional shift of shape `normalizedShape` (β).
    ///   - epsilon: added to the variance.
    /// - Returns: a tensor of the input's shape.
    ///
    /// Gradients are computed only for the tensors that require them; a frozen weight or bias costs
    /// nothing, and the input is kept only if the input or the weight needs a gradient.
    public func layerNorm(normalizedShape: [Int], weight: Tensor? = nil, bias: Tensor? = nil,
                          epsilon: Float = 1e-5) -> Tensor {
        normalize(normalizedShape, weight: weight, bias: bias, epsilon: epsilon, centered: true,
                  op: "layer-norm")
    }

    /// Root-mean-square normalisation (Zhang & Sennrich 2019), as in Llama and T5:
    ///
    ///     y = x / √(mean(x²) + ε) ⊙ weight
    ///
    /// over the last `normalizedShape.count` dimensions (PyTorch's `rms_norm`; for Llama and T5
    /// `normalizedShape` is `[hiddenSize]`).
    ///
    /// - Parameters:
    ///   - normalizedShape: the trailing dimensions to normalise over; must equal the end of `shape`.
    ///   - weight: optional scale of shape `normalizedShape`.
    ///   - epsilon: added to the mean square (Llama uses 1e-5 or 1e-6, T5 1e-6).
    public func rmsNorm(normalizedShape: [Int], weight: Tensor? = nil, epsilon: Float = 1e-6) -> Tensor {
        normalize(normalizedShape, weight: weight, bias: nil, epsilon: epsilon, centered: false,
                  op: "rms-norm")
    }

    /// Shared by layer norm (`centered`) and RMS norm (mean taken as 0).
    private func normalize(_ normalizedShape: [Int], weight: Tensor?, bias: Tensor?, epsilon: Float,
                           centered: Bool, op: String) -> Tensor {
        let k = normalizedShape.count
        precondition(dtype == .float32 && (weight?.dtype ?? .float32) == .float32 && (bias?.dtype ?? .float32) == .float32,
                     "\(op): needs F32 tensors, got input \(dtype.rawValue) \(shape)")
        precondition(k >= 1 && k <= rank && Array(shape.suffix(k)) == normalizedShape,
                     "\(op): normalized shape \(normalizedShape) does not match the end of input shape \(shape)")
        if let weight {
            precondition(weight.shape == normalizedShape,
                         "\(op): weight shape \(weight.shape) must equal normalized shape \(normalizedShape)")
        }
        if let bias {
            precondition(bias.shape == normalizedShape,
                         "\(op): bias shape \(bias.shape) must equal normalized shape \(normalizedShape)")
        }
        let width = normalizedShape.reduce(1, *)
        let x = plain(), w = weight?.plain(), b = bias?.plain()
        let (y, stats) = Tensor.normalizeForward(x, width: width, weight: w, bias: b, epsilon: epsilon,
                                                 centered: centered, op: op)

        // dx needs x, the statistics and the weight; dW needs x and the statistics; dB needs nothing.
        let needX = requiresGrad, needW = weight?.requiresGrad ?? false, needB = bias?.requiresGrad ?? false
        let savedX = needX || needW ? x.detached() : nil
        let savedStats = needX || needW ? stats : nil
        let savedW = needX ? w?.detached() : nil
        var inputs = [self]
        if let weight { inputs.append(weight) }
        if let bias { inputs.append(bias) }
        let hasWeight = weight != nil, hasBias = bias != nil
        return Tensor.record(y, op: op, inputs: inputs) { g in
            let g = g.plain()
            var (dx, dw, db): (Tensor?, Tensor?, Tensor?) = (nil, nil, nil)
            if needX || needW {
                (dx, dw) = Tensor.normalizeBackward(g, x: savedX!, stats: savedStats!, width: width, weight: savedW,
                                                    needInput: needX, needWeight: needW, centered: centered, op: op)
            }
            if needB { db = Tensor.columnSums(g, width: width) }
            var grads: [Tensor?] = [dx]
            if hasWeight { grads.append(dw?.reshaped(normalizedShape)) }
            if hasBias { grads.append(db?.reshaped(normalizedShape)) }
            return grads
        }
    }
}

// MARK: - Kernels

extension Tensor {
    /// Normalises each row of `width` elements; returns the output and `[rows, 2]` statistics
    /// (mean — 0 when not centred — and 1/√(var + ε)).
    static func normalizeForward(_ x: Tensor, width: Int, weight: Tensor?, bias: Tensor?, epsilon: Float,
                                 centered: Bool, op: String) -> (Tensor, Tensor) {
        KernelTrace.note(op)
        let rows = width == 0 ? 0 : x.count / width
        let out = Tensor(uninitialized: x.shape)
        let stats = Tensor(uninitialized: [rows, 2])
        let s = x.floats, d = out.storage.floats, st = stats.storage.floats
        let pw = weight?.floats, pb = bias?.floats
        let n = Float(width)
        parallelFor(rows, grain: Swift.max(1, 16_384 / Swift.max(width, 1))) { r0, r1 in
            for r in r0..<r1 {
                let src = s + r * width, dst = d + r * width
                let mean = centered ? RowMath.sum(src, width) / n : 0
                let sq = RowMath.sum(width, { let c = load8(src, $0) - mean; return c * c },
                                     { let c = src[$0] - mean; return c * c })
                let rstd = 1 / (sq / n + epsilon).squareRoot()
                st[2 * r] = mean
                st[2 * r + 1] = rstd
                switch (pw, pb) {
                case let (w?, b?): for j in 0..<width { dst[j] = (src[j] - mean) * rstd * w[j] + b[j] }
                case let (w?, nil): for j in 0..<width { dst[j] = (src[j] - mean) * rstd * w[j] }
                case let (nil, b?): for j in 0..<width { dst[j] = (src[j] - mean) * rstd + b[j] }
                case (nil, nil): for j in 0..<width { dst[j] = (src[j] - mean) * rstd }
                }
            }
        }
        return (out, stats)
    }

    /// Gradients of the normalisation from `g`, with `x̂ = (x − mean)·rstd` and `ĝ = g ⊙ weight`:
    ///
    ///     dx = rstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ ⊙ x̂))      (RMS norm: without the mean(ĝ) term)
    ///     dweight = Σ_rows g ⊙ x̂
    static func normalizeBackward(_ g: Tensor, x: Tensor, stats: Tensor, width: Int, weight: Tensor?,
                                  needInput: Bool, needWeight: Bool, centered: Bool,
                                  op: String) -> (Tensor?, Tensor?) {
        KernelTrace.note(op + ".backward")
        let rows = width == 0 ? 0 : x.count / width
        let dx = needInput ? Tensor(uninitialized: x.shape) : nil
        let pg = g.floats, px = x.floats, st = stats.floats, pw = weight?.floats
        let pdx = dx?.storage.floats
        let n = Float(width)
        if let pdx {
            parallelFor(rows, grain: Swift.max(1, 16_384 / Swift.max(width, 1))) { r0, r1 in
                for r in r0..<r1 {
                    let gr = pg + r * width, xr = px + r * width, dr = pdx + r * width
                    let mean = st[2 * r], rstd = st[2 * r + 1]
                    if let pw {
                        let sumG = centered ? RowMath.sum(width, { load8(gr, $0) * load8(pw, $0) },
                                                          { gr[$0] * pw[$0] }) : 0
                        let sumGX = RowMath.sum(width, { load8(gr, $0) * load8(pw, $0) * (load8(xr, $0) - mean) },
                                                { gr[$0] * pw[$0] * (xr[$0] - mean) }) * rstd
                        let a = sumG / n, b = sumGX / n * rstd
                        for j in 0..<width { dr[j] = rstd * (gr[j] * pw[j] - a - (xr[j] - mean) * b) }
                    } else {
                        let sumG = centered ? RowMath.sum(gr, width) : 0
                        let sumGX = RowMath.sum(width, { load8(gr, $0) * (load8(xr, $0) - mean) },
                                                { gr[$0] * (xr[$0] - mean) }) * rstd
                        let a = sumG / n, b = sumGX / n * rstd
                        for j in 0..<width { dr[j] = rstd * (gr[j] - a - (xr[j] - mean) * b) }
                    }
                }
            }
        }
        var dw: Tensor?
        if needWeight {
            dw = accumulateRows(rows, width: width) { r, acc in
                let gr = pg + r * width, xr = px + r * width
                let mean = st[2 * r], rstd = st[2 * r + 1]
                for j in 0..<width { acc[j] += gr[j] * (xr[j] - mean) * rstd }
            }
        }
        return (dx, dw)
    }

    /// `Σ_rows g[r, :]` for plain `g` seen as `[rows, width]`.
    static func columnSums(_ g: Tensor, width: Int) -> Tensor {
        let pg = g.floats
        return accumulateRows(width == 0 ? 0 : g.count / width, width: width) { r, acc in
            let gr = pg + r * width
            for j in 0..<width { acc[j] += gr[j] }
        }
    }

    /// A `[width]` sum over rows: `add(r, acc)` adds row `r`'s contribution into `acc`. Each thread
    /// works on its own block of rows with a private accumulator; the accumulators are added last.
    static func accumulateRows(_ rows: Int, width: Int,
                               _ add: (Int, UnsafeMutablePointer<Float>) -> Void) -> Tensor {
        let chunks = Swift.max(1, Swift.min(Threads.count, rows, rows * width / 8_192))
        let partial = Tensor.zeros([chunks, width])
        let pp = partial.storage.floats
        parallelFor(chunks, grain: 1) { c0, c1 in
            for c in c0..<c1 {
                for r in (rows * c / chunks)..<(rows * (c + 1) / chunks) { add(r, pp + c * width) }
            }
        }
        let out = Tensor.zeros([width])
        let d = out.storage.floats
        for c in 0..<chunks { for j in 0..<width { d[j] += pp[c * width + j] } }
        return out
    }
}
