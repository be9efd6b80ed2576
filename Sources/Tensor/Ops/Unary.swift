import Foundation

/// How `gelu` evaluates the Gaussian CDF.
public enum GELUApproximation: Sendable, Equatable {
    /// `0.5·x·(1 + erf(x/√2))`, PyTorch's `approximate='none'` (BERT, ViT).
    case exact
    /// `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`, PyTorch's `approximate='tanh'` (GPT-2's `gelu_new`).
    case tanh
}

/// Elementwise unary operations. Each primitive's backward rule sits next to its forward
/// (house rule 3), and captures only what it needs: the output where the derivative is a
/// function of the output (exp, sqrt, rsqrt, relu, sigmoid, tanh), the input otherwise.
///
/// Transcendental functions (exp, log, tanh, sigmoid, gelu, silu) run on oneDNN's eltwise
/// primitive, forward and backward (`DNNL.eltwiseForward`/`eltwiseBackward`): vectorised, and in
/// the input's layout, blocked or plain. The others are Swift loops: forward through
/// `unaryKernel`, where an operation marked zero-preserving (f(0) = 0) keeps a blocked layout,
/// and backward through `gradientKernel`, one fused pass per rule, in the layout of the tensor
/// saved in forward.
extension Tensor {
    /// `eˣ` elementwise. Backward: `g·y` (captures the output).
    public func exp() -> Tensor {
        let out = DNNL.eltwiseForward(.exp, self)
        let y = out.detached()
        return Tensor.record(out, op: "exp", inputs: [self]) { g in
            [DNNL.eltwiseBackward(.exp, saved: y, gradient: g)]
        }
    }

    /// Natural logarithm elementwise (NaN below 0, −∞ at 0). Backward: `g/x` (captures the input).
    public func log() -> Tensor {
        let out = DNNL.eltwiseForward(.log, self)
        let x = detached()
        return Tensor.record(out, op: "log", inputs: [self]) { g in
            [DNNL.eltwiseBackward(.log, saved: x, gradient: g)]
        }
    }

    /// `√x` elementwise. Backward: `g/(2y)` (captures the output; +∞ at x = 0, as in PyTorch).
    public func sqrt() -> Tensor {
        let out = Tensor.unaryKernel(self, op: "sqrt", zeroPreserving: true) { $0.squareRoot() }
        let y = out.detached()
        return Tensor.record(out, op: "sqrt", inputs: [self]) { g in
            [Tensor.gradientKernel(g, y, zeroPreserving: false) { $0 * 0.5 / $1 }]
        }
    }

    /// `1/√x` elementwise. Backward: `−g·y³/2` (captures the output).
    public func rsqrt() -> Tensor {
        let out = Tensor.unaryKernel(self, op: "rsqrt", zeroPreserving: false) { 1 / $0.squareRoot() }
        let y = out.detached()
        return Tensor.record(out, op: "rsqrt", inputs: [self]) { g in
            [Tensor.gradientKernel(g, y, zeroPreserving: true) { -0.5 * $0 * $1 * $1 * $1 }]
        }
    }

    /// `xᵖ` elementwise for a constant exponent (NaN for a negative base and a non-integer `p`).
    ///
    /// Backward: `g·p·xᵖ⁻¹`, and exactly 0 when `p == 0` (PyTorch's rule).
    public func pow(_ p: Float) -> Tensor {
        let out: Tensor
        if p == 2 {
            out = Tensor.unaryKernel(self, op: "pow", zeroPreserving: true) { $0 * $0 }
        } else {
            out = Tensor.unaryKernel(self, op: "pow", zeroPreserving: p > 0) { powf($0, p) }
        }
        // xᵖ with p = 0 is constant: its zero gradient needs no input.
        let saved = p == 0 ? nil : detached()
        return Tensor.record(out, op: "pow", inputs: [self]) { g in
            guard let x = saved else { return [Tensor.zeros(g.shape)] }
            if p == 2 { return [Tensor.gradientKernel(g, x, zeroPreserving: true) { 2 * $0 * $1 }] }
            return [Tensor.gradientKernel(g, x, zeroPreserving: p >= 1) { $0 * p * powf($1, p - 1) }]
        }
    }

    /// `selfᵉˣᵖᵒⁿᵉⁿᵗ` elementwise, broadcasting.
    ///
    /// Backward (PyTorch's rules): `∂/∂a = g·b·aᵇ⁻¹` (0 where b = 0) and `∂/∂b = g·aᵇ·ln a`
    /// (0 where a = 0 and b ≥ 0). Each operand is captured only if a gradient that needs it is wanted.
    public func pow(_ exponent: Tensor) -> Tensor {
        let out = Tensor.binaryKernel(self, exponent, op: "pow") { powf($0, $1) }
        let aShape = shape, bShape = exponent.shape
        let needsA = requiresGrad, needsB = exponent.requiresGrad
        // Both gradients need both operands.
        let a = needsA || needsB ? detached() : nil
        let b = needsA || needsB ? exponent.detached() : nil
        return Tensor.record(out, op: "pow", inputs: [self, exponent]) { g in
            guard let a, let b else { return [nil, nil] }
            let ga = needsA ? (g * Tensor.binaryKernel(a, b, op: "pow-backward") { x, e in
                e == 0 ? 0 : e * powf(x, e - 1)
            }).sum(toShape: aShape) : nil
            let gb = needsB ? (g * Tensor.binaryKernel(a, b, op: "pow-backward") { x, e in
                x == 0 && e >= 0 ? 0 : powf(x, e) * logf(x)
            }).sum(toShape: bShape) : nil
            return [ga, gb]
        }
    }

    /// `|x|` elementwise. Backward: `g·sign(x)` with sign(0) = 0 (PyTorch's rule).
    public func abs() -> Tensor {
        let out = Tensor.unaryKernel(self, op: "abs", zeroPreserving: true) { $0.magnitude }
        let x = detached()
        return Tensor.record(out, op: "abs", inputs: [self]) { g in
            [Tensor.gradientKernel(g, x, zeroPreserving: true) { gv, xv in
                xv > 0 ? gv : (xv < 0 ? -gv : 0)
            }]
        }
    }

    /// Clamps every element into `[min, max]`; either bound may be omitted, not both. NaN stays
    /// NaN; when `min > max` every element becomes `max` (PyTorch's rule).
    ///
    /// Backward: the gradient passes where `min ≤ x ≤ max` (both boundaries included, as in
    /// PyTorch) and is 0 elsewhere.
    public func clamped(min: Float? = nil, max: Float? = nil) -> Tensor {
        precondition(min != nil || max != nil, "clamped(min:max:) needs at least one bound")
        let lo = min ?? -.infinity, hi = max ?? .infinity
        let out = Tensor.unaryKernel(self, op: "clamped", zeroPreserving: lo <= 0 && 0 <= hi) { x in
            let v = x < lo ? lo : x
            return v > hi ? hi : v
        }
        let x = detached()
        return Tensor.record(out, op: "clamp", inputs: [self]) { g in
            [Tensor.gradientKernel(g, x, zeroPreserving: true) { gv, xv in xv >= lo && xv <= hi ? gv : 0 }]
        }
    }

    /// `max(x, 0)` elementwise (NaN stays NaN); keeps a blocked layout.
    ///
    /// Backward: `g` where `y > 0`, 0 elsewhere, so 0 at x = 0 (PyTorch's rule). It captures
    /// the output, which the next layer usually keeps anyway, never the input. In bf16 training
    /// (`ComputePrecision.bfloat16`) it keeps the output's bf16 copy instead, so the gradient is
    /// 0 also where a positive f32 subnormal rounded to 0.
    ///
    /// Both loops are written out here rather than passed to `unaryKernel`/`gradientKernel` as a
    /// per-element function, which the parallel loop would call opaquely, once per element: written
    /// out they vectorise (ReLU's two passes were 7 % of a ResNet-34 training step's samples).
    public func relu() -> Tensor {
        // In bf16 training the sign is kept as the output's bf16 copy, which the next convolution
        // reads too (`reluKeepingBF16`): the f32 output is then held by nobody once read.
        if GradMode.isEnabled && requiresGrad && DNNL.keepsActivationsInBF16 {
            let (out, kept) = Tensor.reluKeepingBF16(self)
            return Tensor.record(out, op: "relu", inputs: [self]) { g in [Tensor.reluBackward(g, kept: kept)] }
        }
        let out = Tensor.unaryRangeKernel(self, op: "relu", zeroPreserving: true) { s, d, n in
            for i in 0..<n { d[i] = s[i] < 0 ? 0 : s[i] }
        }
        let y = out.detached()
        return Tensor.record(out, op: "relu", inputs: [self]) { g in
            [Tensor.gradientRangeKernel(g, y, zeroPreserving: true) { pg, py, d, n in
                for i in 0..<n { d[i] = py[i] > 0 ? pg[i] : 0 }
            }]
        }
    }

    /// Gaussian error linear unit `x·Φ(x)`, exact or with the tanh approximation.
    ///
    /// - exact: `y = ½x(1 + erf(x/√2))`, `y' = Φ(x) + x·φ(x)` with `φ(x) = e^(−x²/2)/√(2π)`.
    /// - tanh: with `u = √(2/π)(x + 0.044715x³)`, `t = tanh u`: `y = ½x(1 + t)`,
    ///   `y' = ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²)`.
    ///
    /// Backward captures the input.
    public func gelu(_ approximation: GELUApproximation = .exact) -> Tensor {
        let function: EltwiseFunction = approximation == .exact ? .geluErf : .geluTanh
        let out = DNNL.eltwiseForward(function, self)
        let x = detached()
        return Tensor.record(out, op: approximation == .exact ? "gelu" : "gelu-tanh", inputs: [self]) { g in
            [DNNL.eltwiseBackward(function, saved: x, gradient: g)]
        }
    }

    /// Sigmoid-weighted linear unit (swish) `x·σ(x)`.
    ///
    /// Backward: `g·σ(x)(1 + x(1 − σ(x)))`; captures the input (as PyTorch does) and recomputes σ.
    public func silu() -> Tensor {
        let out = DNNL.eltwiseForward(.silu, self)
        let x = detached()
        return Tensor.record(out, op: "silu", inputs: [self]) { g in
            [DNNL.eltwiseBackward(.silu, saved: x, gradient: g)]
        }
    }

    /// Logistic sigmoid `σ(x) = 1/(1 + e⁻ˣ)`. Backward: `g·y(1 − y)` (captures the output).
    public func sigmoid() -> Tensor {
        let out = DNNL.eltwiseForward(.sigmoid, self)
        let y = out.detached()
        return Tensor.record(out, op: "sigmoid", inputs: [self]) { g in
            [DNNL.eltwiseBackward(.sigmoid, saved: y, gradient: g)]
        }
    }

    /// Hyperbolic tangent. Backward: `g·(1 − y²)` (captures the output).
    public func tanh() -> Tensor {
        let out = DNNL.eltwiseForward(.tanh, self)
        let y = out.detached()
        return Tensor.record(out, op: "tanh", inputs: [self]) { g in
            [DNNL.eltwiseBackward(.tanh, saved: y, gradient: g)]
        }
    }
}

// MARK: - Backward kernel

extension Tensor {
    /// `f(g, s)` elementwise, for an output gradient `g` and a tensor `s` of the same shape saved
    /// in forward; one pass, no tape.
    ///
    /// The result takes `s`'s layout: when `s` is blocked, `g` is brought into that layout (free
    /// when it already has it), so a blocked chain (conv → relu → conv) stays blocked in backward.
    /// A padded layout is used only when `zeroPreserving` promises `f(0, s) = 0` for the padding
    /// (which is 0 in both tensors); otherwise both go through plain layout.
    @inline(__always)
    static func gradientKernel(_ g: Tensor, _ s: Tensor, zeroPreserving: Bool,
                               _ f: (Float, Float) -> Float) -> Tensor {
        gradientRangeKernel(g, s, zeroPreserving: zeroPreserving) { pg, ps, d, n in
            for i in 0..<n { d[i] = f(pg[i], ps[i]) }
        }
    }

    /// `gradientKernel` with the loop written by the caller: `body(g, s, out, n)` fills `out[0..<n]`
    /// from `g[0..<n]` and `s[0..<n]`, one call per chunk of the parallel loop. A loop written in
    /// the caller's closure vectorises, where `gradientKernel`'s per-element function does not.
    static func gradientRangeKernel(_ g: Tensor, _ s: Tensor, zeroPreserving: Bool,
                                    _ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>,
                                             UnsafeMutablePointer<Float>, Int) -> Void) -> Tensor {
        precondition(g.shape == s.shape, "gradient shape \(g.shape) does not match saved shape \(s.shape)")
        if let format = s.format, zeroPreserving || !format.hasPadding {
            let gb = g.format == format ? g : DNNL.reorder(g.detached(), to: format.desc)
            let out = Tensor(shape: s.shape, storage: TensorStorage(byteCount: format.byteCount, dtype: .float32),
                             format: format)
            let pg = gb.storage.floats + gb.offset, ps = s.storage.floats + s.offset, d = out.storage.floats
            parallelFor(format.elementCount) { b, e in body(pg + b, ps + b, d + b, e - b) }
            return out
        }
        let gp = g.plain(), sp = s.plain()
        let out = Tensor(uninitialized: s.shape)
        let pg = gp.floats, ps = sp.floats, d = out.storage.floats
        parallelFor(out.count) { b, e in body(pg + b, ps + b, d + b, e - b) }
        return out
    }
}
