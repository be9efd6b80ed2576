import Foundation
import TestSupport
import XCTest
@testable import Tensor

final class AttentionTests: XCTestCase {
    /// Attention in Double for `[B, H, T, D]` operands; `allowed(b, i, j)` says whether query `i`
    /// may see key `j`, `bias(b, h, i, j)` is added to the score. A row with no allowed key gives 0.
    private func naiveAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, scale: Double,
                                allowed: (Int, Int, Int) -> Bool = { _, _, _ in true },
                                bias: (Int, Int, Int, Int) -> Double = { _, _, _, _ in 0 }) -> Tensor {
        let (b, h, tq, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
        let tk = k.shape[2], dv = v.shape[3]
        let qs = q.scalars, ks = k.scalars, vs = v.scalars
        var out = [Float](repeating: 0, count: b * h * tq * dv)
        for bi in 0..<b {
            for hi in 0..<h {
                for i in 0..<tq {
                    var scores = [Double](repeating: -.infinity, count: tk)
                    for j in 0..<tk where allowed(bi, i, j) {
                        var s = 0.0
                        for c in 0..<d {
                            s += Double(qs[((bi * h + hi) * tq + i) * d + c]) * Double(ks[((bi * h + hi) * tk + j) * d + c])
                        }
                        scores[j] = s * scale + bias(bi, hi, i, j)
                    }
                    let m = scores.max()!
                    if m == -.infinity { continue }
                    let e = scores.map { Foundation.exp($0 - m) }
                    let z = e.reduce(0, +)
                    for c in 0..<dv {
                        var acc = 0.0
                        for j in 0..<tk { acc += e[j] / z * Double(vs[((bi * h + hi) * tk + j) * dv + c]) }
                        out[((bi * h + hi) * tq + i) * dv + c] = Float(acc)
                    }
                }
            }
        }
        return Tensor(out, shape: [b, h, tq, dv])
    }

    func testPlainAttentionMatchesNaive() {
        let q = randomTensor([2, 2, 3, 4], seed: 1), k = randomTensor([2, 2, 5, 4], seed: 2)
        let v = randomTensor([2, 2, 5, 3], seed: 3)
        assertClose(scaledDotProductAttention(query: q, key: k, value: v), naiveAttention(q, k, v, scale: 0.5),
                    atol: 1e-5)
        assertClose(scaledDotProductAttention(query: q, key: k, value: v, scale: 2),
                    naiveAttention(q, k, v, scale: 2), atol: 1e-5)
    }

    func testPaddingMaskCausalMaskAndTheirCombination() {
        let q = randomTensor([2, 2, 4, 3], seed: 4), k = randomTensor([2, 2, 4, 3], seed: 5)
        let v = randomTensor([2, 2, 4, 2], seed: 6)
        let scale = 1 / 3.0.squareRoot()
        // Batch 0 sees all 4 keys, batch 1 only the first 2.
        let lengths = [4, 2]
        let keep = Tensor((0..<2).flatMap { b in (0..<4).map { Float($0 < lengths[b] ? 1 : 0) } }, shape: [2, 1, 1, 4])
        let padded = naiveAttention(q, k, v, scale: scale) { b, _, j in j < lengths[b] }
        assertClose(scaledDotProductAttention(query: q, key: k, value: v, mask: .boolean(keep)), padded, atol: 1e-5)
        let additive = Tensor(keep.scalars.map { $0 == 1 ? 0 : -.infinity }, shape: [2, 1, 1, 4])
        assertClose(scaledDotProductAttention(query: q, key: k, value: v, mask: .additive(additive)), padded, atol: 1e-5)

        let causal = naiveAttention(q, k, v, scale: scale) { _, i, j in j <= i }
        assertClose(scaledDotProductAttention(query: q, key: k, value: v, isCausal: true), causal, atol: 1e-5)

        let both = naiveAttention(q, k, v, scale: scale) { b, i, j in j <= i && j < lengths[b] }
        assertClose(scaledDotProductAttention(query: q, key: k, value: v, mask: .boolean(keep), isCausal: true),
                    both, atol: 1e-5)
    }

    func testCausalWithFewerQueriesThanKeysIsTopLeftAligned() {
        let q = randomTensor([1, 1, 2, 3], seed: 7), k = randomTensor([1, 1, 4, 3], seed: 8)
        let v = randomTensor([1, 1, 4, 2], seed: 9)
        assertClose(scaledDotProductAttention(query: q, key: k, value: v, isCausal: true),
                    naiveAttention(q, k, v, scale: 1 / 3.0.squareRoot()) { _, i, j in j <= i }, atol: 1e-5)
    }

    func testAdditiveBiasMatchesNaiveAndGetsAGradient() {
        let q = randomTensor([1, 2, 3, 2], seed: 10), k = randomTensor([1, 2, 3, 2], seed: 11)
        let v = randomTensor([1, 2, 3, 2], seed: 12)
        let bias = randomTensor([2, 3, 3], seed: 13)      // per head, broadcast over batch
        let bs = bias.scalars
        let expected = naiveAttention(q, k, v, scale: 1 / 2.0.squareRoot()) { _, _, _ in true } bias: { _, h, i, j in
            Double(bs[(h * 3 + i) * 3 + j])
        }
        assertClose(scaledDotProductAttention(query: q, key: k, value: v, mask: .additive(bias)), expected, atol: 1e-5)
        checkGradients([q, k, v, bias]) { x in
            scaledDotProductAttention(query: x[0], key: x[1], value: x[2], mask: .additive(x[3]))
        }
    }

    func testFullyMaskedQueryGivesZerosAndFiniteGradients() {
        let q = randomTensor([1, 1, 3, 2], seed: 14).requiringGrad()
        let k = randomTensor([1, 1, 3, 2], seed: 15).requiringGrad()
        let v = randomTensor([1, 1, 3, 2], seed: 16).requiringGrad()
        // Query 1 may see nothing.
        let mask = Tensor([1, 1, 0,
                           0, 0, 0,
                           0, 1, 1], shape: [3, 3])
        let y = scaledDotProductAttention(query: q, key: k, value: v, mask: .boolean(mask))
        XCTAssertEqual(Array(y.scalars[2..<4]), [0, 0])
        XCTAssertTrue(y.scalars.allSatisfy { $0.isFinite })
        (y * randomTensor([1, 1, 3, 2], seed: 17)).sum().backward()
        for t in [q, k, v] { XCTAssertTrue(t.grad!.scalars.allSatisfy { $0.isFinite }) }
        XCTAssertEqual(Array(q.grad!.scalars[2..<4]), [0, 0])
    }

    func testGradientsWithMasks() {
        let q = randomTensor([1, 2, 3, 2], seed: 18), k = randomTensor([1, 2, 4, 2], seed: 19)
        let v = randomTensor([1, 2, 4, 3], seed: 20)
        let keep = Tensor([1, 1, 1, 0], shape: [1, 1, 1, 4])
        checkGradients([q, k, v]) { x in
            scaledDotProductAttention(query: x[0], key: x[1], value: x[2], mask: .boolean(keep), isCausal: true)
        }
        checkGradients([q, k, v], wrt: [0, 2]) { x in
            scaledDotProductAttention(query: x[0], key: x[1], value: x[2], scale: 0.7)
        }
    }

    func testAttentionDropout() {
        let q = randomTensor([1, 1, 3, 2], seed: 21), k = randomTensor([1, 1, 3, 2], seed: 22)
        let v = randomTensor([1, 1, 3, 2], seed: 23)
        var g = RandomGenerator(seed: 24)
        assertClose(scaledDotProductAttention(query: q, key: k, value: v, dropout: 0, generator: &g),
                    scaledDotProductAttention(query: q, key: k, value: v))
        var g1 = RandomGenerator(seed: 25), g2 = RandomGenerator(seed: 25)
        let a = scaledDotProductAttention(query: q, key: k, value: v, dropout: 0.5, generator: &g1)
        let b = scaledDotProductAttention(query: q, key: k, value: v, dropout: 0.5, generator: &g2)
        XCTAssertEqual(a.scalars, b.scalars)
        XCTAssertNotEqual(a.scalars, scaledDotProductAttention(query: q, key: k, value: v).scalars)
        checkGradients([q, k, v]) { x in
            var g = RandomGenerator(seed: 26)
            return scaledDotProductAttention(query: x[0], key: x[1], value: x[2], isCausal: true, dropout: 0.3,
                                             generator: &g)
        }
    }
}
