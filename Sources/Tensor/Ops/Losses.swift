import Foundation

/// Loss functions. Cross-entropy (fused log-softmax + negative log-likelihood) and binary
/// cross-entropy with logits are primitives whose kernels produce per-element losses; the
/// reduction is then composed from `sum` and a scalar factor, so it needs no backward of its own.

/// How a loss combines its per-element values, as PyTorch's `reduction`.
public enum LossReduction: String, Sendable, CaseIterable {
    /// The weighted mean (see each loss for the divisor).
    case mean
    /// The sum.
    case sum
    /// The per-element losses, unreduced.
    case none
}

// MARK: - Cross-entropy with class indices

/// Cross-entropy between logits and class indices, as PyTorch's `cross_entropy`.
///
/// For a row with logits `x`, target class `y`, `log p = logSoftmax(x)`, class weights `w` (1 when
/// absent), `C` classes and label smoothing `ε`:
///
///     loss = (1 − ε) · w[y] · (−log p[y]) + (ε / C) · Σ_c w[c] · (−log p[c])
///
/// Rows whose target is `ignoreIndex` have loss 0 and no gradient. `.mean` divides the sum by
/// `Σ w[y]` over the rows not ignored (their count when there are no weights) — PyTorch's divisor
/// for hard targets, including with label smoothing.
///
/// If every row is ignored (or the divisor is otherwise 0), `.mean` gives 0 with zero gradients,
/// where PyTorch gives NaN: a batch made only of padding then leaves the weights unchanged rather
/// than poisoning them.
///
/// - Parameters:
///   - logits: `[N, C]`, `[N, C, d1, …]` (class dimension 1, as PyTorch) or `[C]` (one sample).
///   - targets: class indices of shape `[N]`, `[N, d1, …]` or `[]`, any integer dtype (e.g.
///     `Tensor(shape:indices:)`). Each must lie in `0..<C` or equal `ignoreIndex`; anything else stops
///     the program with a message naming the index and `C` (checked in release builds too). To
///     handle bad labels as an error instead, call `validateClassTargets` first.
///   - weights: optional class weights `[C]`, treated as constants (no gradient).
///   - ignoreIndex: the target value marking rows to skip (PyTorch's default −100).
///   - labelSmoothing: `ε` in `[0, 1]`.
///   - reduction: `.mean`, `.sum` or `.none` (`.none` gives the targets' shape).
public func crossEntropy(logits: Tensor, targets: Tensor, weights: Tensor? = nil, ignoreIndex: Int = -100,
                         labelSmoothing: Float = 0, reduction: LossReduction = .mean) -> Tensor {
    let layout = ClassLayout(logits: logits.shape)
    precondition(logits.dtype == .float32, "crossEntropy: logits must be F32, got \(logits.dtype.rawValue) \(logits.shape)")
    precondition(targets.shape == layout.targetShape,
                 "crossEntropy: targets of shape \(targets.shape) do not match logits \(logits.shape) (expected \(layout.targetShape))")
    precondition(labelSmoothing >= 0 && labelSmoothing <= 1,
                 "crossEntropy: label smoothing must lie in [0, 1], got \(labelSmoothing)")
    let classes = layout.classes
    let w = weights.map { weightValues($0, classes: classes, loss: "crossEntropy") }
    let labels = targets.indexScalars
    var divisor = 0.0
    for label in labels where label != ignoreIndex {
        if label < 0 || label >= classes {
            fatalError("crossEntropy: target class \(label) is out of range 0..<\(classes) (ignoreIndex is \(ignoreIndex))")
        }
        divisor += w.map { Double($0[label]) } ?? 1
    }
    let perRow = Tensor.crossEntropyRows(logits, labels: labels, layout: layout, weights: w,
                                         ignoreIndex: ignoreIndex, smoothing: labelSmoothing)
    return reduce(perRow, reduction, meanDivisor: divisor)
}

/// Checks that every target is a class in `0..<classCount` or `ignoreIndex`, for labels that come
/// from user data and should be reported rather than stop the program.
/// - Throws: `TensorError.indexOutOfRange` naming the first bad target and the class count.
public func validateClassTargets(_ targets: Tensor, classCount: Int, ignoreIndex: Int = -100) throws {
    for label in targets.indexScalars where label != ignoreIndex && (label < 0 || label >= classCount) {
        throw TensorError.indexOutOfRange(operation: "crossEntropy targets", index: label, bound: classCount)
    }
}

// MARK: - Cross-entropy with class probabilities

/// Cross-entropy between logits and target distributions ("soft" targets), as PyTorch's
/// `cross_entropy` with probability targets:
///
///     t' = (1 − ε) · t + ε / C,    loss = −Σ_c w[c] · t'[c] · log p[c]
///
/// `.mean` divides by the number of rows (`N · d1 · …`), not by the weights (as PyTorch).
///
/// - Parameters:
///   - logits: `[N, C]`, `[N, C, d1, …]` or `[C]`.
///   - probabilities: targets of the logits' shape; rows should sum to 1. They receive a gradient
///     when they require one (`−(1 − ε) · w[c] · log p[c]`).
///   - weights: optional class weights `[C]`, constants.
///   - labelSmoothing: `ε` in `[0, 1]`.
///   - reduction: `.none` gives the logits' shape without the class dimension.
public func crossEntropy(logits: Tensor, probabilities: Tensor, weights: Tensor? = nil,
                         labelSmoothing: Float = 0, reduction: LossReduction = .mean) -> Tensor {
    let layout = ClassLayout(logits: logits.shape)
    precondition(logits.dtype == .float32 && probabilities.dtype == .float32,
                 "crossEntropy: logits and probabilities must be F32, got \(logits.dtype.rawValue) and \(probabilities.dtype.rawValue)")
    precondition(probabilities.shape == logits.shape,
                 "crossEntropy: probabilities of shape \(probabilities.shape) must match logits \(logits.shape)")
    precondition(labelSmoothing >= 0 && labelSmoothing <= 1,
                 "crossEntropy: label smoothing must lie in [0, 1], got \(labelSmoothing)")
    let w = weights.map { weightValues($0, classes: layout.classes, loss: "crossEntropy") }
    let perRow = Tensor.softCrossEntropyRows(logits, probabilities, layout: layout, weights: w,
                                             smoothing: labelSmoothing)
    return reduce(perRow, reduction, meanDivisor: Double(layout.rows.count))
}

// MARK: - Binary cross-entropy and MSE

/// Binary cross-entropy on logits (sigmoid folded in, numerically stable), as PyTorch's
/// `binary_cross_entropy_with_logits`:
///
///     loss = −weight · [posWeight · y · log σ(x) + (1 − y) · log(1 − σ(x))]
///          = weight · [(1 − y) · x + (1 + (posWeight − 1) · y) · softplus(−x)]
///
/// with `softplus(−x) = max(−x, 0) + log(1 + e^(−|x|))`, which never overflows.
///
/// - Parameters:
///   - logits: any shape.
///   - targets: the logits' shape, values in `[0, 1]`.
///   - weights: optional element weights broadcasting to the logits' shape.
///   - posWeight: optional weight of positive examples, broadcasting to the logits' shape (usually
///     `[classes]`, matched against the last dimension).
///   - reduction: `.mean` divides by the element count.
/// Every input that requires a gradient gets one.
public func binaryCrossEntropyWithLogits(logits: Tensor, targets: Tensor, weights: Tensor? = nil,
                                         posWeight: Tensor? = nil, reduction: LossReduction = .mean) -> Tensor {
    precondition(targets.shape == logits.shape,
                 "binaryCrossEntropyWithLogits: targets \(targets.shape) must match logits \(logits.shape)")
    precondition(logits.dtype == .float32 && targets.dtype == .float32,
                 "binaryCrossEntropyWithLogits: logits and targets must be F32, got \(logits.dtype.rawValue) and \(targets.dtype.rawValue)")
    for (name, t) in [("weights", weights), ("posWeight", posWeight)] {
        if let t {
            precondition(Broadcast.shape(t.shape, logits.shape) == logits.shape,
                         "binaryCrossEntropyWithLogits: \(name) \(t.shape) does not broadcast to logits \(logits.shape)")
        }
    }
    let perElement = Tensor.binaryCrossEntropyElements(logits, targets, weights: weights, posWeight: posWeight)
    return reduce(perElement, reduction, meanDivisor: Double(logits.count))
}

/// Mean squared error `(prediction − target)²`, composed from subtraction and product.
/// - Parameters:
///   - predictions, targets: tensors of the same shape.
///   - reduction: `.mean` divides by the element count.
public func mseLoss(predictions: Tensor, targets: Tensor, reduction: LossReduction = .mean) -> Tensor {
    precondition(predictions.shape == targets.shape,
                 "mseLoss: predictions \(predictions.shape) and targets \(targets.shape) differ")
    let d = predictions - targets
    return reduce(d * d, reduction, meanDivisor: Double(predictions.count))
}

// MARK: - Helpers

/// Sums per-element losses (`.sum`), divides the sum by `meanDivisor` (`.mean`; 0 when the divisor
/// is 0), or returns them (`.none`).
private func reduce(_ losses: Tensor, _ reduction: LossReduction, meanDivisor: Double) -> Tensor {
    switch reduction {
    case .none: return losses
    case .sum: return losses.sum()
    case .mean: return losses.sum().scaled(by: meanDivisor == 0 ? 0 : Float(1 / meanDivisor))
    }
}

private func weightValues(_ weights: Tensor, classes: Int, loss: String) -> [Float] {
    precondition(weights.shape == [classes],
                 "\(loss): class weights of shape \(weights.shape) must be [\(classes)]")
    return weights.scalars
}

/// Logits seen as rows of classes: `[N, C, d…]` has `N · d…` rows of `C` elements `d…` apart.
struct ClassLayout {
    let rows: AxisRows
    let targetShape: [Int]
    var classes: Int { rows.length }

    init(logits shape: [Int]) {
        precondition(!shape.isEmpty, "crossEntropy needs logits of rank ≥ 1, got a scalar")
        let axis = shape.count == 1 ? 0 : 1
        rows = AxisRows(shape: shape, axis: axis)
        var t = shape
        t.remove(at: axis)
        targetShape = t
    }
}

// MARK: - Kernels

extension Tensor {
    /// Per-row smoothed, weighted negative log-likelihood of `logits` (`[rows]` shaped like the
    /// targets). Backward (`g` per row, `p = softmax`, `W = Σ_c w[c]`):
    ///
    ///     dx[c] = g · ((1 − ε) · w[y] · (p[c] − δ[c, y]) + (ε / C) · (W · p[c] − w[c]))
    static func crossEntropyRows(_ logits: Tensor, labels: [Int], layout: ClassLayout, weights: [Float]?,
                                 ignoreIndex: Int, smoothing: Float) -> Tensor {
        KernelTrace.note("cross-entropy")
        let x = logits.plain()
        let rows = layout.rows, c = rows.length, st = rows.stride
        let losses = Tensor(uninitialized: layout.targetShape)
        let lse = Tensor(uninitialized: [rows.count])
        let px = x.floats, pl = losses.storage.floats, plse = lse.storage.floats
        let eps = smoothing, smooth = smoothing / Float(c)
        let totalWeight = weights.map { $0.reduce(0, +) } ?? Float(c)
        labels.withUnsafeBufferPointer { y in
            withOptionalBuffer(weights) { w in
                parallelFor(rows.count, grain: rows.grain) { r0, r1 in
                    for r in r0..<r1 {
                        let label = y[r]
                        if label == ignoreIndex { pl[r] = 0; plse[r] = 0; continue }
                        let xr = px + rows.start(r)
                        let (m, logSum) = maxAndLogSumExp(xr, count: c, stride: st)
                        plse[r] = m + logSum
                        // −log p[k] = (m − x[k]) + log Σ: exact for the largest logit even at 1000.
                        let wy = w.map { $0[label] } ?? 1
                        var loss = (1 - eps) * wy * ((m - xr[label * st]) + logSum)
                        if eps > 0 {
                            // Σ_k w[k] (−log p[k]) = Σ_k w[k] (m − x[k]) + W · log Σ
                            loss += smooth * (weightedGap(xr, w, count: c, stride: st, max: m)
                                              + totalWeight * logSum)
                        }
                        pl[r] = loss
                    }
                }
            }
        }
        let saved = x.detached()
        return Tensor.record(losses, op: "cross-entropy", inputs: [logits]) { g in
            KernelTrace.note("cross-entropy.backward")
            let g = g.plain()
            let dx = Tensor(uninitialized: saved.shape)
            let px = saved.floats, pg = g.floats, pd = dx.storage.floats, plse = lse.floats
            labels.withUnsafeBufferPointer { y in
                withOptionalBuffer(weights) { w in
                    parallelFor(rows.count, grain: rows.grain) { r0, r1 in
                        for r in r0..<r1 {
                            let o = rows.start(r)
                            let xr = px + o, dr = pd + o
                            let label = y[r]
                            if label == ignoreIndex || pg[r] == 0 {
                                for k in 0..<c { dr[k * st] = 0 }
                                continue
                            }
                            let gr = pg[r], l = plse[r]
                            let hard = gr * (1 - eps) * (w.map { $0[label] } ?? 1)
                            let soft = gr * smooth
                            // dx[k] = (hard + soft·W) · p[k] − soft · w[k], then − hard at the target.
                            let a = hard + soft * totalWeight
                            // Written once, specialised for contiguous rows (stride 1) so it vectorises.
                            @inline(__always) func fill(_ st: Int) {
                                if let w {
                                    for k in 0..<c { dr[k * st] = a * fastExp(xr[k * st] - l) - soft * w[k] }
                                } else {
                                    for k in 0..<c { dr[k * st] = a * fastExp(xr[k * st] - l) - soft }
                                }
                            }
                            if st == 1 { fill(1) } else { fill(st) }
                            dr[label * st] -= hard
                        }
                    }
                }
            }
            return [dx]
        }
    }

    /// Per-row cross-entropy against target distributions. Backward (`g` per row, `t'` smoothed):
    ///
    ///     dx[c] = g · (p[c] · Σ_k w[k] t'[k] − w[c] t'[c]),   dt[c] = −g · (1 − ε) · w[c] · log p[c]
    static func softCrossEntropyRows(_ logits: Tensor, _ targets: Tensor, layout: ClassLayout,
                                     weights: [Float]?, smoothing: Float) -> Tensor {
        KernelTrace.note("soft-cross-entropy")
        let x = logits.plain(), t = targets.plain()
        let rows = layout.rows, c = rows.length, st = rows.stride
        let losses = Tensor(uninitialized: layout.targetShape)
        let lse = Tensor(uninitialized: [rows.count])
        let px = x.floats, pt = t.floats, pl = losses.storage.floats, plse = lse.storage.floats
        let keep = 1 - smoothing, uniform = smoothing / Float(c)
        withOptionalBuffer(weights) { w in
            parallelFor(rows.count, grain: rows.grain) { r0, r1 in
                for r in r0..<r1 {
                    let o = rows.start(r)
                    let xr = px + o, tr = pt + o
                    let (m, logSum) = maxAndLogSumExp(xr, count: c, stride: st)
                    plse[r] = m + logSum
                    var loss: Float = 0
                    for k in 0..<c {
                        let tk = keep * tr[k * st] + uniform
                        loss += (w.map { $0[k] } ?? 1) * tk * ((m - xr[k * st]) + logSum)
                    }
                    pl[r] = loss
                }
            }
        }
        let needX = logits.requiresGrad, needT = targets.requiresGrad
        let savedX = x.detached(), savedT = needX ? t.detached() : nil
        return Tensor.record(losses, op: "soft-cross-entropy", inputs: [logits, targets]) { g in
            KernelTrace.note("soft-cross-entropy.backward")
            let g = g.plain()
            let dx = needX ? Tensor(uninitialized: savedX.shape) : nil
            let dt = needT ? Tensor(uninitialized: savedX.shape) : nil
            let px = savedX.floats, pt = savedT?.floats, pg = g.floats, plse = lse.floats
            let pdx = dx?.storage.floats, pdt = dt?.storage.floats
            withOptionalBuffer(weights) { w in
                parallelFor(rows.count, grain: rows.grain) { r0, r1 in
                    for r in r0..<r1 {
                        let o = rows.start(r)
                        let xr = px + o, gr = pg[r], l = plse[r]
                        if let pdx, let pt {
                            let tr = pt + o, dr = pdx + o
                            var mass: Float = 0
                            for k in 0..<c { mass += (w.map { $0[k] } ?? 1) * (keep * tr[k * st] + uniform) }
                            for k in 0..<c {
                                let wk = w.map { $0[k] } ?? 1
                                let p = fastExp(xr[k * st] - l)
                                dr[k * st] = gr * (p * mass - wk * (keep * tr[k * st] + uniform))
                            }
                        }
                        if let pdt {
                            let dr = pdt + o
                            for k in 0..<c { dr[k * st] = gr * keep * (w.map { $0[k] } ?? 1) * (l - xr[k * st]) }
                        }
                    }
                }
            }
            return [dx, dt]
        }
    }

    /// Per-element binary cross-entropy with logits. Backward, with `L = 1 + (pw − 1) y`:
    ///
    ///     dx = g·w·(L·σ(x) − pw·y),   dy = g·w·((pw − 1)·softplus(−x) − x),
    ///     dw = g·loss/w,              dpw = g·w·y·softplus(−x)
    static func binaryCrossEntropyElements(_ logits: Tensor, _ targets: Tensor, weights: Tensor?,
                                           posWeight: Tensor?) -> Tensor {
        KernelTrace.note("binary-cross-entropy")
        let shape = logits.shape
        let x = logits.plain(), y = targets.plain()
        // Broadcast copies of the (usually small) weights keep the kernel a flat loop.
        let w = weights.map { $0.detached().broadcast(to: shape).plain() }
        let pw = posWeight.map { $0.detached().broadcast(to: shape).plain() }
        let out = Tensor(uninitialized: shape)
        let px = x.floats, py = y.floats, pd = out.storage.floats
        let pww = w?.floats, ppw = pw?.floats
        parallelFor(out.count) { b, e in
            for i in b..<e {
                let xi = px[i], yi = py[i]
                let l = (1 - yi) * xi + (1 + ((ppw?[i] ?? 1) - 1) * yi) * softplusOfNegative(xi)
                pd[i] = (pww?[i] ?? 1) * l
            }
        }
        let inputs = [logits, targets] + [weights, posWeight].compactMap { $0 }
        let needX = logits.requiresGrad, needY = targets.requiresGrad
        let needW = weights?.requiresGrad ?? false, needPW = posWeight?.requiresGrad ?? false
        // dx reads x, y, w, pw; dy x, w, pw; dw x, y, pw; dpw x, y, w. Keep each only if a wanted
        // gradient reads it, and keep the weights as given: their broadcast copies (logits-sized)
        // are cheap to remake in backward.
        let savedX = x.detached()
        let savedY = needX || needW || needPW ? y.detached() : nil
        let savedW = needX || needY || needPW ? weights?.detached() : nil
        let savedPW = needX || needY || needW ? posWeight?.detached() : nil
        let (hasW, hasPW) = (weights != nil, posWeight != nil)
        let wShape = weights?.shape, pwShape = posWeight?.shape
        return Tensor.record(out, op: "binary-cross-entropy", inputs: inputs) { g in
            KernelTrace.note("binary-cross-entropy.backward")
            let g = g.plain()
            let w = savedW.map { $0.broadcast(to: shape).plain() }
            let pw = savedPW.map { $0.broadcast(to: shape).plain() }
            func make(_ flag: Bool) -> Tensor? { flag ? Tensor(uninitialized: shape) : nil }
            let dx = make(needX), dy = make(needY), dw = make(needW), dpw = make(needPW)
            let px = savedX.floats, py = savedY?.floats, pg = g.floats
            let pww = w?.floats, ppw = pw?.floats
            let qx = dx?.storage.floats, qy = dy?.storage.floats
            let qw = dw?.storage.floats, qpw = dpw?.storage.floats
            parallelFor(shape.reduce(1, *)) { b, e in
                for i in b..<e {
                    // A value not kept is read only by gradients that are not wanted.
                    let xi = px[i], yi = py?[i] ?? 0, gi = pg[i]
                    let wi = pww?[i] ?? 1, pwi = ppw?[i] ?? 1
                    let sp = softplusOfNegative(xi)
                    if let qx { qx[i] = gi * wi * ((1 + (pwi - 1) * yi) * logistic(xi) - pwi * yi) }
                    if let qy { qy[i] = gi * wi * ((pwi - 1) * sp - xi) }
                    if let qw { qw[i] = gi * ((1 - yi) * xi + (1 + (pwi - 1) * yi) * sp) }
                    if let qpw { qpw[i] = gi * wi * yi * sp }
                }
            }
            var grads: [Tensor?] = [dx, dy]
            if hasW { grads.append(dw?.sum(toShape: wShape!)) }
            if hasPW { grads.append(dpw?.sum(toShape: pwShape!)) }
            return grads
        }
    }
}

/// The maximum `m` of `x[k·stride]` and `log Σ_k exp(x[k·stride] − m)`: shifted by the maximum so
/// large logits do not overflow, and kept apart so that `(m − x) + log Σ` loses no precision.
@inline(__always)
private func maxAndLogSumExp(_ x: UnsafeMutablePointer<Float>, count: Int, stride: Int) -> (Float, Float) {
    if stride == 1 {
        let m = RowMath.max(x, count)
        if m == -.infinity { return (m, 0) }
        return (m, Foundation.log(RowMath.sum(count, { fastExp(load8(x, $0) - m) }, { fastExp(x[$0] - m) })))
    }
    var m = -Float.infinity
    for k in 0..<count { m = Swift.max(m, x[k * stride]) }
    if m == -.infinity { return (m, 0) }
    var s: Float = 0
    for k in 0..<count { s += fastExp(x[k * stride] - m) }
    return (m, Foundation.log(s))
}

/// `Σ_k w[k] · (m − x[k·stride])` (w = 1 when nil): the label-smoothing term without `log Σ`,
/// a sum of non-negative terms, so no cancellation.
@inline(__always)
private func weightedGap(_ x: UnsafeMutablePointer<Float>, _ w: UnsafeBufferPointer<Float>?, count: Int,
                         stride: Int, max m: Float) -> Float {
    if stride == 1 {
        if let wp = w?.baseAddress {
            return RowMath.sum(count, { load8(wp, $0) * (m - load8(x, $0)) }, { wp[$0] * (m - x[$0]) })
        }
        return RowMath.sum(count, { m - load8(x, $0) }, { m - x[$0] })
    }
    var s: Float = 0
    if let w { for k in 0..<count { s += w[k] * (m - x[k * stride]) } }
    else { for k in 0..<count { s += m - x[k * stride] } }
    return s
}

/// `softplus(−x) = log(1 + e^(−x)) = −log σ(x)`, stable for any `x`.
@inline(__always)
private func softplusOfNegative(_ x: Float) -> Float {
    Swift.max(-x, 0) + Foundation.log1p(Foundation.exp(-Swift.abs(x)))
}

@inline(__always)
private func logistic(_ x: Float) -> Float {
    if x >= 0 { return 1 / (1 + Foundation.exp(-x)) }
    let e = Foundation.exp(x)
    return e / (1 + e)
}

/// Calls `body` with a buffer over `values`, or nil.
@inline(__always)
private func withOptionalBuffer<R>(_ values: [Float]?, _ body: (UnsafeBufferPointer<Float>?) -> R) -> R {
    guard let values else { return body(nil) }
    return values.withUnsafeBufferPointer { body($0) }
}
