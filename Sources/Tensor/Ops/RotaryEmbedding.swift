import Foundation

/// Rotary position embedding (RoPE, Su et al. 2021) in Hugging Face's "rotate half" form, the
/// form of `transformers`' Llama: within each head of width D, coordinate `i` and `i + D/2`
/// (`i < D/2`) are rotated together by the angle `position · θ_i`:
///
///     y[i]       = x[i]·cos − x[i + D/2]·sin
///     y[i + D/2] = x[i + D/2]·cos + x[i]·sin,        θ_i = base^(−2i/D)
///
/// (llama.cpp rotates adjacent pairs `2i, 2i+1` instead; its GGUF converter permutes the rows
/// of the query and key projections so that both give the same attention scores. LoRAKit's
/// GGUF loader permutes them back, so one form serves both kinds of checkpoint.)
///
/// A linear map of `x` with fixed angles, so its backward is the rotation by the opposite angle.
extension Tensor {
    /// Rotates every head of `self` [N, T, heads·D] by the angles of its token.
    ///
    /// - Parameters:
    ///   - cos, sin: [N·T, D/2] (one row per token, row `n·T + t`) or [T, D/2] (the same
    ///     positions for every sequence), from `Tensor.rotaryAngles`; no gradient flows into them.
    ///   - heads: heads in the last dimension.
    /// - Returns: a tensor of `self`'s shape.
    public func rotaryEmbedding(cos: Tensor, sin: Tensor, heads: Int) -> Tensor {
        precondition(rank == 3, "rotaryEmbedding: input must be [N, T, heads·D], got \(shape)")
        let (n, t, width) = (shape[0], shape[1], shape[2])
        precondition(heads >= 1 && width % heads == 0 && (width / heads) % 2 == 0,
                     "rotaryEmbedding: \(heads) heads must divide width \(width) into even head widths")
        let half = width / heads / 2
        precondition(cos.shape == sin.shape && (cos.shape == [n * t, half] || cos.shape == [t, half]),
                     "rotaryEmbedding: cos \(cos.shape) and sin \(sin.shape) must be [\(n * t), \(half)] or [\(t), \(half)]")
        precondition(dtype == .float32 && cos.dtype == .float32 && sin.dtype == .float32,
                     "rotaryEmbedding: needs F32 tensors, got \(dtype.rawValue) \(shape)")
        let c = cos.plain().detached(), s = sin.plain().detached()
        let perSequence = cos.shape[0] == n * t
        let out = Tensor(uninitialized: shape)
        Tensor.rotate(plain().floats, into: out.storage.floats, rows: n * t, tokens: t, heads: heads, half: half,
                      cos: c.floats, sin: s.floats, perSequence: perSequence, sign: 1)
        return Tensor.record(out, op: "rotary-embedding", inputs: [self]) { g in
            let gp = g.plain()
            let dx = Tensor(uninitialized: gp.shape)
            Tensor.rotate(gp.floats, into: dx.storage.floats, rows: n * t, tokens: t, heads: heads, half: half,
                          cos: c.floats, sin: s.floats, perSequence: perSequence, sign: -1)
            return [dx]
        }
    }

    /// The cosines and sines of RoPE's angles for `positions`, each [positions.count, D/2], computed
    /// as `transformers` computes them: `θ_i = 1 / base^(2i/D)` and `position·θ_i` in Float32, then
    /// the cosine and sine of that Float32 angle (correctly rounded here; PyTorch's are within an ulp).
    /// - Parameters:
    ///   - positions: one position per token (any order; `n·T + t` for a batch).
    ///   - dimension: the head width D (even).
    ///   - base: `rope_theta` (10 000 for Llama 2, 100 000 for SmolLM2, 500 000 for Llama 3).
    public static func rotaryAngles(positions: [Int], dimension: Int, base: Float) -> (cos: Tensor, sin: Tensor) {
        precondition(dimension >= 2 && dimension % 2 == 0, "rotaryAngles: dimension must be even, got \(dimension)")
        let half = dimension / 2
        let inverse = (0..<half).map { i -> Float in 1 / Foundation.pow(base, Float(2 * i) / Float(dimension)) }
        let cos = Tensor(uninitialized: [positions.count, half]), sin = Tensor(uninitialized: [positions.count, half])
        let pc = cos.storage.floats, ps = sin.storage.floats
        for (r, p) in positions.enumerated() {
            for i in 0..<half {
                let angle = Double(Float(p) * inverse[i])
                pc[r * half + i] = Float(Foundation.cos(angle))
                ps[r * half + i] = Float(Foundation.sin(angle))
            }
        }
        return (cos, sin)
    }

    /// The rotation of `rows` token rows (each `heads` heads of 2·half) by their angles; `sign`
    /// −1 rotates back (backward).
    private static func rotate(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, rows: Int, tokens: Int,
                               heads: Int, half: Int, cos: UnsafePointer<Float>, sin: UnsafePointer<Float>,
                               perSequence: Bool, sign: Float) {
        let width = heads * 2 * half
        parallelFor(rows, grain: Swift.max(1, 8_192 / Swift.max(width, 1))) { r0, r1 in
            for r in r0..<r1 {
                let angle = (perSequence ? r : r % tokens) * half
                let c = cos + angle, s = sin + angle
                for h in 0..<heads {
                    let a = x + r * width + h * 2 * half, b = y + r * width + h * 2 * half
                    for i in 0..<half {
                        let lo = a[i], hi = a[i + half], si = sign * s[i]
                        b[i] = lo * c[i] - hi * si
                        b[i + half] = hi * c[i] + lo * si
                    }
                }
            }
        }
    }
}
