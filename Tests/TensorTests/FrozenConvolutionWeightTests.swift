@testable import Tensor
import TestSupport
import XCTest

/// Backward-data of a stride-1 convolution whose weight is frozen and larger than its activations
/// (ResNet's 512→512 @7) runs as a forward convolution with the flipped weight, flipped once and
/// kept beside the weight's storage: values equal the definition, the copy is reused, an in-place
/// write of the weight is seen, and a trainable weight of that size keeps the backward-data kernel.
final class FrozenConvolutionWeightTests: XCTestCase {
    /// dL/dx of L = Σ conv(x, W)·g (stride 1, padding 1, 3×3), from the definition, in Double.
    private func expectedInputGradient(_ x: Tensor, _ w: Tensor, _ g: Tensor) -> Tensor {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let o = w.shape[0]
        let wv = w.scalars, gv = g.scalars
        var out = [Float](repeating: 0, count: x.count)
        for ni in 0..<n { for ci in 0..<c { for yy in 0..<h { for xx in 0..<wd {
            var s = 0.0
            for oi in 0..<o { for p in 0..<3 { for q in 0..<3 {
                let i = yy + 1 - p, j = xx + 1 - q          // output position that reads x[yy, xx] through (p, q)
                guard i >= 0, i < h, j >= 0, j < wd else { continue }
                s += Double(gv[((ni * o + oi) * h + i) * wd + j]) * Double(wv[((oi * c + ci) * 3 + p) * 3 + q])
            } } }
            out[((ni * c + ci) * h + yy) * wd + xx] = Float(s)
        } } } }
        return Tensor(out, shape: x.shape)
    }

    private func inputGradient(_ x: Tensor, _ w: Tensor, _ g: Tensor) -> Tensor {
        let leaf = x.requiringGrad()
        (leaf.conv2d(weight: w, padding: 1) * g).sum().backward()
        return leaf.grad!.plain()
    }

    func testFrozenLargeWeightIsFlippedOnceAndFollowsInPlaceWrites() throws {
        // Weight 32·32·9 = 9216 elements against 1·32·4·4 = 512 of input: "large".
        let x = randomTensor([1, 32, 4, 4], seed: 1)
        let w = randomTensor([32, 32, 3, 3], seed: 2, low: -0.2, high: 0.2)
        let g = randomTensor([1, 32, 4, 4], seed: 3)
        let geometry = Tensor.convolutionGeometry(input: x.shape, weight: w.shape, bias: nil, stride: [1, 1],
                                                  padding: [1, 1], dilation: [1, 1], groups: 1, op: "test")
        XCTAssertTrue(DNNL.flipsLargeWeight(geometry))
        try XCTSkipUnless(DNNL.backwardDataByForward(geometry, weightIsFrozen: true) != nil,
                          "backward-data by forward convolution needs oneDNN's brgemm kernels (AVX-512)")

        let first = KernelTrace()
        let dx = KernelTrace.record(into: first) { inputGradient(x, w, g) }
        XCTAssertEqual(first.count("flip-weight"), 1, "\(first.kernels)")
        assertClose(dx, expectedInputGradient(x, w, g), atol: 1e-4, rtol: 1e-4)

        let second = KernelTrace()
        let dx2 = KernelTrace.record(into: second) { inputGradient(x, w, g) }
        XCTAssertEqual(second.count("flip-weight"), 0, "the flipped copy is reused")
        assertClose(dx2, dx, atol: 0, rtol: 0)

        w.withUnsafeMutableFloats { p in for i in p.indices { p[i] *= -3 } }
        let third = KernelTrace()
        let dx3 = KernelTrace.record(into: third) { inputGradient(x, w, g) }
        XCTAssertEqual(third.count("flip-weight"), 1, "an in-place write drops the flipped copy")
        assertClose(dx3, expectedInputGradient(x, w, g), atol: 1e-4, rtol: 1e-4)
    }

    func testTrainableLargeWeightKeepsTheBackwardDataKernel() {
        let x = randomTensor([1, 32, 4, 4], seed: 4).requiringGrad()
        let w = randomTensor([32, 32, 3, 3], seed: 5, low: -0.2, high: 0.2).requiringGrad()
        let g = randomTensor([1, 32, 4, 4], seed: 6)
        let trace = KernelTrace()
        KernelTrace.record(into: trace) { (x.conv2d(weight: w, padding: 1) * g).sum().backward() }
        XCTAssertEqual(trace.count("flip-weight"), 0, "\(trace.kernels)")
        assertClose(x.grad!.plain(), expectedInputGradient(x.detached(), w.detached(), g), atol: 1e-4, rtol: 1e-4)
    }

    func testFrozenSmallWeightIsFlippedOnceToo() throws {
        // Weight 8·8·9 = 576 elements against 2·8·8·8 = 1024 of input: it keeps the flip path anyway.
        let x = randomTensor([2, 8, 8, 8], seed: 7)
        let w = randomTensor([8, 8, 3, 3], seed: 8)
        let g = randomTensor([2, 8, 8, 8], seed: 9)
        let geometry = Tensor.convolutionGeometry(input: x.shape, weight: w.shape, bias: nil, stride: [1, 1],
                                                  padding: [1, 1], dilation: [1, 1], groups: 1, op: "test")
        XCTAssertFalse(DNNL.flipsLargeWeight(geometry))
        try XCTSkipUnless(DNNL.backwardDataByForward(geometry) != nil, "needs oneDNN's brgemm kernels (AVX-512)")
        for expectedFlips in [1, 0] {
            let trace = KernelTrace()
            let dx = KernelTrace.record(into: trace) { inputGradient(x, w, g) }
            XCTAssertEqual(trace.count("flip-weight"), expectedFlips)
            assertClose(dx, expectedInputGradient(x, w, g), atol: 1e-4, rtol: 1e-4)
        }
        // A trainable weight of that size is flipped at every step.
        for _ in 0..<2 {
            let trace = KernelTrace()
            let leaf = x.requiringGrad(), trainable = w.requiringGrad()
            KernelTrace.record(into: trace) { (leaf.conv2d(weight: trainable, padding: 1) * g).sum().backward() }
            XCTAssertEqual(trace.count("flip-weight"), 1)
        }
    }
}
