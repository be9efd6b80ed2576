import Tensor
import TestSupport
import XCTest

/// `[..., M, K] · [K, N]` (a batch against one shared matrix, as a Linear layer on [N, T, H]
/// activations) runs as one product over all rows; its values and gradients are those of the
/// per-batch products.
final class MatmulSharedMatrixTests: XCTestCase {
    func testBatchAgainstSharedMatrixIsOneProduct() {
        let x = randomTensor([2, 3, 4, 5], seed: 1), w = randomTensor([6, 5], seed: 2)
        let trace = KernelTrace()
        let y = KernelTrace.record(into: trace) { x.matmul(w, transposeB: true) }
        XCTAssertEqual(trace.count("sgemm"), 1)
        XCTAssertEqual(y.shape, [2, 3, 4, 6])
        // Independently: each row of x against each row of w.
        let xs = x.scalars, ws = w.scalars
        var expected = [Float](repeating: 0, count: 2 * 3 * 4 * 6)
        for r in 0..<24 {
            for o in 0..<6 {
                var s: Float = 0
                for k in 0..<5 { s += xs[r * 5 + k] * ws[o * 5 + k] }
                expected[r * 6 + o] = s
            }
        }
        assertClose(y, Tensor(expected, shape: [2, 3, 4, 6]), atol: 1e-5, rtol: 1e-5)
        let plain = x.matmul(w.transposed().copy())
        assertClose(plain, y, atol: 1e-5, rtol: 1e-5, "without transposeB")
    }

    func testGradientsThroughTheSharedMatrix() {
        checkGradients([randomTensor([2, 3, 4], seed: 3), randomTensor([5, 4], seed: 4)]) { xs in
            xs[0].matmul(xs[1], transposeB: true)
        }
        checkGradients([randomTensor([3, 2, 4], seed: 5), randomTensor([4, 3], seed: 6)]) { xs in
            xs[0].matmul(xs[1])
        }
    }
}
