@testable import Tensor
import TestSupport
import XCTest

/// `addConv2d`: `y += conv(h, B)` inside the convolution kernel when y's memory is its own and
/// laid out as the convolution's output, with the gradients of the plain sum either way.
final class ConvolutionAccumulateTests: XCTestCase {
    func testAccumulatesInPlaceWithTheGradientsOfTheSum() {
        let x = randomTensor([2, 8, 6, 6], seed: 1)
        let w = randomTensor([16, 8, 3, 3], seed: 2, low: -0.3, high: 0.3)
        let h = randomTensor([2, 4, 6, 6], seed: 3)
        let b = randomTensor([16, 4, 1, 1], seed: 4)
        let g = randomTensor([2, 16, 6, 6], seed: 5)

        // Reference: the composed ops.
        let (x1, h1, b1) = (x.requiringGrad(), h.requiringGrad(), b.requiringGrad())
        let expected = x1.conv2d(weight: w, padding: 1) + h1.conv2d(weight: b1)
        (expected * g).sum().backward()

        let (x2, h2, b2) = (x.requiringGrad(), h.requiringGrad(), b.requiringGrad())
        var y = x2.conv2d(weight: w, padding: 1)
        let memory = ObjectIdentifier(y.storage)
        let trace = KernelTrace()
        KernelTrace.record(into: trace) { y.addConv2d(h2, weight: b2) }
        if ConvolutionLayout.preferred == .channelsLast {
            XCTAssertEqual(trace.count("conv2d.forward-accumulate"), 1, "\(trace.kernels)")
            XCTAssertEqual(ObjectIdentifier(y.storage), memory, "accumulated in y's own memory")
        }
        assertClose(y.plain(), expected.plain(), atol: 1e-4, rtol: 1e-4)
        (y * g).sum().backward()
        assertClose(x2.grad!, x1.grad!, atol: 1e-4, rtol: 1e-4)
        assertClose(h2.grad!, h1.grad!, atol: 1e-4, rtol: 1e-4)
        assertClose(b2.grad!, b1.grad!, atol: 1e-3, rtol: 1e-4)
    }

    func testSharedMemoryIsNotWritten() {
        let x = randomTensor([1, 4, 5, 5], seed: 6)
        let w = randomTensor([8, 4, 3, 3], seed: 7)
        let h = randomTensor([1, 2, 5, 5], seed: 8)
        let b = randomTensor([8, 2, 1, 1], seed: 9)
        var y = x.conv2d(weight: w, padding: 1)
        let before = y.plain().copy()
        let other = y
        y.addConv2d(h, weight: b)
        assertClose(other.plain(), before, atol: 0, rtol: 0)
        assertClose(y.plain(), (before + h.conv2d(weight: b).plain()), atol: 1e-4, rtol: 1e-4)
    }

    func testPlainTensorAndNoGradFallBackToAnAddition() {
        let h = randomTensor([1, 2, 4, 4], seed: 10)
        let b = randomTensor([3, 2, 1, 1], seed: 11)
        let base = randomTensor([1, 3, 4, 4], seed: 12)
        var y = base.copy()
        y.addConv2d(h, weight: b)
        assertClose(y.plain(), base + h.conv2d(weight: b).plain(), atol: 1e-5, rtol: 1e-5)
        var z = base.copy()
        withNoGrad { z.addConv2d(h, weight: b) }
        assertClose(z.plain(), y.plain(), atol: 1e-5, rtol: 1e-5)
    }
}

/// Backward: a convolution adds its input gradient to what the input has accumulated inside the
/// kernel (when that memory is unshared and laid out as its output); the totals are the sums.
final class ConvolutionAccumulatingBackwardTests: XCTestCase {
    func testInputFeedingTwoConvolutionsGetsTheSumOfTheirGradients() {
        let leaf = randomTensor([2, 8, 6, 6], seed: 20).requiringGrad()
        let w1 = randomTensor([16, 8, 3, 3], seed: 21, low: -0.3, high: 0.3)
        let w2 = randomTensor([16, 8, 3, 3], seed: 22, low: -0.3, high: 0.3)
        let g = randomTensor([2, 16, 6, 6], seed: 23)
        let trace = KernelTrace()
        KernelTrace.record(into: trace) {
            let x = leaf * 2                                              // an inner node: gradients stay blocked
            let y = x.conv2d(weight: w1, padding: 1) + x.conv2d(weight: w2, padding: 1)
            (y * g).sum().backward()
        }
        if ConvolutionLayout.preferred == .channelsLast {
            XCTAssertEqual(trace.count("conv2d.backward-data-accumulate"), 1, "\(trace.kernels)")
        }
        // The same gradient through one convolution with W1 + W2.
        let reference = leaf.detached().requiringGrad()
        (((reference * 2).conv2d(weight: w1 + w2, padding: 1)) * g).sum().backward()
        assertClose(leaf.grad!, reference.grad!, atol: 1e-4, rtol: 1e-4)
    }

    func testSharedGradientIsNotWrittenInPlace() {
        // y = conv(x) + x: the add hands the same gradient to both of its inputs; x's convolution
        // must not write into it while the other holder still needs it.
        let leaf = randomTensor([1, 4, 5, 5], seed: 24).requiringGrad()
        let w = randomTensor([4, 4, 3, 3], seed: 25, low: -0.3, high: 0.3)
        let g = randomTensor([1, 4, 5, 5], seed: 26)
        let x = leaf * 1
        ((x.conv2d(weight: w, padding: 1) + x) * g).sum().backward()
        let reference = leaf.detached().requiringGrad()
        let r = reference * 1
        ((r.conv2d(weight: w, padding: 1).plain() + r) * g).sum().backward()
        assertClose(leaf.grad!, reference.grad!, atol: 1e-4, rtol: 1e-4)
    }

    func testAnInputUsedTwiceByOneConvolution() {
        // conv(x, x): input and weight are the same tensor.
        let x = randomTensor([2, 2, 3, 3], seed: 27)
        checkGradients([x]) { t in t[0].conv2d(weight: t[0], padding: 1) }
    }
}
