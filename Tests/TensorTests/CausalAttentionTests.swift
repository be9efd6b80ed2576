@testable import Tensor
import TestSupport
import XCTest

/// The fused causal grouped-query attention against the composed path (key/value heads repeated
/// for their query heads, `scaledDotProductAttention` with an explicit causal-and-padding mask),
/// values and gradients, and against finite differences.
final class CausalAttentionTests: XCTestCase {
    /// The composed reference over the first `length` keys, query `t` at position `offset + t`.
    private func composed(_ q: Tensor, _ k: Tensor, _ v: Tensor, heads: Int, kvHeads: Int, length: Int, offset: Int,
                          keyMask: Tensor?, firstKeys: [Int]? = nil) -> Tensor {
        let (n, t, width) = (q.shape[0], q.shape[1], q.shape[2])
        let d = width / heads
        let group = heads / kvHeads
        let q4 = q.reshaped([n, t, heads, d]).permuted([0, 2, 1, 3])                       // [N, H, T, D]
        func kv(_ y: Tensor) -> Tensor {                                                    // [N, H, L, D]
            let used = y.slice(axis: 1, start: 0, end: length).reshaped([n, length, kvHeads, d]).permuted([0, 2, 1, 3])
            let repeated = (0..<heads).map { h in used.slice(axis: 1, start: h / group, end: h / group + 1) }
            return Tensor.concat(repeated, axis: 1)
        }
        var mask = [Float](repeating: 0, count: n * t * length)
        for b in 0..<n { for i in 0..<t { for j in 0..<length {
            let seen = j <= offset + i && j >= (firstKeys?[b * t + i] ?? 0)
            mask[(b * t + i) * length + j] = seen ? (keyMask?.scalars[b * length + j] ?? 0) : -.infinity
        } } }
        let context = scaledDotProductAttention(query: q4, key: kv(k), value: kv(v),
                                                mask: .additive(Tensor(mask, shape: [n, 1, t, length])))
        return context.permuted([0, 2, 1, 3]).reshaped([n, t, width])
    }

    func testMatchesTheComposedPathWithGroupsMaskAndOffset() {
        // 2 sequences, 4 queries after 3 cached keys (L = 7) in a cache of capacity 9, 6 query
        // heads on 2 key/value heads of width 4; sequence 1 masks its first key (left padding).
        let (n, t, s, length, offset, heads, kvHeads, d) = (2, 4, 9, 7, 3, 6, 2, 4)
        let q = randomTensor([n, t, heads * d], seed: 1), k = randomTensor([n, s, kvHeads * d], seed: 2)
        let v = randomTensor([n, s, kvHeads * d], seed: 3), g = randomTensor([n, t, heads * d], seed: 4)
        var maskValues = [Float](repeating: 0, count: n * length)
        maskValues[length] = -.infinity
        maskValues[length + 5] = -2.5
        let keyMask = Tensor(maskValues, shape: [n, length])

        let (q1, k1, v1) = (q.requiringGrad(), k.requiringGrad(), v.requiringGrad())
        let fused = Tensor.causalAttention(query: q1, key: k1, value: v1, heads: heads, kvHeads: kvHeads,
                                           keyLength: length, queryOffset: offset, keyMask: keyMask)
        (fused * g).sum().backward()
        let (q2, k2, v2) = (q.requiringGrad(), k.requiringGrad(), v.requiringGrad())
        let expected = composed(q2, k2, v2, heads: heads, kvHeads: kvHeads, length: length, offset: offset, keyMask: keyMask)
        (expected * g).sum().backward()
        assertClose(fused, expected, atol: 1e-5, rtol: 1e-5)
        assertClose(q1.grad!, q2.grad!, atol: 1e-5, rtol: 1e-4)
        assertClose(k1.grad!, k2.grad!, atol: 1e-5, rtol: 1e-4)
        assertClose(v1.grad!, v2.grad!, atol: 1e-5, rtol: 1e-4)
        // Rows beyond the key length are not read: their gradients are zero.
        let gk = k1.grad!.slice(axis: 1, start: length, end: s)
        XCTAssertEqual(gk.abs().max().item, 0)
    }

    func testDefaultOffsetIsAPlainCausalMask() {
        // Without cache: T = S = L, query t sees keys 0...t.
        let (n, t, heads, kvHeads, d) = (1, 5, 4, 1, 8)
        let q = randomTensor([n, t, heads * d], seed: 5), k = randomTensor([n, t, kvHeads * d], seed: 6)
        let v = randomTensor([n, t, kvHeads * d], seed: 7)
        let fused = Tensor.causalAttention(query: q, key: k, value: v, heads: heads, kvHeads: kvHeads)
        let expected = composed(q, k, v, heads: heads, kvHeads: kvHeads, length: t, offset: 0, keyMask: nil)
        assertClose(fused, expected, atol: 1e-5, rtol: 1e-5)
        // The first query sees only the first key: its output is that key's value, head by head.
        let first = fused.slice(axis: 1, start: 0, end: 1).scalars
        let value0 = v.slice(axis: 1, start: 0, end: 1).scalars
        for h in 0..<heads { XCTAssertEqual(Array(first[(h * d)..<((h + 1) * d)]), value0, accuracy: 1e-6) }
    }

    func testGradientsMatchFiniteDifferences() {
        let (n, t, heads, kvHeads, d) = (2, 3, 4, 2, 2)
        let keyMask = Tensor([0, 0, 0, -.infinity, 0, 0], shape: [n, t])
        checkGradients([randomTensor([n, t, heads * d], seed: 8), randomTensor([n, t, kvHeads * d], seed: 9),
                        randomTensor([n, t, kvHeads * d], seed: 10)]) { x in
            Tensor.causalAttention(query: x[0], key: x[1], value: x[2], heads: heads, kvHeads: kvHeads, keyMask: keyMask)
        }
    }

    func testPackedDocumentsAttendOnlyWithinThemselves() {
        // Row 0 packs documents of 3 and 2 tokens; row 1 holds one of 4 and a padding token.
        let (n, t, heads, kvHeads, d) = (2, 5, 4, 2, 3)
        let firstKeys = [0, 0, 0, 3, 3, 0, 0, 0, 0, 4]
        let q = randomTensor([n, t, heads * d], seed: 21), k = randomTensor([n, t, kvHeads * d], seed: 22)
        let v = randomTensor([n, t, kvHeads * d], seed: 23), g = randomTensor([n, t, heads * d], seed: 24)
        let (q1, k1, v1) = (q.requiringGrad(), k.requiringGrad(), v.requiringGrad())
        let packed = Tensor.causalAttention(query: q1, key: k1, value: v1, heads: heads, kvHeads: kvHeads, firstKeys: firstKeys)
        (packed * g).sum().backward()
        let (q2, k2, v2) = (q.requiringGrad(), k.requiringGrad(), v.requiringGrad())
        let expected = composed(q2, k2, v2, heads: heads, kvHeads: kvHeads, length: t, offset: 0, keyMask: nil, firstKeys: firstKeys)
        (expected * g).sum().backward()
        assertClose(packed, expected, atol: 1e-5, rtol: 1e-5)
        assertClose(q1.grad!, q2.grad!, atol: 1e-5, rtol: 1e-4)
        assertClose(k1.grad!, k2.grad!, atol: 1e-5, rtol: 1e-4)
        assertClose(v1.grad!, v2.grad!, atol: 1e-5, rtol: 1e-4)
        // The second document of row 0 alone, as its own sequence, gives the same outputs.
        let second = { (x: Tensor) in x.slice(axis: 0, start: 0, end: 1).slice(axis: 1, start: 3, end: 5) }
        let alone = Tensor.causalAttention(query: second(q), key: second(k), value: second(v), heads: heads, kvHeads: kvHeads)
        assertClose(second(packed), alone, atol: 1e-6, rtol: 1e-5)
        // Without the boundaries the second document reads the first: a control.
        let crossing = Tensor.causalAttention(query: q, key: k, value: v, heads: heads, kvHeads: kvHeads)
        XCTAssertGreaterThan((crossing - packed).abs().max().item, 1e-3)
    }

    func testPackedGradientsMatchFiniteDifferences() {
        let (n, t, heads, kvHeads, d) = (1, 5, 2, 1, 2)
        checkGradients([randomTensor([n, t, heads * d], seed: 25), randomTensor([n, t, kvHeads * d], seed: 26),
                        randomTensor([n, t, kvHeads * d], seed: 27)]) { x in
            Tensor.causalAttention(query: x[0], key: x[1], value: x[2], heads: heads, kvHeads: kvHeads, firstKeys: [0, 0, 2, 2, 4])
        }
    }

    func testFullyMaskedQueriesGetZeros() {
        // Left padding: the padded query at position 0 sees only the padded key.
        let q = randomTensor([1, 2, 4], seed: 11), k = randomTensor([1, 2, 4], seed: 12), v = randomTensor([1, 2, 4], seed: 13)
        let y = Tensor.causalAttention(query: q, key: k, value: v, heads: 2, kvHeads: 2,
                                       keyMask: Tensor([-.infinity, 0], shape: [1, 2]))
        XCTAssertEqual(Array(y.scalars.prefix(4)), [0, 0, 0, 0])
        XCTAssertTrue(y.scalars.allSatisfy(\.isFinite))
    }
}

private func XCTAssertEqual(_ a: [Float], _ b: [Float], accuracy: Float, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, file: file, line: line) }
}
