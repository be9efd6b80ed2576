import Foundation
import TestSupport
import XCTest
@testable import Tensor

final class NormalizationTests: XCTestCase {
    /// Normalises rows of `width` in Double: layer norm when `centered`, else RMS norm.
    private func naiveNorm(_ x: [Float], width: Int, weight: [Float]?, bias: [Float]?, epsilon: Double,
                           centered: Bool) -> [Float] {
        var out = [Float](repeating: 0, count: x.count)
        for r in 0..<(x.count / width) {
            let row = (0..<width).map { Double(x[r * width + $0]) }
            let mean = centered ? row.reduce(0, +) / Double(width) : 0
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(width)
            for j in 0..<width {
                var v = (row[j] - mean) / (variance + epsilon).squareRoot()
                if let weight { v *= Double(weight[j]) }
                if let bias { v += Double(bias[j]) }
                out[r * width + j] = Float(v)
            }
        }
        return out
    }

    func testLayerNormMatchesNaive() {
        let x = randomTensor([3, 2, 4], seed: 1, low: -2, high: 3)
        let w = randomTensor([2, 4], seed: 2), b = randomTensor([2, 4], seed: 3)
        let y = x.layerNorm(normalizedShape: [2, 4], weight: w, bias: b, epsilon: 1e-5)
        assertClose(y, Tensor(naiveNorm(x.scalars, width: 8, weight: w.scalars, bias: b.scalars, epsilon: 1e-5,
                                        centered: true), shape: [3, 2, 4]), atol: 1e-5)
        let plain = x.layerNorm(normalizedShape: [4])
        assertClose(plain, Tensor(naiveNorm(x.scalars, width: 4, weight: nil, bias: nil, epsilon: 1e-5,
                                            centered: true), shape: [3, 2, 4]), atol: 1e-5)
    }

    func testLayerNormHandWorked() {
        // [1, 3]: mean 2, variance 1 → [-1, 1] / √(1 + ε)
        let y = Tensor([1, 3], shape: [1, 2]).layerNorm(normalizedShape: [2], epsilon: 0)
        XCTAssertEqual(y.scalars, [-1, 1])
    }

    func testRMSNormMatchesNaive() {
        let x = randomTensor([4, 6], seed: 4, low: -2, high: 3)
        let w = randomTensor([6], seed: 5)
        let y = x.rmsNorm(normalizedShape: [6], weight: w, epsilon: 1e-6)
        assertClose(y, Tensor(naiveNorm(x.scalars, width: 6, weight: w.scalars, bias: nil, epsilon: 1e-6,
                                        centered: false), shape: [4, 6]), atol: 1e-5)
        // [3, 4]: mean square 12.5 → [3, 4] / √12.5
        let h = Tensor([3, 4], shape: [1, 2]).rmsNorm(normalizedShape: [2], epsilon: 0)
        assertClose(h, Tensor([Float(3 / 12.5.squareRoot()), Float(4 / 12.5.squareRoot())], shape: [1, 2]), atol: 1e-6)
    }

    func testLayerNormGradientsForEveryCombinationOfTrainableInputs() {
        let x = randomTensor([3, 2, 3], seed: 6, low: -2, high: 2)
        let w = randomTensor([2, 3], seed: 7, low: 0.5, high: 1.5), b = randomTensor([2, 3], seed: 8)
        for wrt in [[0], [1], [2], [0, 1], [1, 2], [0, 1, 2]] {
            checkGradients([x, w, b], wrt: wrt) { v in
                v[0].layerNorm(normalizedShape: [2, 3], weight: v[1], bias: v[2])
            }
        }
        checkGradients([x]) { v in v[0].layerNorm(normalizedShape: [3]) }
        checkGradients([x, b]) { v in v[0].layerNorm(normalizedShape: [2, 3], bias: v[1]) }
    }

    func testRMSNormGradients() {
        let x = randomTensor([3, 4], seed: 9, low: -2, high: 2)
        let w = randomTensor([4], seed: 10, low: 0.5, high: 1.5)
        for wrt in [[0], [1], [0, 1]] {
            checkGradients([x, w], wrt: wrt) { v in v[0].rmsNorm(normalizedShape: [4], weight: v[1]) }
        }
        checkGradients([x]) { v in v[0].rmsNorm(normalizedShape: [3, 4], epsilon: 1e-5) }
    }

    func testFrozenAffineGetsNoGradientAndTrainableBiasAloneKeepsNoActivation() {
        let w = randomTensor([4], seed: 11)                    // frozen
        let b = randomTensor([4], seed: 12).requiringGrad()
        let p = randomTensor([2, 4], seed: 13).requiringGrad()
        p.layerNorm(normalizedShape: [4], weight: w, bias: b).sum().backward()
        XCTAssertNil(w.grad)
        XCTAssertEqual(p.grad?.shape, [2, 4])
        // dL/db = Σ over rows of g = 2 per element.
        XCTAssertEqual(b.grad?.scalars, [2, 2, 2, 2])

        // Only the bias trains: the input must not be retained.
        weak var activation: TensorStorage?
        let bias = randomTensor([4], seed: 14).requiringGrad()
        var loss: Tensor
        do {
            let x = randomTensor([2, 4], seed: 15) * 3
            activation = x.storage
            loss = x.layerNorm(normalizedShape: [4], weight: w, bias: bias).sum()
        }
        XCTAssertNil(activation, "layer norm kept its input although only the bias needs a gradient")
        let trace = KernelTrace()
        KernelTrace.record(into: trace) { loss.backward() }
        XCTAssertEqual(trace.count("layer-norm.backward"), 0, "the bias gradient needs no normalisation backward")
        XCTAssertEqual(bias.grad?.scalars, [2, 2, 2, 2])
    }

    func testConstantRowsStayFinite() {
        let y = Tensor.full(5, shape: [2, 3]).layerNorm(normalizedShape: [3])
        XCTAssertEqual(y.scalars, [0, 0, 0, 0, 0, 0])
        XCTAssertEqual(Tensor.zeros([1, 3]).rmsNorm(normalizedShape: [3]).scalars, [0, 0, 0])
    }

    func testWideRowsUseTheVectorPathAndItsTail() {
        let x = randomTensor([3, 19], seed: 16, low: -2, high: 3)
        let w = randomTensor([19], seed: 17), b = randomTensor([19], seed: 18)
        assertClose(x.layerNorm(normalizedShape: [19], weight: w, bias: b),
                    Tensor(naiveNorm(x.scalars, width: 19, weight: w.scalars, bias: b.scalars, epsilon: 1e-5,
                                     centered: true), shape: [3, 19]), atol: 1e-5)
        assertClose(x.rmsNorm(normalizedShape: [19], weight: w),
                    Tensor(naiveNorm(x.scalars, width: 19, weight: w.scalars, bias: nil, epsilon: 1e-6,
                                     centered: false), shape: [3, 19]), atol: 1e-5)
        let small = randomTensor([2, 11], seed: 19, low: -2, high: 2)
        let sw = randomTensor([11], seed: 20, low: 0.5, high: 1.5), sb = randomTensor([11], seed: 21)
        checkGradients([small, sw, sb]) { v in v[0].layerNorm(normalizedShape: [11], weight: v[1], bias: v[2]) }
        checkGradients([small]) { v in v[0].layerNorm(normalizedShape: [11]) }
        checkGradients([small, sw]) { v in v[0].rmsNorm(normalizedShape: [11], weight: v[1]) }
    }
}
