@testable import Tensor
import TestSupport
import XCTest

/// The input gradient `g · W` of a frozen weight runs on a packed copy of W (`DNNL.matmulPacked`):
/// its values are those of the plain product, the copy is made once and reused, and an in-place
/// write of W (an optimizer step) makes the next product use the new values.
final class MatmulPackedTests: XCTestCase {
    /// `x · Wᵀ` for x [m, k] requiring a gradient and a frozen W [n, k]; returns x's gradient for an
    /// output gradient of `g`.
    private func inputGradient(_ x: Tensor, _ w: Tensor, _ g: Tensor, transposeB: Bool) -> Tensor {
        let leaf = x.requiringGrad()
        let y = leaf.matmul(w, transposeB: transposeB)
        (y * g).sum().backward()
        return leaf.grad!
    }

    /// Naive `g · W` (transposeB) or `g · Wᵀ`, in Double.
    private func expected(_ g: Tensor, _ w: Tensor, transposeB: Bool) -> Tensor {
        let (m, n) = (g.shape[0], g.shape[1])
        let k = transposeB ? w.shape[1] : w.shape[0]
        let gs = g.scalars, ws = w.scalars
        var out = [Float](repeating: 0, count: m * k)
        for i in 0..<m {
            for j in 0..<k {
                var s = 0.0
                for o in 0..<n {
                    let wv = transposeB ? ws[o * k + j] : ws[j * n + o]
                    s += Double(gs[i * n + o]) * Double(wv)
                }
                out[i * k + j] = Float(s)
            }
        }
        return Tensor(out, shape: [m, k])
    }

    func testFrozenWeightGradientUsesThePackedProduct() {
        let (m, k, n) = (64, 256, 320)
        for transposeB in [true, false] {
            let x = randomTensor([m, k], seed: 1)
            let w = randomTensor(transposeB ? [n, k] : [k, n], seed: 2)
            let g = randomTensor([m, n], seed: 3)
            let trace = KernelTrace()
            let dx = KernelTrace.record(into: trace) { inputGradient(x, w, g, transposeB: transposeB) }
            XCTAssertEqual(trace.count("matmul-packed"), 1, "transposeB \(transposeB): \(trace.kernels)")
            XCTAssertEqual(trace.count("pack"), 1)
            assertClose(dx, expected(g, w, transposeB: transposeB), atol: 1e-4, rtol: 1e-4)

            // A second step reuses the packed copy.
            let again = KernelTrace()
            let dx2 = KernelTrace.record(into: again) { inputGradient(x, w, g, transposeB: transposeB) }
            XCTAssertEqual(again.count("pack"), 0)
            assertClose(dx2, dx, atol: 0, rtol: 0)

            // An in-place write (as an optimizer's) makes the next product see the new values.
            w.withUnsafeMutableFloats { p in for i in p.indices { p[i] *= -2 } }
            let changed = KernelTrace()
            let dx3 = KernelTrace.record(into: changed) { inputGradient(x, w, g, transposeB: transposeB) }
            XCTAssertEqual(changed.count("pack"), 1)
            assertClose(dx3, expected(g, w, transposeB: transposeB), atol: 1e-4, rtol: 1e-4)
        }
    }

    func testTrainableWeightIsNotPacked() {
        let x = randomTensor([64, 256], seed: 4).requiringGrad()
        let w = randomTensor([256, 256], seed: 5).requiringGrad()
        let trace = KernelTrace()
        KernelTrace.record(into: trace) { x.matmul(w, transposeB: true).sum().backward() }
        XCTAssertEqual(trace.count("matmul-packed"), 0)
        XCTAssertEqual(trace.count("pack"), 0)
        XCTAssertNotNil(w.grad)
    }

    func testSmallProductsStayOnSgemm() {
        let x = randomTensor([8, 16], seed: 6).requiringGrad()
        let w = randomTensor([16, 16], seed: 7)
        let trace = KernelTrace()
        KernelTrace.record(into: trace) { x.matmul(w, transposeB: true).sum().backward() }
        XCTAssertEqual(trace.count("matmul-packed"), 0)
        assertClose(x.grad!, Tensor.ones([8, 16]).matmul(w), atol: 1e-5, rtol: 1e-5)
    }
}

/// A Linear layer's forward `x · Wᵀ` that keeps or shrinks the width runs on oneDNN's matmul
/// primitive (reading Wᵀ in place); its values and gradients are those of the plain product.
final class MatmulTransposedWeightTests: XCTestCase {
    func testNarrowingProductRunsOnTheMatmulPrimitive() {
        let x = randomTensor([64, 320], seed: 8).requiringGrad()
        let w = randomTensor([256, 320], seed: 9).requiringGrad()
        let trace = KernelTrace()
        let y = KernelTrace.record(into: trace) { x.matmul(w, transposeB: true) }
        XCTAssertEqual(trace.count("matmul"), 1, "\(trace.kernels)")
        // Independently: each row of x against each row of w, in Double.
        let xs = x.scalars, ws = w.scalars
        var expected = [Float](repeating: 0, count: 64 * 256)
        for i in 0..<64 {
            for o in 0..<256 {
                var s = 0.0
                for k in 0..<320 { s += Double(xs[i * 320 + k]) * Double(ws[o * 320 + k]) }
                expected[i * 256 + o] = Float(s)
            }
        }
        assertClose(y, Tensor(expected, shape: [64, 256]), atol: 1e-4, rtol: 1e-4)
        y.sum().backward()
        // d/dx Σ x·Wᵀ = 1·W (column sums of W per input feature), d/dW = 1ᵀ·x.
        assertClose(x.grad!, Tensor.ones([64, 256]).matmul(w.detached()), atol: 1e-4, rtol: 1e-4)
        assertClose(w.grad!, Tensor.ones([256, 64]).matmul(x.detached()), atol: 1e-4, rtol: 1e-4)
    }

    func testWideningProductStaysOnSgemm() {
        let x = randomTensor([64, 256], seed: 10), w = randomTensor([320, 256], seed: 11)
        let trace = KernelTrace()
        _ = KernelTrace.record(into: trace) { x.matmul(w, transposeB: true) }
        XCTAssertEqual(trace.count("matmul"), 0)
        XCTAssertEqual(trace.count("sgemm"), 1)
    }
}
