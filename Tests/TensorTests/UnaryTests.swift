import CDNNL
import Foundation
import TestSupport
import XCTest
@testable import Tensor

/// Values in ±[0.2, 1.2]: away from the kinks of abs, relu and clamp at 0, where finite
/// differences straddling the kink would disagree with any one-sided derivative.
private func awayFromZero(_ shape: [Int], seed: UInt64) -> Tensor {
    let r = randomTensor(shape, seed: seed).scalars
    return Tensor(r.map { $0 < 0 ? $0 - 0.2 : $0 + 0.2 }, shape: shape)
}

/// Applies `f` in Double to every element, for forward checks independent of the code.
private func reference(_ x: Tensor, _ f: (Double) -> Double) -> Tensor {
    Tensor(x.scalars.map { Float(f(Double($0))) }, shape: x.shape)
}

private func geluExact(_ x: Double) -> Double { 0.5 * x * (1 + erf(x / 2.0.squareRoot())) }
private func geluTanh(_ x: Double) -> Double {
    0.5 * x * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
}

/// A copy of `t` in oneDNN's nChw8c layout (padded when the channel count is not a multiple of 8).
private func blocked(_ t: Tensor) -> Tensor {
    var md = dnnl_memory_desc_t()
    let dims = t.shape.map(Int64.init)
    XCTAssertEqual(dnnl_memory_desc_init_by_tag(&md, 4, dims, dnnl_f32, dnnl_nChw8c), dnnl_success)
    return DNNL.reorder(t, to: md)
}

final class UnaryTests: XCTestCase {
    let x = randomTensor([2, 3], seed: 1, low: -2, high: 2)
    let positive = randomTensor([2, 3], seed: 2, low: 0.3, high: 2)

    func testForwardMatchesDoubleReference() {
        assertClose(x.exp(), reference(x) { Foundation.exp($0) })
        assertClose(positive.log(), reference(positive) { Foundation.log($0) })
        assertClose(positive.sqrt(), reference(positive) { $0.squareRoot() })
        assertClose(positive.rsqrt(), reference(positive) { 1 / $0.squareRoot() })
        assertClose(x.pow(3), reference(x) { $0 * $0 * $0 })
        assertClose(x.pow(2), reference(x) { $0 * $0 })
        assertClose(positive.pow(-1.5), reference(positive) { Foundation.pow($0, -1.5) })
        assertClose(x.abs(), reference(x) { Swift.abs($0) })
        assertClose(x.clamped(min: -0.5, max: 1), reference(x) { Swift.min(Swift.max($0, -0.5), 1) })
        assertClose(x.clamped(min: 0.25), reference(x) { Swift.max($0, 0.25) })
        assertClose(x.clamped(max: -0.25), reference(x) { Swift.min($0, -0.25) })
        assertClose(x.relu(), reference(x) { Swift.max($0, 0) })
        assertClose(x.silu(), reference(x) { $0 / (1 + Foundation.exp(-$0)) })
        assertClose(x.sigmoid(), reference(x) { 1 / (1 + Foundation.exp(-$0)) })
        assertClose(x.tanh(), reference(x) { Foundation.tanh($0) })
    }

    func testGELUMatchesErfAndTanhFormulas() {
        let v = Tensor([-3, -1.5, -0.5, 0, 0.1, 0.7, 1, 2.5, 4])
        assertClose(v.gelu(), reference(v, geluExact), atol: 1e-6)
        assertClose(v.gelu(.exact), reference(v, geluExact), atol: 1e-6)
        assertClose(v.gelu(.tanh), reference(v, geluTanh), atol: 1e-6)
        // The two forms differ, slightly: the test must be able to tell them apart.
        XCTAssertGreaterThan(Swift.abs(geluExact(-1.5) - geluTanh(-1.5)), 1e-4)
        // Known values: GELU(1) = Φ(1) = 0.8413447…
        XCTAssertEqual(Tensor(1).gelu().item, 0.841_344_7, accuracy: 1e-6)
    }

    func testGradients() {
        checkGradients([x]) { $0[0].exp() }
        checkGradients([positive]) { $0[0].log() }
        checkGradients([positive]) { $0[0].sqrt() }
        checkGradients([positive]) { $0[0].rsqrt() }
        checkGradients([x]) { $0[0].pow(3) }
        checkGradients([x]) { $0[0].pow(2) }
        checkGradients([positive]) { $0[0].pow(0.5) }
        checkGradients([positive]) { $0[0].pow(-2) }
        checkGradients([x]) { $0[0].pow(0) }
        checkGradients([awayFromZero([2, 3], seed: 3)]) { $0[0].abs() }
        checkGradients([awayFromZero([2, 3], seed: 4)]) { $0[0].relu() }
        checkGradients([x]) { $0[0].gelu(.exact) }
        checkGradients([x]) { $0[0].gelu(.tanh) }
        checkGradients([x]) { $0[0].silu() }
        checkGradients([x]) { $0[0].sigmoid() }
        checkGradients([x]) { $0[0].tanh() }
        // Bounds at ±0.1 (between the ±0.2 gap of the inputs) so no input sits on a boundary.
        let away = awayFromZero([3, 4], seed: 5)
        checkGradients([away]) { $0[0].clamped(min: -0.1, max: 0.1) }
        checkGradients([away]) { $0[0].clamped(min: -0.1) }
        checkGradients([away]) { $0[0].clamped(max: 0.1) }
        // A boundary inside the data: values passing and values stopped.
        let spread = Tensor([-1.1, -0.9, -0.5, -0.2, 0.3, 0.6, 0.8, 1.0], shape: [2, 4])
        checkGradients([spread]) { $0[0].clamped(min: -0.7, max: 0.7) }
    }

    func testGELUAndSiLUDerivativesMatchClosedForms() {
        let v = Tensor([-2.5, -1, -0.3, 0, 0.4, 1.7])
        func derivative(_ f: (Tensor) -> Tensor) -> [Float] {
            let leaf = v.requiringGrad()
            f(leaf).sum().backward()
            return leaf.grad!.scalars
        }
        let values = v.scalars.map(Double.init)
        let exact = values.map { x in 0.5 * (1 + erf(x / 2.0.squareRoot())) + x * Foundation.exp(-x * x / 2) / (2 * Double.pi).squareRoot() }
        let c = (2 / Double.pi).squareRoot()
        let approx = values.map { x -> Double in
            let t = Foundation.tanh(c * (x + 0.044715 * x * x * x))
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)
        }
        let silu = values.map { x -> Double in let s = 1 / (1 + Foundation.exp(-x)); return s * (1 + x * (1 - s)) }
        assertClose(Tensor(derivative { $0.gelu(.exact) }), Tensor(exact.map(Float.init)), atol: 1e-6)
        assertClose(Tensor(derivative { $0.gelu(.tanh) }), Tensor(approx.map(Float.init)), atol: 1e-6)
        assertClose(Tensor(derivative { $0.silu() }), Tensor(silu.map(Float.init)), atol: 1e-6)
    }

    func testTranscendentalsRunOnOneDNNEltwise() {
        let trace = KernelTrace()
        KernelTrace.record(into: trace) {
            let leaf = x.requiringGrad()
            leaf.gelu().sum().backward()
        }
        XCTAssertEqual(trace.count("eltwise.geluErf"), 1)
        XCTAssertEqual(trace.count("eltwise.geluErf.backward"), 1)
    }

    func testTensorPowerGradients() {
        let base = randomTensor([2, 3], seed: 6, low: 0.5, high: 2)
        let exponent = randomTensor([3], seed: 7, low: -1.5, high: 2)
        assertClose(base.pow(exponent), Tensor(zip(base.scalars, exponent.scalars + exponent.scalars).map { powf($0, $1) },
                                              shape: [2, 3]))
        checkGradients([base, exponent]) { $0[0].pow($0[1]) }
        checkGradients([base, exponent], wrt: [1]) { $0[0].pow($0[1]) }
    }

    func testGradientsAtKinksFollowPyTorch() {
        func grad(_ values: [Float], _ f: (Tensor) -> Tensor) -> [Float] {
            let leaf = Tensor(values).requiringGrad()
            f(leaf).sum().backward()
            return leaf.grad!.scalars
        }
        XCTAssertEqual(grad([-1, 0, 2]) { $0.relu() }, [0, 0, 1], "relu'(0) = 0")
        XCTAssertEqual(grad([-1, 0, 2]) { $0.abs() }, [-1, 0, 1], "abs'(0) = 0")
        // Both clamp boundaries let the gradient through.
        XCTAssertEqual(grad([-2, -1, 0, 1, 2]) { $0.clamped(min: -1, max: 1) }, [0, 1, 1, 1, 0])
        XCTAssertEqual(grad([-1, 0, 3]) { $0.pow(0) }, [0, 0, 0], "x⁰ has gradient 0, even at 0")
        XCTAssertEqual(grad([1, 2]) { $0.pow(1) }, [1, 1])
    }

    func testEdgeValues() {
        XCTAssertTrue(Tensor([Float.nan]).relu().item.isNaN, "relu keeps NaN, as PyTorch does")
        XCTAssertTrue(Tensor([Float.nan]).clamped(min: 0, max: 1).item.isNaN)
        XCTAssertEqual(Tensor([0.5, 3]).clamped(min: 2, max: 1).scalars, [1, 1], "min > max gives max")
        XCTAssertEqual(Tensor([-100, 100]).sigmoid().scalars, [0, 1])
        XCTAssertEqual(Tensor([-100, 100]).silu().scalars, [-0, 100])
        XCTAssertEqual(Tensor([0]).log().item, -.infinity)
        XCTAssertEqual(Tensor([Float]()).exp().shape, [0])
        XCTAssertEqual(Tensor(2).exp().shape, [])
    }

    func testOnlyNeededTensorsAreCaptured() {
        // relu keeps its output, not its input.
        let p = randomTensor([4], seed: 8).requiringGrad()
        weak var input: TensorStorage?
        var y: Tensor
        do {
            let h = p * 2
            input = h.storage
            y = h.relu()
        }
        XCTAssertNil(input, "relu retained its input")
        y.sum().backward()
        XCTAssertNotNil(p.grad)
        // Nothing is kept for an input that needs no gradient.
        weak var frozen: TensorStorage?
        do {
            let h = randomTensor([4], seed: 9)
            frozen = h.storage
            y = h.gelu()
        }
        XCTAssertNil(frozen)
        XCTAssertFalse(y.requiresGrad)
    }

    func testBlockedLayoutsStayBlockedThroughForwardAndBackward() {
        for channels in [16, 3] {          // without and with padding
            let plainX = randomTensor([2, channels, 2, 3], seed: 10)
            let plainG = randomTensor([2, channels, 2, 3], seed: 11)
            let bx = blocked(plainX), bg = blocked(plainG)
            XCTAssertTrue(bx.isBlocked)
            // relu through Swift loops, the others through oneDNN eltwise (exp and sigmoid map 0
            // to nonzero values, which oneDNN keeps out of the padding).
            let ops: [(Tensor) -> Tensor] = [{ $0.relu() }, { $0.gelu() }, { $0.gelu(.tanh) }, { $0.silu() },
                                             { $0.tanh() }, { $0.exp() }, { $0.sigmoid() }]
            for op in ops {
                let leaf = bx.requiringGrad()
                let y = op(leaf)
                XCTAssertTrue(y.isBlocked, "C=\(channels): forward left the blocked layout")
                let trace = KernelTrace()
                KernelTrace.record(into: trace) { y.backward(bg) }
                XCTAssertEqual(trace.count("reorder"), 0, "C=\(channels): backward reordered")
                XCTAssertTrue(leaf.grad!.isBlocked)
                // Same numbers as in plain layout.
                let reference = plainX.requiringGrad()
                op(reference).backward(plainG)
                assertClose(y, op(plainX))
                assertClose(leaf.grad!, reference.grad!)
            }
            // The padding stays zero even where f(0) ≠ 0 (nChw8c: [N][C/8][H][W][8], channels 3..<8 pad).
            if channels == 3 {
                for padded in [bx.exp(), bx.sigmoid()] {
                    let raw = UnsafeBufferPointer(start: padded.storage.floats, count: padded.format!.elementCount)
                    XCTAssertEqual(raw.count, 2 * 2 * 3 * 8)
                    XCTAssertTrue((0..<raw.count).filter { $0 % 8 >= 3 }.allSatisfy { raw[$0] == 0 }, "padding not zero")
                }
            }
            // A plain gradient arriving at a blocked activation is brought into its layout.
            let leaf = bx.requiringGrad()
            leaf.relu().backward(plainG)
            XCTAssertTrue(leaf.grad!.isBlocked)
            assertClose(leaf.grad!, Tensor(zip(plainX.scalars, plainG.scalars).map { $0 > 0 ? $1 : 0 }, shape: plainX.shape))
        }
    }
}
