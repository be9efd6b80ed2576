import TestSupport
import XCTest
@testable import Tensor

final class DropoutTests: XCTestCase {
    func testIdentityWhenNotTrainingOrZeroProbabilityAndGeneratorUntouched() {
        let x = randomTensor([3, 4], seed: 1)
        var g = RandomGenerator(seed: 2)
        let before = g
        XCTAssertEqual(x.dropout(0.5, training: false, generator: &g).scalars, x.scalars)
        XCTAssertEqual(x.dropout(0, generator: &g).scalars, x.scalars)
        XCTAssertEqual(g, before)
    }

    func testProbabilityOneGivesZerosAndZeroGradient() {
        let x = randomTensor([2, 3], seed: 3).requiringGrad()
        var g = RandomGenerator(seed: 4)
        let y = x.dropout(1, generator: &g)
        XCTAssertEqual(y.scalars, [Float](repeating: 0, count: 6))
        y.sum().backward()
        XCTAssertEqual(x.grad?.scalars, [Float](repeating: 0, count: 6))
    }

    func testKeptFractionAndScale() {
        let n = 20_000
        let x = Tensor.full(2, shape: [n])
        var g = RandomGenerator(seed: 5)
        let p: Float = 0.3
        let y = x.dropout(p, generator: &g).scalars
        let kept = y.filter { $0 != 0 }
        // Binomial(20000, 0.7): standard deviation ≈ 65, so ±400 is over 6σ.
        XCTAssertEqual(Double(kept.count), 0.7 * Double(n), accuracy: 400)
        XCTAssertTrue(kept.allSatisfy { abs($0 - 2 / 0.7) < 1e-5 }, "kept values must be scaled by 1/(1 − p)")
        // Neighbouring elements are not correlated: count pairs kept together.
        var both = 0
        for i in stride(from: 0, to: n - 1, by: 2) where y[i] != 0 && y[i + 1] != 0 { both += 1 }
        XCTAssertEqual(Double(both), 0.49 * Double(n / 2), accuracy: 300)
    }

    func testReproducibleFromTheSeedAndDifferentAcrossDraws() {
        let x = randomTensor([64], seed: 6)
        var g1 = RandomGenerator(seed: 7), g2 = RandomGenerator(seed: 7)
        let a = x.dropout(0.5, generator: &g1), b = x.dropout(0.5, generator: &g2)
        XCTAssertEqual(a.scalars, b.scalars)
        XCTAssertEqual(g1, g2)
        let c = x.dropout(0.5, generator: &g1)
        XCTAssertNotEqual(a.scalars, c.scalars, "the generator must advance between calls")
    }

    func testBackwardUsesTheForwardMask() {
        let x = Tensor.ones([50]).requiringGrad()
        var g = RandomGenerator(seed: 8)
        let y = x.dropout(0.25, generator: &g)
        y.sum().backward()
        // dL/dx = mask / (1 − p) = y / x here.
        XCTAssertEqual(x.grad?.scalars, y.scalars)
        let input = randomTensor([4, 5], seed: 9)
        checkGradients([input]) { v in
            var g = RandomGenerator(seed: 10)
            return v[0].dropout(0.4, generator: &g)
        }
    }
}
