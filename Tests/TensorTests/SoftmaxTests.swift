import Foundation
import TestSupport
import XCTest
@testable import Tensor

final class SoftmaxTests: XCTestCase {
    /// Softmax of `shape` along `axis` in Double, by explicit index arithmetic.
    private func naiveSoftmax(_ x: [Float], shape: [Int], axis: Int, log: Bool) -> [Float] {
        let outer = shape[..<axis].reduce(1, *), n = shape[axis], inner = shape[(axis + 1)...].reduce(1, *)
        var out = [Float](repeating: 0, count: x.count)
        for o in 0..<outer {
            for j in 0..<inner {
                let idx = (0..<n).map { o * n * inner + $0 * inner + j }
                let m = idx.map { Double(x[$0]) }.max()!
                let z = idx.map { Foundation.exp(Double(x[$0]) - m) }.reduce(0, +)
                for i in idx { out[i] = Float(log ? Double(x[i]) - m - Foundation.log(z) : Foundation.exp(Double(x[i]) - m) / z) }
            }
        }
        return out
    }

    func testSoftmaxMatchesNaiveOnEveryAxis() {
        let x = randomTensor([2, 3, 4], seed: 1, low: -3, high: 3)
        for axis in 0..<3 {
            assertClose(x.softmax(axis: axis), Tensor(naiveSoftmax(x.scalars, shape: [2, 3, 4], axis: axis, log: false),
                                                      shape: [2, 3, 4]), atol: 1e-6, "axis \(axis)")
            assertClose(x.logSoftmax(axis: axis), Tensor(naiveSoftmax(x.scalars, shape: [2, 3, 4], axis: axis, log: true),
                                                         shape: [2, 3, 4]), atol: 1e-5, "log axis \(axis)")
        }
    }

    func testHandWorkedValues() {
        // softmax([0, ln 3]) = [1/4, 3/4]
        let y = Tensor([0, Float(Foundation.log(3.0))], shape: [1, 2]).softmax()
        assertClose(y, Tensor([0.25, 0.75], shape: [1, 2]), atol: 1e-6)
        let ly = Tensor([0, Float(Foundation.log(3.0))], shape: [1, 2]).logSoftmax()
        assertClose(ly, Tensor([Float(Foundation.log(0.25)), Float(Foundation.log(0.75))], shape: [1, 2]), atol: 1e-6)
    }

    func testLargeLogitsDoNotOverflow() {
        let x = Tensor([1000, 999, -1000, 1000], shape: [2, 2])
        let e = Float(1 / (1 + Foundation.exp(-1.0)))
        assertClose(x.softmax(), Tensor([e, 1 - e, 0, 1], shape: [2, 2]), atol: 1e-6)
        let ly = x.logSoftmax().scalars
        XCTAssertEqual(ly[0], Float(-Foundation.log(1 + Foundation.exp(-1.0))), accuracy: 1e-5)
        XCTAssertEqual(ly[2], -2000, accuracy: 1e-3)
        XCTAssertEqual(ly[3], 0, accuracy: 1e-6)
    }

    func testFullyMaskedRowGivesZerosAndNoNaNGradient() {
        let x = Tensor([-.infinity, -.infinity, -.infinity, 1, 2, -.infinity], shape: [2, 3]).requiringGrad()
        let y = x.softmax()
        XCTAssertEqual(Array(y.scalars[0..<3]), [0, 0, 0])
        XCTAssertEqual(y.scalars[5], 0)
        XCTAssertEqual(y.scalars[3] + y.scalars[4], 1, accuracy: 1e-6)
        (y * Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])).sum().backward()
        XCTAssertTrue(x.grad!.scalars.allSatisfy { $0.isFinite })
        XCTAssertEqual(Array(x.grad!.scalars[0..<3]), [0, 0, 0])
        XCTAssertEqual(Tensor([-.infinity, -.infinity], shape: [1, 2]).logSoftmax().scalars, [-.infinity, -.infinity])
    }

    func testSoftmaxGradients() {
        let x = randomTensor([2, 3, 4], seed: 2, low: -2, high: 2)
        for axis in [-1, 0, 1] {
            checkGradients([x]) { v in v[0].softmax(axis: axis) }
            checkGradients([x]) { v in v[0].logSoftmax(axis: axis) }
        }
    }

    func testSoftmaxBackwardKeepsOnlyTheOutput() {
        weak var inputStorage: TensorStorage?
        let p = randomTensor([2, 5], seed: 3).requiringGrad()
        var loss: Tensor
        do {
            let x = p * 2
            inputStorage = x.storage
            loss = (x.softmax() * randomTensor([2, 5], seed: 4)).sum()
        }
        XCTAssertNil(inputStorage, "softmax retained its input; backward needs only its output")
        loss.backward()
        XCTAssertEqual(p.grad?.shape, [2, 5])
    }

    func testLongRowsUseTheVectorPathAndItsTail() {
        // Rows of 8k + 3 elements exercise the eight-lane loops and the scalar tail.
        for n in [8, 19, 35] {
            let x = randomTensor([3, n], seed: UInt64(n), low: -30, high: 30)
            assertClose(x.softmax(), Tensor(naiveSoftmax(x.scalars, shape: [3, n], axis: 1, log: false), shape: [3, n]),
                        atol: 1e-6, rtol: 1e-5, "n \(n)")
            assertClose(x.logSoftmax(), Tensor(naiveSoftmax(x.scalars, shape: [3, n], axis: 1, log: true), shape: [3, n]),
                        atol: 1e-5, "log n \(n)")
        }
        let x = randomTensor([2, 11], seed: 5, low: -2, high: 2)
        checkGradients([x]) { v in v[0].softmax() }
        checkGradients([x]) { v in v[0].logSoftmax() }
    }

    func testFastExpAgreesWithTheLibrary() {
        var worst: Double = 0
        var values: [Float] = []
        for i in 0...20_000 { values.append(-87.3 + Float(i) * (176 / 20_000)) }
        for v in values {
            let e = Foundation.exp(Double(v))
            worst = max(worst, abs(Double(fastExp(v)) - e) / e)
        }
        XCTAssertLessThan(worst, 3e-7, "relative error of the scalar exp")
        for i in stride(from: 0, to: values.count - 8, by: 8) {
            let v = SIMD8<Float>((0..<8).map { values[i + $0] })
            let y = fastExp(v)
            for l in 0..<8 { XCTAssertEqual(y[l], fastExp(v[l]), "lane \(l) differs from the scalar exp") }
        }
        XCTAssertEqual(fastExp(0), 1)
        XCTAssertEqual(fastExp(-.infinity), 0)
        XCTAssertEqual(fastExp(-100), 0)
        XCTAssertTrue(fastExp(.nan).isNaN)
        XCTAssertEqual(fastExp(.infinity), .infinity)
        let special = fastExp(SIMD8<Float>(0, -.infinity, .nan, .infinity, -100, 1, 2, 3))
        XCTAssertEqual(special[0], 1)
        XCTAssertEqual(special[1], 0)
        XCTAssertTrue(special[2].isNaN)
        XCTAssertEqual(special[3], .infinity)
    }

    func testNaNPropagates() {
        let y = Tensor([1, .nan, 2, 3, 4, 5, 6, 7, 8, 9], shape: [1, 10]).softmax()
        XCTAssertTrue(y.scalars.allSatisfy { $0.isNaN })
        XCTAssertTrue(Tensor([-.infinity, .nan], shape: [1, 2]).softmax().scalars.allSatisfy { $0.isNaN })
    }
}
