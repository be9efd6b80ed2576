/// What `Tensor.batchNorm` returns: the normalised tensor and the running statistics to keep
/// for the next call (BatchNorm layers store these back into their buffers).
public struct BatchNormResult {
    /// The normalised input, same shape (and layout) as the input.
    public var output: Tensor
    /// The running mean after this call: updated in training mode, the given one in evaluation
    /// mode; nil when none was given.
    public var runningMean: Tensor?
    /// The running variance after this call (see `runningMean`).
    public var runningVar: Tensor?
}

extension Tensor {
    /// Batch normalisation over channel axis 1 of `x` (`[N, C]`, `[N, C, L]` or `[N, C, H, W]`:
    /// PyTorch's BatchNorm1d/2d), on oneDNN.
    ///
    ///     y = (x − μ_c) / √(σ²_c + ε) · γ_c + β_c
    ///
    /// In training mode μ and σ² are the batch's (mean and biased variance over every axis but 1)
    /// and the running statistics are updated as PyTorch does:
    ///
    ///     running_mean ← (1 − momentum)·running_mean + momentum·μ
    ///     running_var  ← (1 − momentum)·running_var  + momentum·σ²·n/(n − 1)   (unbiased, n = N·spatial)
    ///
    /// In evaluation mode the running statistics are used and returned unchanged; without them
    /// (`track_running_stats=False`) the batch's statistics are used in both modes.
    ///
    /// Gradients: with respect to `x` (through the batch statistics in training mode), `weight`
    /// and `bias`, each only if it requires one. In evaluation mode with a frozen `weight`, the
    /// tape keeps no copy of `x` (`dL/dx = dL/dy · γ/√(σ² + ε)` does not need it); when only `bias`
    /// requires a gradient it keeps no copy either, and backward is one sum (`dL/dβ = Σ dL/dy`).
    /// In bf16 training (`ComputePrecision.bfloat16`) the copy of `x` is kept rounded to bf16, so
    /// backward recomputes x̂ from the rounded input (with the f32 batch statistics).
    ///
    /// - Parameters:
    ///   - weight: γ, `[C]`, or nil (γ = 1).
    ///   - bias: β, `[C]`, or nil (β = 0).
    ///   - runningMean, runningVar: `[C]`, both or neither.
    ///   - training: batch statistics and running-statistics update (true) or running statistics.
    ///   - momentum: weight of the batch statistics in the running update.
    ///   - epsilon: added to the variance.
    public static func batchNorm(_ x: Tensor, weight: Tensor? = nil, bias: Tensor? = nil,
                                 runningMean: Tensor? = nil, runningVar: Tensor? = nil, training: Bool,
                                 momentum: Float = 0.1, epsilon: Float = 1e-5) -> BatchNormResult {
        precondition(x.rank >= 2 && x.rank <= 5, "batchNorm: input must be [N, C, …] (rank 2 to 5), got \(x.shape)")
        precondition(x.dtype == .float32, "batchNorm: input must be F32, got \(x.dtype.rawValue) of shape \(x.shape)")
        let c = x.shape[1]
        precondition(c >= 1, "batchNorm: input \(x.shape) has no channels")
        for (name, t) in [("weight", weight), ("bias", bias), ("runningMean", runningMean), ("runningVar", runningVar)] {
            if let t {
                precondition(t.shape == [c] && t.dtype == .float32,
                             "batchNorm: \(name) must be F32 [\(c)] for input \(x.shape), got \(t.dtype.rawValue) \(t.shape)")
            }
        }
        precondition((runningMean == nil) == (runningVar == nil), "batchNorm: give both running statistics or neither")
        let batchStatistics = training || runningMean == nil
        let perChannel = x.count / Swift.max(c, 1)
        precondition(!batchStatistics || perChannel > 1,
                     "batchNorm: batch statistics need more than one value per channel, input is \(x.shape)")

        let g = BatchNormGeometry(shape: x.shape, epsilon: epsilon, hasScale: weight != nil, hasShift: bias != nil,
                                  globalStatistics: !batchStatistics)
        let needsInput = x.requiresGrad
        let needsWeight = weight?.requiresGrad ?? false
        let needsBias = bias?.requiresGrad ?? false
        let recording = GradMode.isEnabled && (needsInput || needsWeight || needsBias)

        let mean = batchStatistics ? Tensor(uninitialized: [c]) : runningMean!.plain().detached()
        let variance = batchStatistics ? Tensor(uninitialized: [c]) : runningVar!.plain().detached()
        let scale = weight?.plain().detached(), shift = bias?.plain().detached()
        // dL/dγ needs x; dL/dx needs it only with batch statistics. In bf16 training x is kept
        // rounded to bf16 (half the memory): with batch statistics on a channels-last input, its
        // copy is written by the forward pass itself.
        let keepsX = recording && ((batchStatistics && needsInput) || needsWeight)
        let keptInBF16 = keepsX && DNNL.keepsActivationsInBF16
        let fused = keptInBF16 && batchStatistics
            ? DNNL.runBatchNormForwardKeepingBF16(g, source: x, scale: scale, shift: shift, mean: mean, variance: variance)
            : nil
        let out = fused?.output
            ?? DNNL.runBatchNormForward(g, source: x, scale: scale, shift: shift, mean: mean, variance: variance,
                                        training: batchStatistics || recording)

        var result = BatchNormResult(output: out, runningMean: runningMean, runningVar: runningVar)
        if training, let rm = runningMean, let rv = runningVar {
            let unbiased = Float(perChannel) / Float(perChannel - 1)
            withNoGrad {
                result.runningMean = rm.detached() * (1 - momentum) + mean * momentum
                result.runningVar = rv.detached() * (1 - momentum) + variance * (momentum * unbiased)
            }
        }
        guard recording else { return result }

        var inputs = [x]
        if let weight { inputs.append(weight) }
        if let bias { inputs.append(bias) }
        let hasWeight = weight != nil, hasBias = bias != nil
        if !needsInput && !needsWeight {
            // Only β trains (BitFit, a frozen network's biases): dL/dβ = Σ dL/dy over every axis but
            // 1. oneDNN's backward would also compute dL/dx and dL/dγ, and need x kept for them.
            let axes = [0] + Array(2..<x.rank)
            result.output = Tensor.record(out, op: "batchnorm", inputs: inputs) { gradient in
                let gb = gradient.plain().detached().sum(axes: axes)
                return hasWeight ? [nil, nil, gb] : [nil, gb]
            }
            return result
        }

        let source = keepsX && !keptInBF16 ? x.detached() : nil
        let keptBF16 = keptInBF16 ? fused?.kept ?? DNNL.keepInBF16(x.detached()) : nil
        let layout = DNNL.desc(of: x)
        let inputIsLeaf = x.isLeaf
        result.output = Tensor.record(out, op: "batchnorm", inputs: inputs) { gradient in
            // Without a kept x (global statistics, frozen γ), oneDNN's dL/dx does not read x's
            // values: dL/dy stands in for it, and dL/dγ (which would read it) is discarded.
            // An x kept in bf16 is read as it is where the layout allows, else decoded.
            let (gx, gw, gb) = keptBF16.flatMap {
                DNNL.runBatchNormBackwardKeptBF16(g, kept: $0, outputGradient: gradient, scale: scale, mean: mean,
                                                  variance: variance)
            } ?? DNNL.runBatchNormBackward(
                g, layout: layout, source: source ?? keptBF16?.decoded() ?? gradient, outputGradient: gradient, scale: scale, shift: shift,
                mean: mean, variance: variance)
            var grads: [Tensor?] = [needsInput ? (inputIsLeaf ? gx.plain() : gx) : nil]
            if hasWeight { grads.append(needsWeight ? gw : nil) }
            if hasBias { grads.append(needsBias ? gb : nil) }
            return grads
        }
        return result
    }
}
