import TestSupport
import XCTest
@testable import Tensor

/// Batch norm from the definition: per-channel statistics over every axis but 1.
private func naiveBatchNorm(_ x: Tensor, gamma: [Float]?, beta: [Float]?, mean givenMean: [Float]? = nil,
                            variance givenVar: [Float]? = nil, epsilon: Float = 1e-5)
    -> (y: Tensor, mean: [Float], biasedVar: [Float], unbiasedVar: [Float]) {
    let c = x.shape[1], n = x.shape[0], inner = x.count / (n * c)
    let v = x.scalars
    var y = v
    var means = [Float](), biased = [Float](), unbiased = [Float]()
    for ch in 0..<c {
        var values = [Double]()
        for b in 0..<n { for i in 0..<inner { values.append(Double(v[(b * c + ch) * inner + i])) } }
        let m = values.reduce(0, +) / Double(values.count)
        let ss = values.reduce(0) { $0 + ($1 - m) * ($1 - m) }
        means.append(Float(m)); biased.append(Float(ss / Double(values.count)))
        unbiased.append(Float(ss / Double(values.count - 1)))
        let useMean = givenMean?[ch] ?? Float(m), useVar = givenVar?[ch] ?? Float(ss / Double(values.count))
        for b in 0..<n { for i in 0..<inner {
            let k = (b * c + ch) * inner + i
            y[k] = (v[k] - useMean) / (useVar + epsilon).squareRoot() * (gamma?[ch] ?? 1) + (beta?[ch] ?? 0)
        } }
    }
    return (Tensor(y, shape: x.shape), means, biased, unbiased)
}

final class BatchNormTests: XCTestCase {
    func testTrainingModeNormalisesWithBatchStatisticsAndUpdatesRunningOnes() {
        for shape in [[4, 3, 2, 3], [5, 3], [2, 3, 4]] {
            let x = randomTensor(shape, seed: 1, low: -2, high: 3)
            let gamma = randomTensor([3], seed: 2, low: 0.5, high: 1.5), beta = randomTensor([3], seed: 3)
            let rm = Tensor([0.1, -0.2, 0.3]), rv = Tensor([1.0, 2.0, 0.5])
            let r = Tensor.batchNorm(x, weight: gamma, bias: beta, runningMean: rm, runningVar: rv,
                                     training: true, momentum: 0.25)
            let ref = naiveBatchNorm(x, gamma: gamma.scalars, beta: beta.scalars)
            assertClose(r.output, ref.y, atol: 1e-4, "\(shape)")
            let expectedMean = (0..<3).map { 0.75 * rm.scalars[$0] + 0.25 * ref.mean[$0] }
            let expectedVar = (0..<3).map { 0.75 * rv.scalars[$0] + 0.25 * ref.unbiasedVar[$0] }
            assertClose(r.runningMean!, Tensor(expectedMean), atol: 1e-5, "running mean \(shape)")
            assertClose(r.runningVar!, Tensor(expectedVar), atol: 1e-5, "running var uses the unbiased variance \(shape)")
        }
    }

    func testHandWorkedTrainingStep() {
        // One channel, values 1, 2, 3, 6: mean 3, biased variance 3.5, unbiased 14/3.
        let x = Tensor([1, 2, 3, 6], shape: [4, 1])
        let r = Tensor.batchNorm(x, runningMean: Tensor([0]), runningVar: Tensor([1]), training: true, epsilon: 0)
        let s = Float(3.5).squareRoot()
        assertClose(r.output, Tensor([-2 / s, -1 / s, 0, 3 / s], shape: [4, 1]))
        assertClose(r.runningMean!, Tensor([0.3]))
        assertClose(r.runningVar!, Tensor([0.9 + 0.1 * 14 / 3]))
    }

    func testEvalModeUsesRunningStatisticsAndLeavesThemUnchanged() {
        let x = randomTensor([2, 3, 3, 3], seed: 4)
        let gamma = randomTensor([3], seed: 5), beta = randomTensor([3], seed: 6)
        let rm = Tensor([0.1, -0.2, 0.3]), rv = Tensor([1.0, 2.0, 0.5])
        let r = Tensor.batchNorm(x, weight: gamma, bias: beta, runningMean: rm, runningVar: rv, training: false)
        let ref = naiveBatchNorm(x, gamma: gamma.scalars, beta: beta.scalars, mean: rm.scalars, variance: rv.scalars)
        assertClose(r.output, ref.y, atol: 1e-5)
        XCTAssertEqual(r.runningMean?.scalars, rm.scalars)
        XCTAssertEqual(r.runningVar?.scalars, rv.scalars)
    }

    func testWithoutRunningStatisticsEvalUsesTheBatch() {
        let x = randomTensor([3, 2, 2, 2], seed: 7)
        let r = Tensor.batchNorm(x, training: false)
        assertClose(r.output, naiveBatchNorm(x, gamma: nil, beta: nil).y, atol: 1e-5)
        XCTAssertNil(r.runningMean)
    }

    func testTrainingGradients() {
        let x = randomTensor([3, 2, 2, 2], seed: 8)
        let gamma = randomTensor([2], seed: 9, low: 0.5, high: 1.5), beta = randomTensor([2], seed: 10)
        checkGradients([x, gamma, beta]) { t in Tensor.batchNorm(t[0], weight: t[1], bias: t[2], training: true).output }
        // Each piece frozen in turn.
        checkGradients([x, gamma, beta], wrt: [0]) { t in
            Tensor.batchNorm(t[0], weight: t[1], bias: t[2], training: true).output
        }
        checkGradients([x, gamma, beta], wrt: [0, 2]) { t in
            Tensor.batchNorm(t[0], weight: t[1], bias: t[2], training: true).output
        }
        checkGradients([x, gamma, beta], wrt: [1]) { t in
            Tensor.batchNorm(t[0], weight: t[1], bias: t[2], training: true).output
        }
        // Only β: backward is a sum, without oneDNN's backward (with and without γ).
        checkGradients([x, gamma, beta], wrt: [2]) { t in
            Tensor.batchNorm(t[0], weight: t[1], bias: t[2], training: true).output
        }
        checkGradients([x, beta], wrt: [1]) { t in Tensor.batchNorm(t[0], bias: t[1], training: true).output }
        // No affine parameters; 2-D input (BatchNorm1d).
        checkGradients([x]) { t in Tensor.batchNorm(t[0], training: true).output }
        checkGradients([randomTensor([5, 3], seed: 11), randomTensor([3], seed: 12, low: 0.5, high: 1.5)]) { t in
            Tensor.batchNorm(t[0], weight: t[1], training: true).output
        }
    }

    func testEvalGradients() {
        let x = randomTensor([2, 3, 2, 2], seed: 13)
        let gamma = randomTensor([3], seed: 14, low: 0.5, high: 1.5), beta = randomTensor([3], seed: 15)
        let rm = randomTensor([3], seed: 16), rv = randomTensor([3], seed: 17, low: 0.5, high: 2)
        func f(_ t: [Tensor]) -> Tensor {
            Tensor.batchNorm(t[0], weight: t[1], bias: t[2], runningMean: rm, runningVar: rv, training: false).output
        }
        checkGradients([x, gamma, beta], f)
        checkGradients([x, gamma, beta], wrt: [0], f)
        checkGradients([x, gamma, beta], wrt: [0, 2], f)
        checkGradients([x, gamma, beta], wrt: [1, 2], f)
        checkGradients([x, gamma, beta], wrt: [2], f)
    }

    func testBlockedInputStaysBlockedAndMatchesPlain() {
        let x = randomTensor([2, 16, 4, 4], seed: 18)
        let w = randomTensor([16, 16, 3, 3], seed: 19)
        let h = x.conv2d(weight: w, padding: 1)
        XCTAssertTrue(h.isBlocked)
        let gamma = randomTensor([16], seed: 20), beta = randomTensor([16], seed: 21)
        let trace = KernelTrace()
        let y = KernelTrace.record(into: trace) { Tensor.batchNorm(h, weight: gamma, bias: beta, training: true).output }
        XCTAssertTrue(y.isBlocked)
        XCTAssertEqual(trace.kernels, ["batchnorm.forward"])
        assertClose(y, naiveBatchNorm(h.plain(), gamma: gamma.scalars, beta: beta.scalars).y, atol: 1e-4)
        checkGradients([randomTensor([2, 16, 2, 2], seed: 22), randomTensor([16, 16, 1, 1], seed: 23), gamma],
                       wrt: [0, 2]) { t in
            let y = Tensor.batchNorm(t[0].conv2d(weight: t[1]), weight: t[2], training: true).output
            return y * y
        }
    }

    func testChannelPaddedBlockedInput() {
        // 3 channels in an 8- or 16-channel block.
        let h = randomTensor([2, 16, 3, 3], seed: 29).conv2d(weight: randomTensor([3, 16, 1, 1], seed: 30))
        let gamma = randomTensor([3], seed: 31), beta = randomTensor([3], seed: 32)
        let y = Tensor.batchNorm(h, weight: gamma, bias: beta, training: true).output
        assertClose(y, naiveBatchNorm(h.plain(), gamma: gamma.scalars, beta: beta.scalars).y, atol: 1e-4)
        checkGradients([randomTensor([2, 4, 2, 2], seed: 33), randomTensor([3, 4, 1, 1], seed: 34), gamma]) { t in
            let y = Tensor.batchNorm(t[0].conv2d(weight: t[1]), weight: t[2], training: true).output
            return y * y
        }
    }

    func testEvalModeWithFrozenScaleKeepsNoInput() {
        let p = randomTensor([2, 16, 3, 3], seed: 24).requiringGrad()
        let gamma = randomTensor([16], seed: 25, low: 0.5, high: 1.5), beta = randomTensor([16], seed: 26)
        let rm = randomTensor([16], seed: 27), rv = randomTensor([16], seed: 28, low: 0.5, high: 2)

        func retained(training: Bool, gamma: Tensor) -> Bool {
            weak var activation: TensorStorage?
            var loss: Tensor
            do {
                let x = p * 2
                activation = x.storage
                loss = Tensor.batchNorm(x, weight: gamma, bias: beta, runningMean: rm, runningVar: rv,
                                        training: training).output.sum()
            }
            let kept = activation != nil
            loss.backward()
            return kept
        }
        XCTAssertTrue(retained(training: true, gamma: gamma), "control: batch statistics need the input")
        XCTAssertTrue(retained(training: false, gamma: gamma.requiringGrad()), "control: dL/dγ needs the input")
        XCTAssertFalse(retained(training: false, gamma: gamma), "eval mode with a frozen γ kept the input")
        // dL/dx of Σy in eval mode: γ/√(σ²+ε), twice (x = 2p).
        let expected = (0..<16).map { 2 * gamma.scalars[$0] / (rv.scalars[$0] + 1e-5).squareRoot() }
        XCTAssertEqual(p.grad!.scalars.count, 288)
        p.setGrad(nil)
        _ = retained(training: false, gamma: gamma)
        let g = p.grad!.scalars
        for ch in 0..<16 { XCTAssertEqual(g[ch * 9 + 4], expected[ch], accuracy: 1e-4) }
    }
}
