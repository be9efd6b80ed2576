import NN
import TestSupport
import XCTest

final class ConvolutionTests: XCTestCase {
    /// Direct 2-D cross-correlation with zero padding, in Double.
    private func naiveConv2d(_ x: Tensor, _ w: Tensor, _ b: Tensor?, stride: (Int, Int), padding: (Int, Int),
                             dilation: (Int, Int), groups: Int) -> Tensor {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        let oh = (h + 2 * padding.0 - dilation.0 * (kh - 1) - 1) / stride.0 + 1
        let ow = (wd + 2 * padding.1 - dilation.1 * (kw - 1) - 1) / stride.1 + 1
        let xs = x.scalars, ws = w.scalars, bs = b?.scalars
        var out = [Float](repeating: 0, count: n * o * oh * ow)
        let og = o / groups
        for ni in 0..<n { for oi in 0..<o { for i in 0..<oh { for j in 0..<ow {
            var s = Double(bs?[oi] ?? 0)
            let g = oi / og
            for ci in 0..<cg { for p in 0..<kh { for q in 0..<kw {
                let y = i * stride.0 - padding.0 + p * dilation.0, z = j * stride.1 - padding.1 + q * dilation.1
                guard y >= 0, y < h, z >= 0, z < wd else { continue }
                let cIn = g * cg + ci
                s += Double(ws[((oi * cg + ci) * kh + p) * kw + q]) * Double(xs[((ni * c + cIn) * h + y) * wd + z])
            } } }
            out[((ni * o + oi) * oh + i) * ow + j] = Float(s)
        } } } }
        return Tensor(out, shape: [n, o, oh, ow])
    }

    func testConv2dKeysShapesAndKaimingUniformBounds() {
        var rng = RandomGenerator(seed: 1)
        let conv = Conv2d(8, 12, kernelSize: [3, 2], groups: 4, generator: &rng)
        XCTAssertEqual(conv.stateDict().mapValues(\.shape), ["weight": [12, 2, 3, 2], "bias": [12]])
        XCTAssertEqual(conv.inputChannels, 8)
        XCTAssertEqual(conv.outputChannels, 12)
        XCTAssertEqual(conv.kernelSize, IntPair(3, 2))
        // fanIn = (8 / 4)·3·2 = 12, so the bound is 1/√12 = 0.289 (not 1/√48 as without groups).
        let bound = 1 / Float(12).squareRoot()
        let w = conv.weight.scalars.map(abs), b = conv.bias!.scalars.map(abs)
        XCTAssertLessThanOrEqual(w.max()!, bound)
        XCTAssertGreaterThan(w.max()!, 0.95 * bound)
        XCTAssertLessThanOrEqual(b.max()!, bound)
        XCTAssertGreaterThan(b.max()!, 0.5 * bound)
        XCTAssertEqual(Conv2d(3, 4, kernelSize: 3, bias: false, generator: &rng).stateDict().keys.sorted(), ["weight"])
    }

    func testConv1dKeysShapesAndBounds() {
        var rng = RandomGenerator(seed: 2)
        let conv = Conv1d(6, 4, kernelSize: 5, groups: 2, generator: &rng)
        XCTAssertEqual(conv.stateDict().mapValues(\.shape), ["weight": [4, 3, 5], "bias": [4]])
        let bound = 1 / Float(15).squareRoot()
        let w = conv.weight.scalars.map(abs)
        XCTAssertLessThanOrEqual(w.max()!, bound)
        XCTAssertGreaterThan(w.max()!, 0.9 * bound)
        XCTAssertEqual(conv.inputChannels, 6)
        XCTAssertEqual(conv.kernelSize, 5)
    }

    func testConv2dForwardPassesEveryOptionToTheOp() {
        var rng = RandomGenerator(seed: 3)
        let conv = Conv2d(4, 6, kernelSize: [3, 2], stride: [2, 1], padding: [1, 2], dilation: [1, 2], groups: 2,
                          generator: &rng)
        let x = randomTensor([2, 4, 7, 6], seed: 4)
        let expected = naiveConv2d(x, conv.weight, conv.bias, stride: (2, 1), padding: (1, 2), dilation: (1, 2), groups: 2)
        assertClose(conv(x), expected, atol: 1e-5)
        // A hand-worked case: 2×2 all-ones kernel over [[1, 2, 3], [4, 5, 6], [7, 8, 9]], bias 0.5.
        let ones = Conv2d(weight: Tensor.ones([1, 1, 2, 2]), bias: Tensor([0.5]))
        let y = ones(Tensor((1...9).map(Float.init), shape: [1, 1, 3, 3]))
        XCTAssertEqual(y.shape, [1, 1, 2, 2])
        XCTAssertEqual(y.scalars, [12.5, 16.5, 24.5, 28.5])
    }

    func testConv1dForwardMatchesTheTwoDimensionalCase() {
        var rng = RandomGenerator(seed: 5)
        let conv = Conv1d(4, 2, kernelSize: 3, stride: 2, padding: 1, dilation: 2, groups: 2, generator: &rng)
        let x = randomTensor([2, 4, 9], seed: 6)
        let expected = naiveConv2d(x.unsqueezed(2), conv.weight.unsqueezed(2), conv.bias, stride: (1, 2),
                                   padding: (0, 1), dilation: (1, 2), groups: 2).squeezed(2)
        assertClose(conv(x), expected, atol: 1e-5)
        // Hand-worked: kernel [1, 0, -1] over [1, 4, 9, 16] gives [1 − 9, 4 − 16].
        let diff = Conv1d(weight: Tensor([1, 0, -1], shape: [1, 1, 3]))
        XCTAssertEqual(diff(Tensor([1, 4, 9, 16], shape: [1, 1, 4])).scalars, [-8, -12])
    }

    func testGradients() {
        let x = randomTensor([1, 2, 4, 3], seed: 7)
        checkGradients([x, randomTensor([2, 1, 2, 2], seed: 8), randomTensor([2], seed: 9)]) { xs in
            Conv2d(weight: xs[1], bias: xs[2], stride: 1, padding: 1, groups: 2)(xs[0]).plain()
        }
        checkGradients([randomTensor([1, 2, 5], seed: 10), randomTensor([3, 2, 2], seed: 11)]) { xs in
            Conv1d(weight: xs[1], stride: 2, padding: 1)(xs[0]).plain()
        }
    }

    func testFrozenWeightGetsNoGradientButInputDoes() {
        var rng = RandomGenerator(seed: 12)
        let conv = Conv2d(2, 3, kernelSize: 3, padding: 1, generator: &rng)
        conv.freeze()
        let x = randomTensor([1, 2, 4, 4], seed: 13).requiringGrad()
        conv(x).sum().backward()
        XCTAssertNil(conv.weight.grad)
        XCTAssertNil(conv.bias?.grad)
        XCTAssertEqual(x.grad?.shape, [1, 2, 4, 4])
    }

    func testLoadStateDict() throws {
        var rng = RandomGenerator(seed: 14)
        let a = Conv2d(2, 4, kernelSize: 3, generator: &rng), b = Conv2d(2, 4, kernelSize: 3, generator: &rng)
        try b.load(a.stateDict())
        XCTAssertEqual(b.weight.scalars, a.weight.scalars)
        XCTAssertThrowsError(try b.load(["weight": Tensor.zeros([4, 2, 3, 3]), "bias": Tensor.zeros([3])])) { error in
            XCTAssertEqual(error as? ModuleError, .shapeMismatch(key: "bias", expected: [4], got: [3]))
        }
    }
}
