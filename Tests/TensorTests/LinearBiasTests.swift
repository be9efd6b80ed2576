@testable import Tensor
import TestSupport
import XCTest

/// `Tensor.linear` (x·Wᵀ + b with the bias inside the product) against loops from the definition,
/// on both of its kernels, with every gradient; and `addMatmul`, which accumulates into a tensor's
/// own memory only when nothing else refers to it.
final class LinearBiasTests: XCTestCase {
    /// x·Wᵀ + b in Double, for x [m, k], W [n, k], b [n].
    private func naiveLinear(_ x: Tensor, _ w: Tensor, _ b: Tensor) -> Tensor {
        let (m, k, n) = (x.shape[0], x.shape[1], w.shape[0])
        let xs = x.scalars, ws = w.scalars, bs = b.scalars
        var out = [Float](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n {
            var s = Double(bs[j])
            for p in 0..<k { s += Double(xs[i * k + p]) * Double(ws[j * k + p]) }
            out[i * n + j] = Float(s)
        } }
        return Tensor(out, shape: [m, n])
    }

    func testValuesAndGradientsOnBothKernels() {
        // n ≤ k runs on the matmul primitive (bias inside it), n > k on sgemm (bias rows, beta 1).
        for (m, k, n) in [(64, 320, 256), (80, 128, 640)] {
            let x = randomTensor([m, k], seed: 1).requiringGrad()
            let w = randomTensor([n, k], seed: 2, low: -0.2, high: 0.2).requiringGrad()
            let b = randomTensor([n], seed: 3).requiringGrad()
            let g = randomTensor([m, n], seed: 4)
            let y = Tensor.linear(x, weight: w, bias: b)
            assertClose(y, naiveLinear(x.detached(), w.detached(), b.detached()), atol: 1e-4, rtol: 1e-4)
            (y * g).sum().backward()

            // The same gradients through the composed ops (matmul, then a broadcast add).
            let x2 = x.detached().requiringGrad(), w2 = w.detached().requiringGrad(), b2 = b.detached().requiringGrad()
            ((x2.matmul(w2, transposeB: true) + b2) * g).sum().backward()
            assertClose(x.grad!, x2.grad!, atol: 1e-4, rtol: 1e-4)
            assertClose(w.grad!, w2.grad!, atol: 1e-3, rtol: 1e-4)
            assertClose(b.grad!, b2.grad!, atol: 1e-4, rtol: 1e-4)
            // db = Σ_rows g, exactly what the loop says.
            let gs = g.scalars
            let expectedBias = (0..<n).map { j in Float((0..<m).reduce(0.0) { $0 + Double(gs[$1 * n + j]) }) }
            assertClose(b.grad!, Tensor(expectedBias, shape: [n]), atol: 1e-4, rtol: 1e-4)
        }
    }

    func testLeadingDimensionsAndFrozenWeight() {
        let x = randomTensor([2, 40, 96], seed: 5).requiringGrad()
        let w = randomTensor([768, 96], seed: 6, low: -0.1, high: 0.1)         // frozen
        let b = randomTensor([768], seed: 7)                                     // frozen
        let trace = KernelTrace()
        let y = KernelTrace.record(into: trace) { Tensor.linear(x, weight: w, bias: b) }
        XCTAssertEqual(y.shape, [2, 40, 768])
        assertClose(y.reshaped([80, 768]), naiveLinear(x.detached().reshaped([80, 96]), w, b), atol: 1e-4, rtol: 1e-4)
        let g = randomTensor([2, 40, 768], seed: 8)
        let backward = KernelTrace()
        KernelTrace.record(into: backward) { (y * g).sum().backward() }
        XCTAssertEqual(backward.count("matmul-packed"), 1, "a frozen weight's input gradient runs packed: \(backward.kernels)")
        assertClose(x.grad!, g.reshaped([80, 768]).matmul(w).reshaped([2, 40, 96]), atol: 1e-4, rtol: 1e-4)
    }

    func testSmallProductsAndNoBiasFallBackToMatmul() {
        let x = randomTensor([3, 5], seed: 9)
        let w = randomTensor([4, 5], seed: 10)
        let b = randomTensor([4], seed: 11)
        assertClose(Tensor.linear(x, weight: w, bias: b), naiveLinear(x, w, b), atol: 1e-5, rtol: 1e-5)
        assertClose(Tensor.linear(x, weight: w, bias: nil), naiveLinear(x, w, Tensor.zeros([4])), atol: 1e-5, rtol: 1e-5)
    }

    func testInputFeedingSeveralLinearsGetsTheSumOfTheirGradients() {
        // x feeds three frozen projections (packed, accumulating into x's gradient so far), a small
        // trainable one without bias (sgemm), and a residual path (its gradient is shared with the
        // add's other input, so nothing may write into it).
        let leaf = randomTensor([2, 40, 96], seed: 30).requiringGrad()
        let ws = (0..<3).map { randomTensor([256, 96], seed: 31 + UInt64($0), low: -0.1, high: 0.1) }
        let bs = (0..<3).map { randomTensor([256], seed: 34 + UInt64($0)) }
        let small = randomTensor([8, 96], seed: 37).requiringGrad()
        let g = randomTensor([2, 40, 256], seed: 38)
        let gSmall = randomTensor([2, 40, 8], seed: 39)
        func loss(_ x: Tensor, _ linear: (Tensor, Tensor, Tensor?) -> Tensor, _ smallWeight: Tensor) -> Tensor {
            var total = (x * g.slice(axis: 2, start: 0, end: 96)).sum()
            for i in 0..<3 { total = total + (linear(x, ws[i], bs[i]) * g).sum() }
            return total + (linear(x, smallWeight, nil) * gSmall).sum()
        }
        loss(leaf * 1, { Tensor.linear($0, weight: $1, bias: $2) }, small).backward()
        let reference = leaf.detached().requiringGrad(), referenceSmall = small.detached().requiringGrad()
        loss(reference * 1, { x, w, b in
            let y = x.matmul(w, transposeB: true)
            return b.map { y + $0 } ?? y
        }, referenceSmall).backward()
        assertClose(leaf.grad!, reference.grad!, atol: 1e-4, rtol: 1e-4)
        assertClose(small.grad!, referenceSmall.grad!, atol: 1e-3, rtol: 1e-4)
    }

    func testAddMatmulAccumulatesInPlaceOnlyIntoUnsharedMemory() {
        let h = randomTensor([64, 8], seed: 12).requiringGrad()
        let bMatrix = randomTensor([96, 8], seed: 13).requiringGrad()
        let base = randomTensor([64, 96], seed: 14)
        let expected = base + h.detached().matmul(bMatrix.detached(), transposeB: true) * 0.5

        // Fresh, unshared: the result lives in the same memory.
        var y = base.copy()
        let memory = ObjectIdentifier(y.storage)
        y.addMatmul(h, bMatrix, transposeB: true, alpha: 0.5)
        XCTAssertEqual(ObjectIdentifier(y.storage), memory)
        assertClose(y, expected, atol: 1e-5, rtol: 1e-5)

        // Shared: the other holder keeps its values.
        var z = base.copy()
        let other = z
        z.addMatmul(h, bMatrix, transposeB: true, alpha: 0.5)
        XCTAssertNotEqual(ObjectIdentifier(z.storage), ObjectIdentifier(other.storage))
        assertClose(other, base, atol: 0, rtol: 0)
        assertClose(z, expected, atol: 1e-5, rtol: 1e-5)

        // Gradients flow to both factors and to what was accumulated into.
        let p = base.copy().requiringGrad()
        var q = p * 1
        q.addMatmul(h, bMatrix, transposeB: true, alpha: 0.5)
        q.sum().backward()
        assertClose(p.grad!, Tensor.full(1, shape: [64, 96]), atol: 0, rtol: 0)
        XCTAssertEqual(h.grad?.shape, [64, 8])
        XCTAssertEqual(bMatrix.grad?.shape, [96, 8])
    }
}
