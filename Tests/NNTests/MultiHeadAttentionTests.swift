import Foundation
import NN
import SafeTensors
import TestSupport
import XCTest

/// A Linear subclass, standing in for a LoRA-adapted projection.
private final class DoubledLinear: Linear {
    override func callAsFunction(_ x: Tensor) -> Tensor { super.callAsFunction(x) * 2 }
}

final class MultiHeadAttentionTests: XCTestCase {
    // MARK: - Keys, shapes, initialisation

    func testSeparateFormKeysAndShapes() {
        var rng = RandomGenerator(seed: 1)
        let mha = MultiHeadAttention(16, heads: 4, kvDimension: 6, generator: &rng)
        let shapes = mha.stateDict().mapValues(\.shape)
        XCTAssertEqual(shapes, [
            "q_proj.weight": [16, 16], "q_proj.bias": [16],
            "k_proj.weight": [16, 6], "k_proj.bias": [16],
            "v_proj.weight": [16, 6], "v_proj.bias": [16],
            "out_proj.weight": [16, 16], "out_proj.bias": [16],
        ])
        XCTAssertEqual(mha.headDimension, 4)
        XCTAssertEqual(MultiHeadAttention(8, heads: 2, bias: false, generator: &rng).stateDict().keys.sorted(),
                       ["k_proj.weight", "out_proj.weight", "q_proj.weight", "v_proj.weight"])
    }

    func testFusedFormHasPyTorchKeys() {
        var rng = RandomGenerator(seed: 2)
        let mha = MultiHeadAttention(16, heads: 4, fused: true, generator: &rng)
        XCTAssertEqual(mha.stateDict().mapValues(\.shape), [
            "in_proj_weight": [48, 16], "in_proj_bias": [48], "out_proj.weight": [16, 16], "out_proj.bias": [16],
        ])
        let kdim = MultiHeadAttention(16, heads: 4, bias: false, kvDimension: 6, fused: true, generator: &rng)
        XCTAssertEqual(kdim.stateDict().mapValues(\.shape), [
            "q_proj_weight": [16, 16], "k_proj_weight": [16, 6], "v_proj_weight": [16, 6], "out_proj.weight": [16, 16],
        ])
    }

    func testFusedInitialisationIsXavierWithZeroBiases() {
        var rng = RandomGenerator(seed: 3)
        let mha = MultiHeadAttention(16, heads: 4, fused: true, generator: &rng)
        // Xavier: √(6 / (16 + 48)) = 0.306, above Linear's 1/√16 = 0.25; 768 uniform draws come close to it.
        let w = mha.inProjectionWeight!.scalars.map(abs)
        let xavier: Float = (6.0 / 64).squareRoot()
        XCTAssertLessThanOrEqual(w.max()!, xavier)
        XCTAssertGreaterThan(w.max()!, 0.97 * xavier)
        XCTAssertTrue(mha.inProjectionBias!.scalars.allSatisfy { $0 == 0 })
        XCTAssertTrue(mha.outputProjection.bias!.scalars.allSatisfy { $0 == 0 })
        let o = mha.outputProjection.weight.scalars.map(abs)
        XCTAssertLessThanOrEqual(o.max()!, 0.25)
        XCTAssertGreaterThan(o.max()!, 0.23)
    }

    func testSeparateInitialisationIsLinearDefault() {
        var rng = RandomGenerator(seed: 4)
        let mha = MultiHeadAttention(16, heads: 4, kvDimension: 6, generator: &rng)
        let q = mha.queryProjection!.weight.scalars.map(abs), k = mha.keyProjection!.weight.scalars.map(abs)
        XCTAssertLessThanOrEqual(q.max()!, 0.25)
        XCTAssertGreaterThan(q.max()!, 0.23)
        let kBound = 1 / Float(6).squareRoot()
        XCTAssertLessThanOrEqual(k.max()!, kBound)
        XCTAssertGreaterThan(k.max()!, 0.9 * kBound)
        XCTAssertTrue(mha.queryProjection!.bias!.scalars.contains { $0 != 0 })
    }

    func testProjectionsAreReplaceable() throws {
        var rng = RandomGenerator(seed: 5)
        let mha = MultiHeadAttention(8, heads: 2, generator: &rng)
        for path in ["q_proj", "k_proj", "v_proj", "out_proj"] {
            let old = mha.module(at: path) as! Linear
            try mha.replaceModule(at: path, with: DoubledLinear(weight: old.weight, bias: old.bias))
        }
        XCTAssertTrue(mha.queryProjection is DoubledLinear && mha.valueProjection is DoubledLinear)
        XCTAssertTrue(mha.outputProjection is DoubledLinear)
        let fused = MultiHeadAttention(8, heads: 2, fused: true, generator: &rng)
        try fused.replaceModule(at: "out_proj", with: DoubledLinear(8, 8, generator: &rng))
        XCTAssertTrue(fused.outputProjection is DoubledLinear)
    }

    // MARK: - Against PyTorch (scripts/make_nn_goldens.py)

    private func golden(_ prefix: String) throws -> [String: Tensor] {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "multihead_attention", withExtension: "safetensors",
                                                  subdirectory: "Fixtures"))
        var out: [String: Tensor] = [:]
        for (k, v) in try SafeTensorsFile(contentsOf: url).tensors() where k.hasPrefix(prefix) {
            out[String(k.dropFirst(prefix.count))] = v
        }
        return out
    }

    /// Loads the golden's state dict into `mha`; its keys must be exactly PyTorch's.
    private func loadPyTorchWeights(_ mha: MultiHeadAttention, _ g: [String: Tensor]) throws {
        let pytorchKeys = Set(g.keys.filter { $0.hasPrefix("grad.") }.map { String($0.dropFirst(5)) })
        XCTAssertEqual(Set(mha.stateDict().keys), pytorchKeys)
        try mha.load(g.filter { pytorchKeys.contains($0.key) })
    }

    /// Checks output, input gradients and parameter gradients against the golden.
    private func check(_ mha: MultiHeadAttention, _ g: [String: Tensor], inputs: [String],
                       _ forward: ([Tensor]) -> Tensor, file: StaticString = #filePath, line: UInt = #line) {
        let leaves = inputs.map { g[$0]!.requiringGrad() }
        let y = forward(leaves)
        assertClose(y, g["output"]!, atol: 1e-4, rtol: 1e-4, "output", file: file, line: line)
        (y * g["grad_output"]!).sum().backward()
        for (name, leaf) in zip(inputs, leaves) {
            assertClose(leaf.grad!, g["grad_" + name]!, atol: 1e-4, rtol: 1e-4, "grad \(name)", file: file, line: line)
        }
        for (key, tensor) in mha.namedParameters() {
            guard let grad = tensor.grad else { XCTFail("no gradient for \(key)", file: file, line: line); continue }
            assertClose(grad, g["grad." + key]!, atol: 1e-4, rtol: 1e-4, "grad \(key)", file: file, line: line)
        }
    }

    func testFusedSelfAttentionWithKeyPaddingMatchesPyTorch() throws {
        let g = try golden("self.")
        let mask = AttentionMask.keyPadding(g["keep"]!)
        var rng = RandomGenerator(seed: 6)
        let a = MultiHeadAttention(8, heads: 2, fused: true, generator: &rng)
        try loadPyTorchWeights(a, g)
        check(a, g, inputs: ["x"]) { a($0[0], mask: mask) }
        // The general entry point, with the same tensor three times, agrees.
        let b = MultiHeadAttention(8, heads: 2, fused: true, generator: &rng)
        try loadPyTorchWeights(b, g)
        check(b, g, inputs: ["x"]) { b(query: $0[0], key: $0[0], value: $0[0], mask: mask) }
    }

    func testFusedCrossAttentionMatchesPyTorch() throws {
        let g = try golden("cross.")
        var rng = RandomGenerator(seed: 7)
        let mha = MultiHeadAttention(8, heads: 2, fused: true, generator: &rng)
        try loadPyTorchWeights(mha, g)
        check(mha, g, inputs: ["query", "key", "value"]) {
            mha(query: $0[0], key: $0[1], value: $0[2], mask: .keyPadding(g["keep"]!))
        }
    }

    func testFusedWithOtherKeyValueWidthMatchesPyTorch() throws {
        let g = try golden("kdim.")
        var rng = RandomGenerator(seed: 8)
        let mha = MultiHeadAttention(8, heads: 4, bias: false, kvDimension: 6, fused: true, generator: &rng)
        try loadPyTorchWeights(mha, g)
        check(mha, g, inputs: ["query", "key", "value"]) {
            mha(query: $0[0], key: $0[1], value: $0[2], mask: .keyPadding(g["keep"]!))
        }
    }

    func testSeparateFormComputesTheSameAsFusedWithTheSameWeights() throws {
        let g = try golden("cross.")
        var rng = RandomGenerator(seed: 9)
        let mha = MultiHeadAttention(8, heads: 2, generator: &rng)
        let w = g["in_proj_weight"]!.split(sizes: [8, 8, 8], axis: 0)
        let b = g["in_proj_bias"]!.split(sizes: [8, 8, 8], axis: 0)
        try mha.load([
            "q_proj.weight": w[0], "k_proj.weight": w[1], "v_proj.weight": w[2],
            "q_proj.bias": b[0], "k_proj.bias": b[1], "v_proj.bias": b[2],
            "out_proj.weight": g["out_proj.weight"]!, "out_proj.bias": g["out_proj.bias"]!,
        ])
        let y = mha(query: g["query"]!, key: g["key"]!, value: g["value"]!, mask: .keyPadding(g["keep"]!))
        assertClose(y, g["output"]!, atol: 1e-4, rtol: 1e-4)
    }

    // MARK: - Behaviour

    func testCausalOutputsDoNotDependOnLaterTokens() {
        var rng = RandomGenerator(seed: 10)
        for fused in [false, true] {
            let mha = MultiHeadAttention(8, heads: 2, fused: fused, generator: &rng)
            let x = randomTensor([2, 5, 8], seed: 11)
            let full = mha(x, isCausal: true)
            let prefix = mha(x.slice(axis: 1, 0..<3), isCausal: true)
            assertClose(full.slice(axis: 1, 0..<3), prefix, atol: 1e-5)
            // The first token attends only to itself, with or without the causal flag.
            assertClose(full.slice(axis: 1, 0..<1), mha(x.slice(axis: 1, 0..<1)), atol: 1e-5)
            XCTAssertFalse(zip(mha(x).scalars, full.scalars).allSatisfy { abs($0 - $1) < 1e-5 })
        }
    }

    func testDropoutOnlyInTrainingAndReproducibleFromSavedState() {
        var rng = RandomGenerator(seed: 12)
        let mha = MultiHeadAttention(8, heads: 2, dropout: 0.5, generator: &rng)
        let x = randomTensor([2, 4, 8], seed: 13)
        mha.eval()
        let evaluation = mha(x).scalars
        let state = mha.generatorState
        XCTAssertEqual(mha(x).scalars, evaluation)
        XCTAssertEqual(mha.generatorState, state, "evaluation draws nothing")
        mha.train()
        let trained = mha(x).scalars
        XCTAssertNotEqual(trained, evaluation)
        XCTAssertEqual(mha.generatorStates().keys.sorted(), [""])
        mha.generatorState = state
        XCTAssertEqual(mha(x).scalars, trained)
    }

    func testGradientCheckSeparateForm() {
        var rng = RandomGenerator(seed: 14)
        let mha = MultiHeadAttention(4, heads: 2, generator: &rng)
        let keep = Tensor([1, 1, 1, 1, 1, 0], shape: [2, 3])
        checkGradients([randomTensor([2, 3, 4], seed: 15), randomTensor([2, 3, 4], seed: 16)]) { xs in
            mha(query: xs[0], key: xs[1], value: xs[1], mask: .keyPadding(keep), isCausal: true)
        }
    }

    func testFrozenProjectionsGetNoGradient() {
        var rng = RandomGenerator(seed: 17)
        let mha = MultiHeadAttention(8, heads: 2, generator: &rng)
        mha.freeze()
        mha.unfreeze(keys: ["q_proj.", "v_proj."])
        mha(randomTensor([1, 3, 8], seed: 18)).sum().backward()
        for (key, tensor) in mha.namedParameters() {
            if key.hasPrefix("q_proj") || key.hasPrefix("v_proj") {
                XCTAssertNotNil(tensor.grad, key)
            } else {
                XCTAssertNil(tensor.grad, key)
            }
        }
    }
}
