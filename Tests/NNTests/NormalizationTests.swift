import NN
import TestSupport
import XCTest

final class NormalizationTests: XCTestCase {
    /// Layer norm of each row of `x` (row length n) in Double.
    private func naiveLayerNorm(_ x: [Float], n: Int, weight: [Float]?, bias: [Float]?, epsilon: Double) -> [Float] {
        var out: [Float] = []
        for r in 0..<(x.count / n) {
            let row = x[(r * n)..<(r * n + n)].map(Double.init)
            let mean = row.reduce(0, +) / Double(n)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)
            for j in 0..<n {
                var y = (row[j] - mean) / (variance + epsilon).squareRoot()
                if let weight { y *= Double(weight[j]) }
                if let bias { y += Double(bias[j]) }
                out.append(Float(y))
            }
        }
        return out
    }

    func testLayerNormKeysShapesAndInitialisation() {
        let ln = LayerNorm(shape: [2, 3])
        XCTAssertEqual(ln.stateDict().keys.sorted(), ["bias", "weight"])
        XCTAssertEqual(ln.weight?.scalars, [1, 1, 1, 1, 1, 1])
        XCTAssertEqual(ln.bias?.scalars, [0, 0, 0, 0, 0, 0])
        XCTAssertEqual(ln.weight?.shape, [2, 3])
        XCTAssertEqual(ln.epsilon, 1e-5)
        XCTAssertTrue(LayerNorm(4, affine: false).stateDict().isEmpty)
        XCTAssertEqual(LayerNorm(4, bias: false).stateDict().keys.sorted(), ["weight"])
    }

    func testLayerNormForwardAgainstHandComputedValues() {
        // Row [1, 2, 3, 4]: mean 2.5, biased variance 1.25.
        let ln = LayerNorm(weight: Tensor([1, 2, 1, 1]), bias: Tensor([0, 0, 1, 0]), epsilon: 0)
        let y = ln(Tensor([1, 2, 3, 4], shape: [1, 4]))
        let s = 1 / 1.25.squareRoot()
        assertClose(y, Tensor([Float(-1.5 * s), Float(-0.5 * s * 2), Float(0.5 * s + 1), Float(1.5 * s)], shape: [1, 4]))

        let x = randomTensor([3, 2, 3], seed: 1)
        let w = randomTensor([2, 3], seed: 2), b = randomTensor([2, 3], seed: 3)
        let ln2 = LayerNorm(weight: w, bias: b, epsilon: 1e-3)
        assertClose(ln2(x), Tensor(naiveLayerNorm(x.scalars, n: 6, weight: w.scalars, bias: b.scalars, epsilon: 1e-3),
                                   shape: [3, 2, 3]), atol: 1e-5)
        let plain = LayerNorm(shape: [3], affine: false)
        assertClose(plain(x), Tensor(naiveLayerNorm(x.scalars, n: 3, weight: nil, bias: nil, epsilon: 1e-5),
                                     shape: [3, 2, 3]), atol: 1e-5)
    }

    func testLayerNormGradients() {
        let x = randomTensor([2, 4], seed: 4)
        checkGradients([x, randomTensor([4], seed: 5), randomTensor([4], seed: 6)]) { xs in
            LayerNorm(weight: xs[1], bias: xs[2])(xs[0])
        }
    }

    func testRMSNormKeyInitialisationAndPyTorchEpsilon() {
        let n = RMSNorm(5)
        XCTAssertEqual(n.stateDict().keys.sorted(), ["weight"])
        XCTAssertEqual(n.weight.scalars, [1, 1, 1, 1, 1])
        XCTAssertEqual(n.epsilon, 1.1920929e-07, "PyTorch's default: torch.finfo(torch.float32).eps")
    }

    func testRMSNormForwardAgainstHandComputedValues() {
        // Row [1, 2, 2]: mean square 3, so y = x / √3 ⊙ weight.
        let n = RMSNorm(weight: Tensor([1, 0.5, 2]), epsilon: 0)
        let s = 1 / Float(3).squareRoot()
        assertClose(n(Tensor([1, 2, 2, -3, 0, 4], shape: [2, 3])),
                    Tensor([s, 2 * s * 0.5, 2 * s * 2,
                            -3 / Float(25.0 / 3).squareRoot(), 0, 4 / Float(25.0 / 3).squareRoot() * 2], shape: [2, 3]))
        // ε matters for small inputs: x = [1e-3, 1e-3], ε = 1e-6 → 1e-3/√(2e-6).
        let tiny = RMSNorm(2, epsilon: 1e-6)(Tensor([1e-3, 1e-3], shape: [1, 2]))
        assertClose(tiny, Tensor([Float(1e-3 / 2e-6.squareRoot()), Float(1e-3 / 2e-6.squareRoot())], shape: [1, 2]))
    }

    func testRMSNormGradients() {
        checkGradients([randomTensor([3, 4], seed: 7), randomTensor([4], seed: 8)]) { xs in
            RMSNorm(weight: xs[1], epsilon: 1e-6)(xs[0])
        }
    }

    func testLoadStateDict() throws {
        let ln = LayerNorm(3)
        try ln.load(["weight": Tensor([1, 2, 3]), "bias": Tensor([4, 5, 6])])
        XCTAssertEqual(ln.bias?.scalars, [4, 5, 6])
        XCTAssertThrowsError(try ln.load(["weight": Tensor([1, 2, 3])])) { error in
            XCTAssertEqual(error as? ModuleError, .missingKeys(["bias"]))
        }
        let n = RMSNorm(2)
        try n.load(["weight": Tensor([3, 4])])
        XCTAssertEqual(n.weight.scalars, [3, 4])
    }
}
