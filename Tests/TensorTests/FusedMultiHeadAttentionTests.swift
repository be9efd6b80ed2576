@testable import Tensor
import TestSupport
import XCTest

/// The fused multi-head attention on [N, T, H] projections against the composed path (head
/// permutes, `scaledDotProductAttention`, `dropout` with the same seed), values and gradients, and
/// against finite differences.
final class FusedMultiHeadAttentionTests: XCTestCase {
    /// The composed reference: heads split by permutes, attention (dropout drawing its seed from
    /// `generatorSeed`'s generator, as the fused call's seed was drawn), heads merged.
    private func composed(_ q: Tensor, _ k: Tensor, _ v: Tensor, heads: Int, keyMask: Tensor?, dropout: Float,
                          generatorSeed: UInt64) -> Tensor {
        let (n, t, h) = (q.shape[0], q.shape[1], q.shape[2])
        func split(_ y: Tensor) -> Tensor { y.reshaped([n, t, heads, h / heads]).permuted([0, 2, 1, 3]) }
        let mask = keyMask.map { AttentionMask.additive($0.reshaped([n, 1, 1, t])) }
        var generator = RandomGenerator(seed: generatorSeed)
        let context = dropout > 0
            ? scaledDotProductAttention(query: split(q), key: split(k), value: split(v), mask: mask, dropout: dropout,
                                        generator: &generator)
            : scaledDotProductAttention(query: split(q), key: split(k), value: split(v), mask: mask)
        return context.permuted([0, 2, 1, 3]).reshaped([n, t, h])
    }

    func testMatchesTheComposedPathWithMaskAndDropout() {
        let (n, t, h, heads) = (2, 7, 12, 3)
        let q = randomTensor([n, t, h], seed: 1), k = randomTensor([n, t, h], seed: 2), v = randomTensor([n, t, h], seed: 3)
        // Sequence 0 masks its last two keys with −∞, sequence 1 one key with a large negative number.
        var maskValues = [Float](repeating: 0, count: n * t)
        maskValues[5] = -.infinity; maskValues[6] = -.infinity; maskValues[t + 2] = -1e4
        let keyMask = Tensor(maskValues, shape: [n, t])
        let g = randomTensor([n, t, h], seed: 4)

        for dropout: Float in [0, 0.3] {
            var reference = RandomGenerator(seed: 77)
            let seed: UInt64? = dropout > 0 ? reference.next() : nil
            let (q1, k1, v1) = (q.requiringGrad(), k.requiringGrad(), v.requiringGrad())
            let fused = Tensor.multiHeadAttention(query: q1, key: k1, value: v1, heads: heads, keyMask: keyMask,
                                                  dropoutProbability: dropout, dropoutSeed: seed)
            (fused * g).sum().backward()
            let (q2, k2, v2) = (q.requiringGrad(), k.requiringGrad(), v.requiringGrad())
            let expected = composed(q2, k2, v2, heads: heads, keyMask: keyMask, dropout: dropout, generatorSeed: 77)
            (expected * g).sum().backward()
            assertClose(fused, expected, atol: 1e-5, rtol: 1e-5)
            assertClose(q1.grad!, q2.grad!, atol: 1e-5, rtol: 1e-4)
            assertClose(k1.grad!, k2.grad!, atol: 1e-5, rtol: 1e-4)
            assertClose(v1.grad!, v2.grad!, atol: 1e-5, rtol: 1e-4)
            if dropout > 0 {
                // Dropout really dropped something: the result differs from no dropout.
                let plain = Tensor.multiHeadAttention(query: q, key: k, value: v, heads: heads, keyMask: keyMask)
                XCTAssertGreaterThan((plain - fused).abs().max().item, 1e-3)
            }
        }
    }

    func testFullyMaskedQueriesGetZeros() {
        let (n, t, h) = (1, 4, 4)
        let q = randomTensor([n, t, h], seed: 5), k = randomTensor([n, t, h], seed: 6), v = randomTensor([n, t, h], seed: 7)
        let keyMask = Tensor([Float](repeating: -.infinity, count: t), shape: [n, t])
        let y = Tensor.multiHeadAttention(query: q, key: k, value: v, heads: 2, keyMask: keyMask)
        XCTAssertEqual(y.scalars, [Float](repeating: 0, count: n * t * h))
    }

    func testGradientsByFiniteDifferences() {
        let (n, t, h) = (1, 3, 4)
        let q = randomTensor([n, t, h], seed: 8), k = randomTensor([n, t, h], seed: 9), v = randomTensor([n, t, h], seed: 10)
        let keyMask = Tensor([0, -2, 0.5], shape: [1, 3])
        checkGradients([q, k, v], wrt: [0, 1, 2]) { x in
            Tensor.multiHeadAttention(query: x[0], key: x[1], value: x[2], heads: 2, keyMask: keyMask)
        }
    }

    func testOnlyWantedGradientsAreComputed() {
        let (n, t, h) = (1, 5, 8)
        let q = randomTensor([n, t, h], seed: 11).requiringGrad()
        let k = randomTensor([n, t, h], seed: 12)
        let v = randomTensor([n, t, h], seed: 13)
        Tensor.multiHeadAttention(query: q, key: k, value: v, heads: 2, keyMask: nil).sum().backward()
        XCTAssertEqual(q.grad?.shape, [n, t, h])
        XCTAssertNil(k.grad)
    }
}
