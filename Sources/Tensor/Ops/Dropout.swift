/// Inverted dropout: a primitive whose backward regenerates the mask instead of storing it.
extension Tensor {
    /// Zeroes each element with probability `probability` and scales the kept ones by
    /// `1 / (1 − probability)`, so the expected value is unchanged (inverted dropout, as in PyTorch).
    ///
    ///     y = x ⊙ m / (1 − p),   m ~ Bernoulli(1 − p) elementwise
    ///
    /// - Parameters:
    ///   - probability: the chance `p` of dropping an element, in `[0, 1]`.
    ///   - training: when false the input is returned unchanged (evaluation).
    ///   - generator: the random source. It is advanced by one draw only when elements are
    ///     actually dropped (`training` and `0 < p < 1`): identity and `p == 1` (all zeros) leave
    ///     it untouched.
    ///
    /// The mask is a counter-based hash of one 64-bit seed drawn from `generator` and each
    /// element's index, so it is the same whatever the thread count, and backward regenerates it
    /// from the seed (`dx = g ⊙ m / (1 − p)`) rather than keeping it in memory.
    public func dropout(_ probability: Float, training: Bool = true,
                        generator: inout RandomGenerator) -> Tensor {
        precondition(probability >= 0 && probability <= 1,
                     "dropout probability must lie in [0, 1], got \(probability)")
        guard training, probability > 0 else { return self }
        if probability == 1 {
            let zeros = Tensor.zeros(shape)
            return Tensor.record(zeros, op: "dropout", inputs: [self]) { [shape] _ in [Tensor.zeros(shape)] }
        }
        let seed = generator.next()
        // Drop where the element's 24-bit uniform draw falls below p·2²⁴.
        let threshold = UInt64((Double(probability) * 16_777_216).rounded())
        let scale = 1 / (1 - probability)
        let y = Tensor.dropoutKernel(plain(), seed: seed, threshold: threshold, scale: scale)
        return Tensor.record(y, op: "dropout", inputs: [self]) { g in
            [Tensor.dropoutKernel(g.plain(), seed: seed, threshold: threshold, scale: scale)]
        }
    }
}

extension Tensor {
    /// `x[i] · scale` where element `i` is kept, else 0. Element `i` is kept when the top 24 bits
    /// of SplitMix64's output for counter `i` are at least `threshold`.
    static func dropoutKernel(_ x: Tensor, seed: UInt64, threshold: UInt64, scale: Float) -> Tensor {
        KernelTrace.note("dropout")
        let out = Tensor(uninitialized: x.shape)
        let s = x.floats, d = out.storage.floats
        parallelFor(x.count) { b, e in
            for i in b..<e {
                // Branch-free (the keep/drop branch is unpredictable): the bits of s[i]·scale
                // where the element is kept, of +0 where it is dropped.
                let keep: UInt32 = dropoutKeeps(seed: seed, index: i, threshold: threshold) ? ~0 : 0
                d[i] = Float(bitPattern: (s[i] * scale).bitPattern & keep)
            }
        }
        return out
    }

    /// SplitMix64 (Steele et al. 2014) evaluated at position `index` of the stream seeded by `seed`:
    /// a stateless, well-mixed hash, so each element's draw needs no sequential generator.
    @inline(__always)
    static func dropoutKeeps(seed: UInt64, index: Int, threshold: UInt64) -> Bool {
        var z = seed &+ (UInt64(index) &+ 1) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return z >> 40 >= threshold
    }
}
