import TestSupport
import XCTest
@testable import Tensor

/// Activations kept in oneDNN's blocked layouts between layers: values are never visible in the
/// blocked order, plain ops convert, oneDNN ops consume them in place, and gradients may arrive
/// in either layout.
final class BlockedLayoutTests: XCTestCase {
    func testPlainToBlockedToPlainRoundTrip() {
        let x = randomTensor([2, 16, 3, 5], seed: 1)
        let w = randomTensor([16, 16, 1, 1], seed: 2)
        let format = x.conv2d(weight: w).format!
        let blocked = DNNL.reorder(x, to: format.desc)
        XCTAssertTrue(blocked.isBlocked)
        XCTAssertNotEqual(Array(UnsafeBufferPointer(start: blocked.storage.floats, count: x.count)), x.scalars,
                          "the blocked buffer orders elements differently")
        XCTAssertEqual(blocked.scalars, x.scalars)
        XCTAssertEqual(blocked.plain().scalars, x.scalars)
        XCTAssertFalse(blocked.plain().isBlocked)
    }

    func testChannelPaddedLayoutReadsBackCorrectly() {
        // 3 output channels in an 8- or 16-channel block: the buffer holds padding.
        let x = randomTensor([2, 16, 4, 4], seed: 3)
        let w = randomTensor([3, 16, 3, 3], seed: 4)
        let y = x.conv2d(weight: w, padding: 1)
        assertClose(y, naiveConv2d(x, w, nil, padding: (1, 1)), atol: 1e-4)
        if let f = y.format { XCTAssertTrue(f.hasPadding || f.byteCount == y.count * 4) }
        // Plain ops on it (through plain()) and a oneDNN op on it (in place) agree.
        assertClose(y * 2, Tensor(y.scalars.map { $0 * 2 }, shape: y.shape))
        assertClose(y.maxPool2d(kernelSize: 2), naivePool2d(y.plain(), kernel: (2, 2), stride: (2, 2), mode: "max"))
    }

    func testElementwiseResidualKeepsLayoutAndFeedsTheNextConvWithoutReorder() {
        let x = randomTensor([1, 16, 6, 6], seed: 5)
        let w1 = randomTensor([16, 16, 3, 3], seed: 6), w2 = randomTensor([16, 16, 3, 3], seed: 7)
        let h = x.conv2d(weight: w1, padding: 1)
        let trace = KernelTrace()
        let out = KernelTrace.record(into: trace) { () -> Tensor in
            let r = h + h.conv2d(weight: w2, padding: 1)     // a residual connection
            XCTAssertTrue(r.isBlocked)
            return r.conv2d(weight: w2, padding: 1)
        }
        XCTAssertEqual(trace.count("reorder"), 2, "only the two weight reorders: \(trace.kernels)")
        let hp = naiveConv2d(x, w1, nil, padding: (1, 1))
        let rp = hp + naiveConv2d(hp, w2, nil, padding: (1, 1))
        assertClose(out, naiveConv2d(rp, w2, nil, padding: (1, 1)), atol: 1e-3, rtol: 1e-3)
    }

    func testFrozenAndTrainableConvOutputsShareALayout() {
        // A LoRA-style sum: the frozen base conv records nothing, the adapter conv records.
        let x = randomTensor([1, 16, 6, 6], seed: 15)
        let base = randomTensor([16, 16, 3, 3], seed: 16), adapter = randomTensor([16, 16, 3, 3], seed: 17)
        let b = x.conv2d(weight: base, padding: 1)
        let a = x.conv2d(weight: adapter.requiringGrad(), padding: 1)
        XCTAssertFalse(b.requiresGrad)
        XCTAssertTrue(a.requiresGrad)
        XCTAssertEqual(b.format, a.format, "one layout per grad mode, whether or not a call records")
        let trace = KernelTrace()
        let sum = KernelTrace.record(into: trace) { a + b }
        XCTAssertTrue(sum.isBlocked)
        XCTAssertEqual(trace.count("reorder"), 0)
    }

    func testInferenceChainNeedsNoReorderBetweenLayers() {
        let x = randomTensor([1, 16, 6, 6], seed: 18)
        let w = randomTensor([16, 16, 3, 3], seed: 19)
        let trace = KernelTrace()
        let y = withNoGrad {
            KernelTrace.record(into: trace) {
                (x.conv2d(weight: w, padding: 1) + x.conv2d(weight: w, padding: 1)).conv2d(weight: w, padding: 1)
            }
        }
        // The input once per first-layer conv (at most) and each weight; nothing between layers.
        XCTAssertLessThanOrEqual(trace.count("reorder"), 5, "\(trace.kernels)")
        let h = naiveConv2d(x, w, nil, padding: (1, 1))
        assertClose(y, naiveConv2d(h + h, w, nil, padding: (1, 1)), atol: 1e-3, rtol: 1e-3)
    }

    func testZeroPreservingUnaryKernelKeepsLayout() {
        let y = randomTensor([1, 16, 3, 3], seed: 8).conv2d(weight: randomTensor([16, 16, 1, 1], seed: 9))
        let r = Tensor.unaryKernel(y, op: "max0", zeroPreserving: true) { Swift.max($0, 0) }
        XCTAssertTrue(r.isBlocked)
        XCTAssertEqual(r.scalars, y.scalars.map { Swift.max($0, 0) })
    }

    func testGradientArrivingBlockedOrPlainGivesTheSameResult() {
        let x = randomTensor([2, 16, 4, 4], seed: 10)
        let w = randomTensor([16, 16, 3, 3], seed: 11)
        let seed = randomTensor([2, 16, 4, 4], seed: 12)

        func grads(blockedSeed: Bool) -> (Tensor, Tensor) {
            let xl = x.requiringGrad(), wl = w.requiringGrad()
            let y = (xl * 1).conv2d(weight: wl, padding: 1)
            XCTAssertTrue(y.isBlocked)
            let s = blockedSeed ? DNNL.reorder(seed, to: y.format!.desc) : seed
            XCTAssertEqual(s.isBlocked, blockedSeed)
            y.backward(s)
            return (xl.grad!, wl.grad!)
        }
        let (gxPlain, gwPlain) = grads(blockedSeed: false)
        let (gxBlocked, gwBlocked) = grads(blockedSeed: true)
        assertClose(gxBlocked, gxPlain, atol: 1e-5)
        assertClose(gwBlocked, gwPlain, atol: 1e-4)
        XCTAssertFalse(gwPlain.isBlocked, "weight gradients are plain, for optimizers")
        // dL/dx of Σ seed ⊙ conv(x) is the transposed convolution of seed; check one element by hand.
        let sv = seed.scalars, wv = w.scalars
        var expected: Float = 0                    // x[0, 0, 1, 1]
        for o in 0..<16 { for p in 0..<3 { for q in 0..<3 {
            let i = 1 + 1 - p, j = 1 + 1 - q       // output position that reads x[1, 1] through W[o, 0, p, q]
            guard i >= 0, i < 4, j >= 0, j < 4 else { continue }
            expected += sv[(o * 4 + i) * 4 + j] * wv[(o * 16 + 0) * 9 + p * 3 + q]
        } } }
        XCTAssertEqual(gxPlain.scalars[5], expected, accuracy: 1e-4)
    }

    func testGradientsAccumulateAcrossLayoutsAtABranch() {
        // x feeds a conv (blocked gradient) and a plain op (plain gradient): the sum must be right.
        let x = randomTensor([1, 16, 2, 2], seed: 13)
        let w = randomTensor([16, 16, 1, 1], seed: 14)
        checkGradients([x, w], wrt: [0]) { t in
            let h = t[0] * 1.5
            return h.conv2d(weight: t[1]) + h * h
        }
    }
}
