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
        let mask = DropoutMask(seed: generator.next(), probability: probability)
        let y = Tensor.dropoutKernel(plain(), mask)
        return Tensor.record(y, op: "dropout", inputs: [self]) { g in
            [Tensor.dropoutKernel(g.plain(), mask)]
        }
    }
}

/// Which elements inverted dropout keeps: element `i` of a stream seeded by `seed` is kept when
/// the top 24 bits of `Tensor.dropoutHash` of `i` are at least `limit` (= p·2²⁴), and scaled by
/// `1/(1 − p)`. Forward and backward (and the fused attention) draw the same mask from the seed.
struct DropoutMask {
    let seed: UInt64
    let limit: UInt32
    let scale: Float

    init(seed: UInt64, probability: Float) {
        self.seed = seed
        limit = UInt32((Double(probability) * 16_777_216).rounded())
        scale = 1 / (1 - probability)
    }

    /// `d[i] = s[i]·scale` where element `first + i` of the stream is kept, else 0 (`d` may be `s`).
    @inline(__always)
    func apply(_ s: UnsafeMutablePointer<Float>, _ d: UnsafeMutablePointer<Float>, count: Int, first: Int) {
        // The hash takes a 32-bit counter: the element index within its block of 2³² elements,
        // with the block number folded into the key.
        var start = 0
        while start < count {
            let block = UInt64(first + start) >> 32
            let end = Swift.min(count, Int((block + 1) << 32) - first)
            let (k0, k1) = Tensor.dropoutKeys(seed: seed, block: block)
            for i in start..<end {
                // Branch-free (the keep/drop branch is unpredictable, and the loop vectorises):
                // the bits of s[i]·scale where the element is kept, of +0 where it is dropped.
                // `&+`: an overflow check here (a trap branch per element) stops the loop from
                // vectorising in checked builds; `first + count` is within the tensor's size.
                let h = Tensor.dropoutHash(UInt32(truncatingIfNeeded: first &+ i), k0, k1)
                let keep: UInt32 = h >> 8 >= limit ? ~0 : 0
                d[i] = Float(bitPattern: (s[i] * scale).bitPattern & keep)
            }
            start = end
        }
    }
}

extension Tensor {
    /// `x` with `mask` applied: element `i` kept (and scaled) or zeroed.
    static func dropoutKernel(_ x: Tensor, _ mask: DropoutMask) -> Tensor {
        KernelTrace.note("dropout")
        let out = Tensor(uninitialized: x.shape)
        let s = x.floats, d = out.storage.floats
        parallelFor(x.count) { b, e in mask.apply(s + b, d + b, count: e - b, first: b) }
        return out
    }

    /// The two 32-bit keys of block `block` (elements `block·2³² ..< (block+1)·2³²`) of the
    /// stream seeded by `seed`.
    @inline(__always)
    static func dropoutKeys(seed: UInt64, block: UInt64) -> (UInt32, UInt32) {
        let key = seed ^ (block &* 0x9E37_79B9_7F4A_7C15)
        return (UInt32(truncatingIfNeeded: key), UInt32(truncatingIfNeeded: key >> 32))
    }

    /// A keyed 32-bit counter hash: two rounds of Wellons' `lowbias32` integer hash (an avalanching
    /// bijection of 32-bit words built from xor-shifts and odd multiplies), the first keyed by `k0`,
    /// the second by `k1`. It is stateless, so each element's draw needs no sequential generator,
    /// and it uses only 32-bit lane operations, so the dropout loop vectorises (8 lanes with AVX2).
    @inline(__always)
    static func dropoutHash(_ counter: UInt32, _ k0: UInt32, _ k1: UInt32) -> UInt32 {
        var h = counter ^ k0
        h ^= h >> 16; h = h &* 0x7FEB_352D; h ^= h >> 15; h = h &* 0x846C_A68B; h ^= h >> 16
        h = h &+ k1
        h ^= h >> 16; h = h &* 0x7FEB_352D; h ^= h >> 15; h = h &* 0x846C_A68B; h ^= h >> 16
        return h
    }
}
