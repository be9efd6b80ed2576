import TestSupport
import XCTest
@testable import Tensor

/// Naive reduction of a [2, 3, 4] tensor's values over one axis, for independent forward checks.
private func naive(_ x: Tensor, axis: Int, _ combine: ([Float]) -> Float) -> Tensor {
    let s = x.shape, v = x.scalars
    var outShape = s
    outShape.remove(at: axis)
    var out: [Float] = []
    for i in 0..<s[0] { for j in 0..<s[1] { for k in 0..<s[2] {
        let idx = [i, j, k]
        if idx[axis] != 0 { continue }
        var slice: [Float] = []
        for r in 0..<s[axis] {
            var p = idx
            p[axis] = r
            slice.append(v[(p[0] * s[1] + p[1]) * s[2] + p[2]])
        }
        out.append(combine(slice))
    } } }
    return Tensor(out, shape: outShape)
}

final class ReductionTests: XCTestCase {
    let x = randomTensor([2, 3, 4], seed: 21)

    func testMaxMinMatchNaiveLoops() {
        for axis in 0..<3 {
            assertClose(x.max(axis: axis), naive(x, axis: axis) { $0.max()! })
            assertClose(x.min(axis: axis), naive(x, axis: axis) { $0.min()! })
        }
        assertClose(x.max(axis: -1), naive(x, axis: 2) { $0.max()! })
        XCTAssertEqual(x.max(axis: 1, keepDims: true).shape, [2, 1, 4])
        XCTAssertEqual(x.max(axes: [0, 2], keepDims: true).shape, [1, 3, 1])
        XCTAssertEqual(x.min(axes: [-1, 0]).shape, [3])
        // Over two axes: max over axis 2 then axis 0, computed naively.
        let over02 = naive(naive(x, axis: 2) { $0.max()! }.reshaped([2, 3, 1]), axis: 0) { $0.max()! }
        assertClose(x.max(axes: [0, 2]), over02.reshaped([3]))
        XCTAssertEqual(x.max().shape, [])
        XCTAssertEqual(x.max().item, x.scalars.max()!)
        XCTAssertEqual(x.min().item, x.scalars.min()!)
        XCTAssertEqual(Tensor(5).max().item, 5)
    }

    func testMaxMinGradients() {
        checkGradients([x]) { $0[0].max(axis: 1) }
        checkGradients([x]) { $0[0].max(axes: [0, 2], keepDims: true) }
        checkGradients([x]) { $0[0].min(axis: -1, keepDims: true) }
        checkGradients([x]) { $0[0].min() }
    }

    func testTiesShareTheGradientEvenlyLikeAmax() {
        let v = Tensor([1, 3, 3, 2, 3, -1, -1, 0], shape: [2, 4]).requiringGrad()
        v.max(axis: 1).sum().backward()
        XCTAssertEqual(v.grad!.scalars, [0, 0.5, 0.5, 0, 1, 0, 0, 0])
        let w = Tensor([2, 2, 2, 5]).requiringGrad()
        w.min().backward()
        XCTAssertEqual(w.grad!.scalars, [1 / 3, 1 / 3, 1 / 3, 0])
    }

    func testNaNPropagatesThroughMaxAndWinsArgmax() {
        XCTAssertTrue(Tensor([1, .nan, 3]).max().item.isNaN)
        XCTAssertTrue(Tensor([.nan, 1, 3]).min().item.isNaN)
        XCTAssertEqual(Tensor([1, .nan, 3]).argmax().indexScalars, [1])
    }

    func testArgmaxArgmin() {
        let v = Tensor([1, 7, 7, 2,   9, 0, 0, 9,   -1, -2, -3, -2], shape: [3, 4])
        let am = v.argmax(axis: 1)
        XCTAssertEqual(am.dtype, .int64)
        XCTAssertEqual(am.shape, [3])
        XCTAssertEqual(am.indexScalars, [1, 0, 0], "ties give the first index")
        XCTAssertEqual(v.argmin(axis: -1).indexScalars, [0, 1, 2])
        XCTAssertEqual(v.argmax(axis: 0).indexScalars, [1, 0, 0, 1])
        XCTAssertEqual(v.argmax(axis: 0, keepDims: true).shape, [1, 4])
        XCTAssertEqual(v.argmax().indexScalars, [4])
        XCTAssertEqual(v.argmin().indexScalars, [10])
        XCTAssertEqual(v.argmax().shape, [])
        // Against a naive loop on random data.
        for axis in 0..<3 {
            let expected = naive(x, axis: axis) { Float($0.firstIndex(of: $0.max()!)!) }
            XCTAssertEqual(x.argmax(axis: axis).scalars, expected.scalars)
        }
        XCTAssertFalse(x.requiringGrad().argmax(axis: 0).requiresGrad)
    }

    func testVarianceMatchesNaiveLoops() {
        func variance(_ v: [Float], correction: Int) -> Float {
            let m = v.map(Double.init).reduce(0, +) / Double(v.count)
            return Float(v.map { (Double($0) - m) * (Double($0) - m) }.reduce(0, +) / Double(v.count - correction))
        }
        for axis in 0..<3 {
            assertClose(x.variance(axis: axis), naive(x, axis: axis) { variance($0, correction: 1) })
            assertClose(x.variance(axis: axis, correction: 0), naive(x, axis: axis) { variance($0, correction: 0) })
        }
        XCTAssertEqual(x.variance(axes: [0, -1], keepDims: true).shape, [1, 3, 1])
        XCTAssertEqual(x.variance().item, variance(x.scalars, correction: 1), accuracy: 1e-5)
        assertClose(x.standardDeviation(axes: [1]), naive(x, axis: 1) { variance($0, correction: 1).squareRoot() })
        // One element with Bessel's correction divides by zero (as PyTorch: NaN).
        XCTAssertTrue(Tensor([3]).variance().item.isNaN)
        XCTAssertEqual(Tensor([3]).variance(correction: 0).item, 0)
    }

    func testVarianceGradients() {
        checkGradients([x]) { $0[0].variance(axis: 1) }
        checkGradients([x]) { $0[0].variance(axes: [0, 2], keepDims: true, correction: 0) }
        checkGradients([x]) { $0[0].standardDeviation(axes: [2]) }
    }
}
