import Foundation
import NN
import SafeTensors
import Tensor
import TestSupport
import XCTest

/// LSTMCell and LSTM against PyTorch (Fixtures/lstm.safetensors from scripts/make_lstm_goldens.py:
/// outputs, final states and the gradients of every input, initial state and parameter, computed
/// in float64) and against finite differences; PyTorch's state-dict keys.
final class RecurrentTests: XCTestCase {
    private func golden(_ prefix: String) throws -> [String: Tensor] {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "lstm", withExtension: "safetensors", subdirectory: "Fixtures"))
        var out: [String: Tensor] = [:]
        for (k, v) in try SafeTensorsFile(contentsOf: url).tensors() where k.hasPrefix(prefix) { out[String(k.dropFirst(prefix.count))] = v }
        return out
    }

    private func load(_ module: Module, _ g: [String: Tensor]) throws {
        let keys = Set(g.keys.filter { $0.hasPrefix("grad.") }.map { String($0.dropFirst(5)) })
        XCTAssertEqual(Set(module.stateDict().keys), keys)
        try module.load(g.filter { keys.contains($0.key) })
    }

    private func checkParameterGradients(_ module: Module, _ g: [String: Tensor], file: StaticString = #filePath, line: UInt = #line) {
        for (key, tensor) in module.namedParameters() {
            guard let grad = tensor.grad else { XCTFail("no gradient for \(key)", file: file, line: line); continue }
            assertClose(grad, g["grad." + key]!, atol: 1e-5, rtol: 1e-4, "grad \(key)", file: file, line: line)
        }
    }

    func testCellMatchesPyTorch() throws {
        let g = try golden("cell.")
        var rng = RandomGenerator(seed: 1)
        let cell = LSTMCell(5, 4, generator: &rng)
        try load(cell, g)
        let (x, h0, c0) = (g["x"]!.requiringGrad(), g["h0"]!.requiringGrad(), g["c0"]!.requiringGrad())
        let (h, c) = cell(x, state: (h0, c0))
        assertClose(h, g["h"]!, atol: 1e-6, rtol: 1e-5, "h")
        assertClose(c, g["c"]!, atol: 1e-6, rtol: 1e-5, "c")
        ((h * g["grad_h"]!).sum() + (c * g["grad_c"]!).sum()).backward()
        for (name, leaf) in [("x", x), ("h0", h0), ("c0", c0)] {
            assertClose(leaf.grad!, g["grad_" + name]!, atol: 1e-5, rtol: 1e-4, "grad \(name)")
        }
        checkParameterGradients(cell, g)
    }

    func testStackedLSTMMatchesPyTorch() throws {
        let g = try golden("lstm.")
        var rng = RandomGenerator(seed: 2)
        let lstm = LSTM(5, 4, layers: 2, generator: &rng)
        XCTAssertEqual(lstm.stateDict().keys.sorted(), ["bias_hh_l0", "bias_hh_l1", "bias_ih_l0", "bias_ih_l1",
                                                        "weight_hh_l0", "weight_hh_l1", "weight_ih_l0", "weight_ih_l1"])
        try load(lstm, g)
        let (x, h0, c0) = (g["x"]!.requiringGrad(), g["h0"]!.requiringGrad(), g["c0"]!.requiringGrad())
        let initial = (0..<2).map { k in (h: h0.slice(axis: 0, start: k, end: k + 1).squeezed(0), c: c0.slice(axis: 0, start: k, end: k + 1).squeezed(0)) }
        let (output, state) = lstm(x, state: initial)
        let hn = Tensor.stack(state.map(\.h)), cn = Tensor.stack(state.map(\.c))
        assertClose(output, g["output"]!, atol: 1e-6, rtol: 1e-5, "output")
        assertClose(hn, g["hn"]!, atol: 1e-6, rtol: 1e-5, "h_n")
        assertClose(cn, g["cn"]!, atol: 1e-6, rtol: 1e-5, "c_n")
        ((output * g["grad_output"]!).sum() + (hn * g["grad_hn"]!).sum() + (cn * g["grad_cn"]!).sum()).backward()
        for (name, leaf) in [("x", x), ("h0", h0), ("c0", c0)] {
            assertClose(leaf.grad!, g["grad_" + name]!, atol: 1e-5, rtol: 1e-4, "grad \(name)")
        }
        checkParameterGradients(lstm, g)
        // Time-major input gives the same outputs, transposed.
        let timeMajor = LSTM(cells: lstm.cells, batchFirst: false)
        let (transposed, _) = timeMajor(g["x"]!.transposed(0, 1), state: initial)
        assertClose(transposed.transposed(0, 1), g["output"]!, atol: 1e-6, rtol: 1e-5, "time-major output")
    }

    func testGradientsMatchFiniteDifferences() {
        var rng = RandomGenerator(seed: 3)
        let cell = LSTMCell(3, 2, generator: &rng)
        checkGradients([randomTensor([2, 3], seed: 4), randomTensor([2, 2], seed: 5), randomTensor([2, 2], seed: 6)]) { xs in
            let (h, c) = cell(xs[0], state: (xs[1], xs[2]))
            return h * 1.5 + c
        }
        let lstm = LSTM(3, 2, layers: 2, generator: &rng)
        checkGradients([randomTensor([2, 4, 3], seed: 7)]) { xs in lstm(xs[0]).output }
        // And with respect to the parameters: a cell whose weights are the inputs.
        checkGradients([randomTensor([8, 3], seed: 8), randomTensor([8, 2], seed: 9), randomTensor([8], seed: 10)]) { w in
            let c = LSTMCell(weightIH: w[0], weightHH: w[1], biasIH: w[2], biasHH: nil)
            return c(randomTensor([2, 3], seed: 11), state: (randomTensor([2, 2], seed: 12), randomTensor([2, 2], seed: 13))).h
        }
    }
}
