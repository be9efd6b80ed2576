import Tensor
import TestSupport
import XCTest

/// `+`, `-`, `*` (whose loops run their arithmetic directly) against a naive broadcasting loop, for
/// every way the operands can broadcast: same shape, a scalar on either side, a row vector, a
/// column, and both operands broadcast.
final class ElementwiseBroadcastTests: XCTestCase {
    func testArithmeticMatchesNaiveBroadcasting() {
        let pairs: [([Int], [Int])] = [
            ([2, 3, 4], [2, 3, 4]), ([2, 3, 4], [1]), ([1], [2, 3, 4]), ([2, 3, 4], []), ([2, 3, 4], [4]),
            ([4], [2, 3, 4]), ([2, 3, 4], [3, 1]), ([3, 1], [2, 3, 4]), ([2, 1, 4], [1, 3, 1]),
            ([2, 3, 1], [2, 1, 1]), ([5, 1], [1, 1]),
        ]
        for (i, (sa, sb)) in pairs.enumerated() {
            let a = randomTensor(sa, seed: UInt64(2 * i + 1)), b = randomTensor(sb, seed: UInt64(2 * i + 2))
            for (name, op, f) in [("+", { (x: Tensor, y: Tensor) in x + y }, { (x: Float, y: Float) in x + y }),
                                  ("-", { $0 - $1 }, { $0 - $1 }), ("*", { $0 * $1 }, { $0 * $1 })] {
                assertClose(op(a, b), naive(a, b, f), atol: 0, rtol: 0, "\(sa) \(name) \(sb)")
            }
        }
        let x = randomTensor([3, 5], seed: 9)
        assertClose(x * 2.5, naive(x, Tensor(2.5), *), atol: 0, rtol: 0, "scaled")
        assertClose(x + 1.5, naive(x, Tensor(1.5), +), atol: 0, rtol: 0, "shifted")
        assertClose(-x, naive(x, Tensor(-1), *), atol: 0, rtol: 0, "negated")
    }

    /// `f(a, b)` broadcast by index arithmetic alone.
    private func naive(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        let shape = Broadcast.shape(a.shape, b.shape)!
        let rank = shape.count
        func padded(_ s: [Int]) -> [Int] { Array(repeating: 1, count: rank - s.count) + s }
        let pa = padded(a.shape), pb = padded(b.shape), va = a.scalars, vb = b.scalars
        let n = shape.reduce(1, *)
        var out = [Float](repeating: 0, count: n)
        for flat in 0..<n {
            var rem = flat, ia = 0, ib = 0, strideA = 1, strideB = 1
            for d in stride(from: rank - 1, through: 0, by: -1) {
                let index = rem % shape[d]
                rem /= shape[d]
                ia += (pa[d] == 1 ? 0 : index) * strideA
                ib += (pb[d] == 1 ? 0 : index) * strideB
                strideA *= pa[d]
                strideB *= pb[d]
            }
            out[flat] = f(va[ia], vb[ib])
        }
        return Tensor(out, shape: shape)
    }
}
