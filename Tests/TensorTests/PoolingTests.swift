import TestSupport
import XCTest
@testable import Tensor

/// Direct pooling from the definition (floor mode), for max and both kinds of average.
func naivePool2d(_ x: Tensor, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int) = (0, 0),
                 dilation: (Int, Int) = (1, 1), mode: String) -> Tensor {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let oh = (h + 2 * padding.0 - dilation.0 * (kernel.0 - 1) - 1) / stride.0 + 1
    let ow = (w + 2 * padding.1 - dilation.1 * (kernel.1 - 1) - 1) / stride.1 + 1
    let xv = x.scalars
    var y = [Float]()
    for plane in 0..<(n * c) { for i in 0..<oh { for j in 0..<ow {
        var best = -Float.infinity, sum: Float = 0, inside = 0
        for p in 0..<kernel.0 { for q in 0..<kernel.1 {
            let yy = i * stride.0 - padding.0 + p * dilation.0, xx = j * stride.1 - padding.1 + q * dilation.1
            guard yy >= 0, yy < h, xx >= 0, xx < w else { continue }
            let v = xv[plane * h * w + yy * w + xx]
            best = max(best, v); sum += v; inside += 1
        } }
        switch mode {
        case "max": y.append(best)
        case "avg-include": y.append(sum / Float(kernel.0 * kernel.1))
        default: y.append(sum / Float(inside))
        }
    } } }
    return Tensor(y, shape: [n, c, oh, ow])
}

/// Distinct values at least 0.05 apart, so that finite differences (ε = 0.01) never swap a maximum.
func distinctTensor(_ shape: [Int], seed: UInt64) -> Tensor {
    let n = shape.reduce(1, *)
    var rng = RandomGenerator(seed: seed)
    var values = (0..<n).map { Float($0) * 0.05 - Float(n) * 0.025 }
    for i in stride(from: n - 1, to: 0, by: -1) {
        let j = Int(generator: &rng, below: i + 1)
        values.swapAt(i, j)
    }
    return Tensor(values, shape: shape)
}

extension Int {
    init(generator: inout RandomGenerator, below bound: Int) {
        self = Swift.min(bound - 1, Int(generator.nextUniform() * Float(bound)))
    }
}

final class PoolingTests: XCTestCase {
    let maxCases: [(kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int))] = [
        ((3, 3), (2, 2), (1, 1), (1, 1)),
        ((2, 2), (2, 2), (0, 0), (1, 1)),
        ((3, 2), (1, 2), (1, 0), (1, 1)),
        ((2, 2), (1, 1), (1, 1), (2, 2)),
    ]

    func testMaxPoolMatchesDirectLoop() {
        let x = randomTensor([2, 3, 7, 6], seed: 1)
        for k in maxCases {
            let y = x.maxPool2d(kernelSize: IntPair(k.kernel.0, k.kernel.1), stride: IntPair(k.stride.0, k.stride.1),
                                padding: IntPair(k.padding.0, k.padding.1),
                                dilation: IntPair(k.dilation.0, k.dilation.1))
            assertClose(y, naivePool2d(x, kernel: k.kernel, stride: k.stride, padding: k.padding,
                                       dilation: k.dilation, mode: "max"), "\(k)")
        }
    }

    func testMaxPoolGradients() {
        let x = distinctTensor([2, 2, 5, 6], seed: 2)
        for k in maxCases {
            checkGradients([x]) { t in
                t[0].maxPool2d(kernelSize: IntPair(k.kernel.0, k.kernel.1), stride: IntPair(k.stride.0, k.stride.1),
                               padding: IntPair(k.padding.0, k.padding.1),
                               dilation: IntPair(k.dilation.0, k.dilation.1))
            }
        }
    }

    func testMaxPoolHandWorked() {
        let x = Tensor([1, 5, 2, 0,
                        3, 4, 8, 1,
                        0, 0, 1, 1,
                        9, 0, 1, 2], shape: [1, 1, 4, 4]).requiringGrad()
        let y = x.maxPool2d(kernelSize: 2)
        XCTAssertEqual(y.scalars, [5, 8, 9, 2])
        y.sum().backward()
        XCTAssertEqual(x.grad?.scalars, [0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1])
    }

    func testAvgPoolMatchesDirectLoopWithAndWithoutPadding() {
        let x = randomTensor([2, 3, 7, 6], seed: 3)
        for include in [true, false] {
            for (k, s, p) in [((3, 3), (2, 2), (1, 1)), ((2, 3), (1, 2), (0, 1)), ((2, 2), (2, 2), (0, 0))] {
                let y = x.avgPool2d(kernelSize: IntPair(k.0, k.1), stride: IntPair(s.0, s.1),
                                    padding: IntPair(p.0, p.1), countIncludingPadding: include)
                assertClose(y, naivePool2d(x, kernel: k, stride: s, padding: p,
                                           mode: include ? "avg-include" : "avg-exclude"), "\(k) \(include)")
            }
        }
    }

    func testAvgPoolGradients() {
        let x = randomTensor([2, 2, 5, 5], seed: 4)
        for include in [true, false] {
            checkGradients([x]) { t in
                t[0].avgPool2d(kernelSize: 3, stride: 2, padding: 1, countIncludingPadding: include)
            }
        }
    }

    func testAdaptiveAvgPoolMatchesWindowDefinition() {
        let x = randomTensor([2, 3, 7, 5], seed: 5)
        for (oh, ow) in [(1, 1), (7, 5), (3, 4), (2, 2), (9, 6)] {
            let y = x.adaptiveAvgPool2d(outputSize: IntPair(oh, ow))
            let xv = x.scalars
            var expected = [Float]()
            for plane in 0..<6 { for i in 0..<oh { for j in 0..<ow {
                let h0 = Int((Double(i * 7) / Double(oh)).rounded(.down))
                let h1 = Int((Double((i + 1) * 7) / Double(oh)).rounded(.up))
                let w0 = Int((Double(j * 5) / Double(ow)).rounded(.down))
                let w1 = Int((Double((j + 1) * 5) / Double(ow)).rounded(.up))
                var s: Float = 0
                for a in h0..<h1 { for b in w0..<w1 { s += xv[plane * 35 + a * 5 + b] } }
                expected.append(s / Float((h1 - h0) * (w1 - w0)))
            } } }
            assertClose(y, Tensor(expected, shape: [2, 3, oh, ow]), "\(oh)×\(ow)")
        }
    }

    func testAdaptiveAvgPoolGradients() {
        let x = randomTensor([1, 2, 5, 4], seed: 6)
        for (oh, ow) in [(1, 1), (3, 3), (5, 2)] {
            checkGradients([x]) { t in t[0].adaptiveAvgPool2d(outputSize: IntPair(oh, ow)) }
        }
    }

    func testGlobalAveragePoolOfBlockedActivationUsesOneDNNWithoutReorder() {
        let x = randomTensor([2, 16, 6, 6], seed: 7)
        let w = randomTensor([16, 16, 3, 3], seed: 8)
        let h = x.conv2d(weight: w, padding: 1)
        XCTAssertTrue(h.isBlocked)
        let trace = KernelTrace()
        let y = KernelTrace.record(into: trace) { h.adaptiveAvgPool2d(outputSize: 1) }
        XCTAssertEqual(trace.kernels, ["adaptive-avgpool2d.forward"])
        assertClose(y, h.plain().mean(axes: [2, 3], keepDims: true))
    }

    func testPoolingKeepsBlockedLayoutAndGradientsThroughIt() {
        let x = randomTensor([1, 16, 5, 5], seed: 9)
        let w = randomTensor([16, 16, 1, 1], seed: 10)
        let trace = KernelTrace()
        let y = KernelTrace.record(into: trace) {
            x.conv2d(weight: w).maxPool2d(kernelSize: 3, stride: 2, padding: 1)
        }
        XCTAssertTrue(y.isBlocked)
        XCTAssertEqual(trace.count("reorder"), 2, "input and weight only: \(trace.kernels)")
        checkGradients([randomTensor([1, 16, 3, 3], seed: 13), randomTensor([8, 16, 1, 1], seed: 14)]) { t in
            t[0].conv2d(weight: t[1]).avgPool2d(kernelSize: 2, stride: 1)
        }
        // Max pooling of a blocked activation: an identity 1×1 conv blocks distinct values, so no
        // finite-difference step swaps a maximum.
        let identity = Tensor.eye(16).reshaped([16, 16, 1, 1])
        checkGradients([distinctTensor([1, 16, 4, 4], seed: 12), identity], wrt: [0]) { t in
            t[0].conv2d(weight: t[1]).maxPool2d(kernelSize: 3, stride: 2, padding: 1)
        }
    }

    func testMaxPoolDoesNotRetainItsInput() {
        let p = randomTensor([1, 16, 6, 6], seed: 11).requiringGrad()
        weak var activation: TensorStorage?
        var loss: Tensor
        do {
            let x = p * 2
            activation = x.storage
            loss = x.maxPool2d(kernelSize: 2).sum()
        }
        XCTAssertNil(activation, "max pooling's backward needs the workspace, not the input")
        loss.backward()
        XCTAssertEqual(p.grad?.scalars.reduce(0, +), 288)   // one 2 per window: 16 × 9 windows × 2
    }
}
