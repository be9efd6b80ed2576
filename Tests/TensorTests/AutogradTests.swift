import TestSupport
import XCTest
@testable import Tensor

final class AutogradTests: XCTestCase {
    func testBroadcastArithmeticGradients() {
        let a = randomTensor([2, 3, 4], seed: 1)
        let b = randomTensor([3, 1], seed: 2)
        let c = randomTensor([4], seed: 3, low: 0.5, high: 2)
        checkGradients([a, b, c]) { x in (x[0] + x[1]) * x[2] - x[0] / x[2] }
    }

    func testMatmulGradientsWithTransposes() {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = randomTensor(ta ? [2, 4, 3] : [2, 3, 4], seed: 4)
            let b = randomTensor(tb ? [5, 4] : [4, 5], seed: 5)
            checkGradients([a, b]) { x in x[0].matmul(x[1], transposeA: ta, transposeB: tb) }
        }
    }

    func testMatmulMatchesNaiveProduct() {
        let a = randomTensor([3, 4], seed: 6), b = randomTensor([4, 2], seed: 7)
        let av = a.scalars, bv = b.scalars
        var expected = [Float](repeating: 0, count: 6)
        for i in 0..<3 { for j in 0..<2 { for k in 0..<4 { expected[i * 2 + j] += av[i * 4 + k] * bv[k * 2 + j] } } }
        assertClose(a.matmul(b), Tensor(expected, shape: [3, 2]))
    }

    func testSumMeanPermuteReshapeGradients() {
        let a = randomTensor([2, 3, 4], seed: 8)
        checkGradients([a]) { x in x[0].sum(axes: [0, 2], keepDims: true) * x[0].mean(axis: 1, keepDims: true) }
        checkGradients([a]) { x in x[0].permuted([2, 0, 1]).reshaped([4, 6]).transposed() }
    }

    func testGradientsAccumulateAcrossBackwardCalls() {
        let w = Tensor([1, 2, 3]).requiringGrad()
        (w * 2).sum().backward()
        (w * 3).sum().backward()
        XCTAssertEqual(w.grad?.scalars, [5, 5, 5])
    }

    func testNoGradScopeRecordsNothing() {
        let w = Tensor([1, 2]).requiringGrad()
        let y = withNoGrad { w * 3 }
        XCTAssertFalse(y.requiresGrad)
        XCTAssertTrue((w * 3).requiresGrad)
    }

    func testGraphIsReleasedAfterBackward() {
        let w = Tensor([1, 2]).requiringGrad()
        weak var captured: TensorStorage?
        var y: Tensor
        do {
            let k = Tensor([3, 4])
            captured = k.storage
            let h = w * k                    // mul keeps k alive for w's gradient
            y = (h * h).sum()
        }
        XCTAssertNotNil(captured, "the tape should hold k until backward")
        y.backward()
        XCTAssertNil(captured, "backward should release the tape and what it captured")
        XCTAssertEqual(w.grad?.scalars, [18, 64])   // d/dw (3w)² + (4w)² = 18w, 32w
    }

    func testFrozenOperandsGradientIsNeitherComputedNorItsInputRetained() {
        // y = x · Wᵀ with W frozen: dL/dx needs W, not x; dL/dW is never computed.
        let w = randomTensor([3, 4], seed: 9)              // frozen weight
        let p = randomTensor([2, 4], seed: 10).requiringGrad()
        weak var activationStorage: TensorStorage?
        var loss: Tensor
        do {
            let x = p * 2                                    // an activation that requires grad
            activationStorage = x.storage
            loss = x.matmul(w, transposeB: true).sum()
        }
        XCTAssertNil(activationStorage, "the activation was retained although only W's gradient needs it")
        let trace = KernelTrace()
        KernelTrace.record(into: trace) { loss.backward() }
        XCTAssertEqual(trace.count("sgemm"), 1, "only dL/dx should run a GEMM")
        XCTAssertNil(w.grad)
        XCTAssertEqual(p.grad?.shape, [2, 4])
    }

    func testAddAndSubtractRetainNeitherOperand() {
        let w = Tensor([1, 2]).requiringGrad()
        weak var intermediate: TensorStorage?
        var y: Tensor
        do {
            let h = w * 2
            intermediate = h.storage
            y = ((h + w) - h).sum()
        }
        XCTAssertNil(intermediate, "a sum's gradient needs neither operand, so the tape must not keep them")
        y.backward()
        XCTAssertEqual(w.grad?.scalars, [1, 1])
    }

    func testGradientCheckCatchesAWrongGradient() {
        // A deliberately wrong backward: the checker must fail it.
        let x = randomTensor([3], seed: 11)
        let r = gradientCheck([x]) { v in
            Tensor.record(v[0].detached() * v[0].detached(), op: "bad-square", inputs: [v[0]]) { g in [g] }
        }
        XCTAssertFalse(r.passed)
    }
}

final class AddingMatmulTests: XCTestCase {
    func testMatchesSumOfProductAndGradients() {
        let base = randomTensor([2, 3, 4], seed: 1), a = randomTensor([2, 3, 5], seed: 2)
        for transposeB in [false, true] {
            let b = randomTensor(transposeB ? [4, 5] : [5, 4], seed: 3)
            assertClose(base.addingMatmul(a, b, transposeB: transposeB, alpha: 0.7),
                        base + a.matmul(b, transposeB: transposeB) * 0.7)
            checkGradients([base, a, b]) { x in x[0].addingMatmul(x[1], x[2], transposeB: transposeB, alpha: 0.7) }
        }
    }
}
