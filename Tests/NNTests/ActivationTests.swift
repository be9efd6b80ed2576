import Foundation
import NN
import TestSupport
import XCTest

final class ActivationTests: XCTestCase {
    private let x = Tensor([-2, -0.5, 0, 1, 3])
    private var xs: [Double] { [-2, -0.5, 0, 1, 3] }

    private func expect(_ layer: UnaryLayer, _ f: (Double) -> Double, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(layer.stateDict().isEmpty, file: file, line: line)
        assertClose(layer(x), Tensor(xs.map { Float(f($0)) }), atol: 1e-6, "\(type(of: layer))", file: file, line: line)
    }

    func testForwardAgainstFormulas() {
        expect(ReLU()) { max($0, 0) }
        expect(GELU()) { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) }
        expect(GELU(approximation: .tanh)) { 0.5 * $0 * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * ($0 + 0.044715 * $0 * $0 * $0))) }
        expect(SiLU()) { $0 / (1 + exp(-$0)) }
        expect(Sigmoid()) { 1 / (1 + exp(-$0)) }
        expect(Tanh()) { Foundation.tanh($0) }
        expect(Identity()) { $0 }
        // Known values: GELU(1) = Φ(1) = 0.8413447, and the tanh form differs from it.
        XCTAssertEqual(GELU()(Tensor([1])).item, 0.8413447, accuracy: 1e-6)
        XCTAssertEqual(GELU(approximation: .tanh)(Tensor([1])).item, 0.8411920, accuracy: 1e-6)
    }

    func testGradients() {
        let input = Tensor([-1.3, -0.4, 0.35, 0.9, 2.1])   // away from ReLU's kink
        for layer: UnaryLayer in [ReLU(), GELU(), GELU(approximation: .tanh), SiLU(), Sigmoid(), Tanh(), Identity()] {
            let r = gradientCheck([input]) { layer($0[0]) }
            XCTAssertTrue(r.passed, "\(type(of: layer)): \(r)")
        }
    }

    func testInSequentialKeysSkipActivations() {
        var rng = RandomGenerator(seed: 1)
        let mlp = Sequential(Linear(3, 4, generator: &rng), GELU(), Linear(4, 2, generator: &rng), Identity())
        XCTAssertEqual(mlp.stateDict().keys.sorted(), ["0.bias", "0.weight", "2.bias", "2.weight"])
        XCTAssertEqual(mlp(randomTensor([5, 3], seed: 2)).shape, [5, 2])
    }
}
