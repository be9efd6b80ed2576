import Foundation
import SafeTensors
import TestSupport
import XCTest

/// Compares the engine with PyTorch: fixtures made by `scripts/make_goldens.py` hold inputs,
/// outputs and the gradients of `Σ output ⊙ grad_output`, computed by PyTorch in float64.
final class GoldenTests: XCTestCase {
    /// The tensors of one fixture.
    func fixture(_ name: String) throws -> [String: Tensor] {
        let url = try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: "safetensors", subdirectory: "Fixtures"),
                                "fixture \(name) missing: run scripts/make_goldens.py")
        return try SafeTensorsFile(path: url.path).tensors()
    }

    /// Runs `f` on the fixture's inputs (leaves requiring gradients), then checks the output and
    /// each `grad_<input>` the fixture holds, within 1e-4 relative. Shapes must equal PyTorch's
    /// exactly: an output of the right element count but the wrong shape fails.
    func check(_ name: String, inputs: [String], file: StaticString = #filePath, line: UInt = #line,
               _ f: ([String: Tensor], [String: Tensor]) -> Tensor) throws {
        let t = try fixture(name)
        var leaves: [String: Tensor] = [:]
        for k in inputs { leaves[k] = try XCTUnwrap(t[k], "\(name): no input \(k)").requiringGrad() }
        let out = f(leaves, t)
        let expected = try XCTUnwrap(t["output"], "\(name): no output", file: file, line: line)
        let seed = try XCTUnwrap(t["grad_output"], "\(name): no grad_output", file: file, line: line)
        XCTAssertEqual(out.shape, expected.shape, "\(name) output shape", file: file, line: line)
        XCTAssertEqual(seed.shape, expected.shape, "\(name) grad_output shape", file: file, line: line)
        guard out.shape == expected.shape, seed.shape == expected.shape else { return }
        assertClose(out, expected, atol: 1e-5, rtol: 1e-4, "\(name) output", file: file, line: line)
        (out * seed).sum().backward()
        for k in inputs {
            guard let expected = t["grad_" + k] else { continue }
            let got = try XCTUnwrap(leaves[k]!.grad, "\(name): no gradient for \(k)", file: file, line: line)
            assertClose(got, expected, atol: 1e-5, rtol: 1e-4, "\(name) grad_\(k)", file: file, line: line)
        }
    }

    func testLayerNorm() throws {
        try check("layernorm", inputs: ["input", "weight", "bias"]) { x, _ in
            x["input"]!.layerNorm(normalizedShape: [8], weight: x["weight"], bias: x["bias"], epsilon: 1e-5)
        }
    }

    func testAttentionWithPaddingMask() throws {
        try check("attention_padding", inputs: ["query", "key", "value"]) { x, t in
            let mask = t["mask"]!.reshaped([2, 1, 1, 6])
            return scaledDotProductAttention(query: x["query"]!, key: x["key"]!, value: x["value"]!,
                                             mask: .boolean(mask))
        }
    }

    func testCausalAttention() throws {
        try check("attention_causal", inputs: ["query", "key", "value"]) { x, _ in
            scaledDotProductAttention(query: x["query"]!, key: x["key"]!, value: x["value"]!, isCausal: true)
        }
    }

    /// The losses are scalars; the fixtures store them as [1] (`make_goldens.py` reshapes
    /// PyTorch's scalar the same way), so the scalar shape is asserted before that reshape.
    func testCrossEntropyWithSmoothingIgnoreIndexAndClassWeights() throws {
        try check("cross_entropy", inputs: ["logits"]) { x, t in
            let loss = crossEntropy(logits: x["logits"]!, targets: t["target"]!, weights: t["class_weights"]!,
                                    ignoreIndex: -100, labelSmoothing: 0.1)
            XCTAssertEqual(loss.shape, [], "cross_entropy is a scalar")
            return loss.reshaped([1])
        }
        try check("cross_entropy_plain", inputs: ["logits"]) { x, t in
            let loss = crossEntropy(logits: x["logits"]!, targets: t["target"]!)
            XCTAssertEqual(loss.shape, [], "cross_entropy_plain is a scalar")
            return loss.reshaped([1])
        }
    }

    func meta(_ name: String) throws -> [String: Int] {
        let url = try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: "safetensors", subdirectory: "Fixtures"))
        return try SafeTensorsFile(path: url.path).metadata.compactMapValues { Int($0) }
    }

    func testConvolutions() throws {
        for name in ["conv2d_stride2", "conv2d_dilated_grouped", "conv2d_depthwise", "conv2d_stem"] {
            let m = try meta(name)
            let hasBias = try fixture(name)["bias"] != nil
            try check(name, inputs: hasBias ? ["input", "weight", "bias"] : ["input", "weight"]) { x, _ in
                x["input"]!.conv2d(weight: x["weight"]!, bias: x["bias"], stride: IntPair(integerLiteral: m["stride"]!),
                                   padding: IntPair(integerLiteral: m["padding"]!), dilation: IntPair(integerLiteral: m["dilation"]!),
                                   groups: m["groups"]!)
            }
        }
        try check("conv1d", inputs: ["input", "weight", "bias"]) { x, _ in
            x["input"]!.conv1d(weight: x["weight"]!, bias: x["bias"], stride: 2, padding: 1, dilation: 2)
        }
    }

    func testBatchNormTrainingAndEval() throws {
        for mode in ["train", "eval"] {
            let name = "batchnorm2d_" + mode
            let t = try fixture(name)
            var result: BatchNormResult?
            try check(name, inputs: ["input", "weight", "bias"]) { x, t in
                let r = Tensor.batchNorm(x["input"]!, weight: x["weight"], bias: x["bias"], runningMean: t["running_mean"],
                                         runningVar: t["running_var"], training: mode == "train", momentum: 0.1,
                                         epsilon: 1e-5)
                result = r
                return r.output
            }
            assertClose(try XCTUnwrap(result?.runningMean), t["running_mean_after"]!, atol: 1e-6, rtol: 1e-5, "\(name) running mean")
            assertClose(try XCTUnwrap(result?.runningVar), t["running_var_after"]!, atol: 1e-6, rtol: 1e-5, "\(name) running var")
        }
    }

    func testPooling() throws {
        try check("maxpool2d", inputs: ["input"]) { x, _ in x["input"]!.maxPool2d(kernelSize: 3, stride: 2, padding: 1) }
        try check("avgpool2d", inputs: ["input"]) { x, _ in x["input"]!.avgPool2d(kernelSize: 3, stride: 2, padding: 1) }
    }
}
