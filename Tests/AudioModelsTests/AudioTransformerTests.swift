@testable import AudioModels
import Foundation
import LoRA
import NN
import SafeTensors
import Tensor
import TestSupport
import XCTest

/// The audio Transformer against PyTorch (Fixtures/audio_transformer.safetensors from
/// scripts/make_audio_transformer_goldens.py, which uses scripts/reference/audio_peft.py's model,
/// computed in float64): logits and the gradients of the input and every parameter; a PEFT
/// adapter (LoRA on conv1, q_proj, v_proj, fc1 with non-zero B) loaded from PEFT's own keys gives
/// PEFT's logits and adapter gradients.
final class AudioTransformerTests: XCTestCase {
    static let tiny = AudioTransformerConfig(mels: 6, width: 8, layers: 2, heads: 2, ffn: 16)

    private func golden() throws -> [String: Tensor] {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "audio_transformer", withExtension: "safetensors", subdirectory: "Fixtures"))
        return try SafeTensorsFile(contentsOf: url).tensors()
    }

    private func model(_ g: [String: Tensor]) throws -> AudioTransformer {
        var rng = RandomGenerator(seed: 3)
        let model = AudioTransformer(config: Self.tiny, classes: 3, generator: &rng)
        var weights: [String: Tensor] = [:]
        for (k, v) in g where k.hasPrefix("model.") { weights[String(k.dropFirst(6))] = v }
        XCTAssertEqual(Set(model.stateDict().keys), Set(weights.keys), "the state-dict keys are Whisper's (and PyTorch's)")
        try model.load(weights)
        return model
    }

    func testLogitsAndGradientsMatchPyTorch() throws {
        let g = try golden()
        let model = try model(g)
        let x = g["x"]!.requiringGrad()
        let logits = try model.logits(x)
        assertClose(logits, g["logits"]!, atol: 1e-5, rtol: 1e-4, "logits")
        let loss = crossEntropy(logits: logits, targets: g["targets"]!)
        loss.backward()
        assertClose(try XCTUnwrap(x.grad), g["grad_x"]!, atol: 1e-5, rtol: 1e-4, "grad x")
        var checked = 0
        for (key, p) in model.namedParameters() {
            guard let grad = p.grad else { XCTFail("no gradient for \(key)"); continue }
            assertClose(grad, g["grad." + key]!, atol: 1e-5, rtol: 1e-4, "grad \(key)")
            checked += 1
        }
        XCTAssertEqual(checked, 38)
    }

    func testPEFTAdapterGivesPEFTsLogitsAndGradients() throws {
        let g = try golden()
        let model = try model(g)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lorakit-audio-peft-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var adapter: [String: Tensor] = [:]
        for (k, v) in g where k.hasPrefix("lora.") { adapter[String(k.dropFirst(5))] = v }
        XCTAssertEqual(adapter.count, 14)
        try SafeTensors.write(adapter, to: dir.appendingPathComponent("adapter_model.safetensors"))
        try #"{"peft_type": "LORA", "r": 2, "lora_alpha": 4, "lora_dropout": 0.0, "bias": "none", "fan_in_fan_out": false,"#
            .appending(#" "target_modules": ["q_proj", "v_proj", "fc1", "conv1"], "task_type": null}"#)
            .write(to: dir.appendingPathComponent("adapter_config.json"), atomically: true, encoding: .utf8)
        let lora = LoRAModel(wrapping: model)
        try PEFTAdapterFile.load(into: lora, from: dir.path)
        let logits = try model.logits(g["x"]!)
        assertClose(logits, g["lora_logits"]!, atol: 1e-5, rtol: 1e-4, "LoRA logits")
        XCTAssertGreaterThan((logits - g["logits"]!).abs().max().item, 1e-3, "the adapter changes the output")
        crossEntropy(logits: logits, targets: g["targets"]!).backward()
        let parameters = Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.0, $0.1) })
        for (peftKey, _) in adapter {
            // base_model.model.<layer>.lora_A.weight ↔ <layer>.adapters.default.lora_A.weight
            let local = String(peftKey.dropFirst("base_model.model.".count)).replacingOccurrences(of: ".lora_", with: ".adapters.default.lora_")
            let p = try XCTUnwrap(parameters[local], "no parameter \(local) among \(parameters.keys.filter { $0.contains("lora") }.sorted())")
            assertClose(try XCTUnwrap(p.grad, local), g["lora_grad." + peftKey]!, atol: 1e-5, rtol: 1e-4, "grad \(local)")
        }
        // Merged, the model gives the same logits without the adapter's extra products.
        try lora.merge()
        assertClose(try model.logits(g["x"]!), g["lora_logits"]!, atol: 1e-5, rtol: 1e-4, "merged logits")
    }

    func testMisshapenInputIsAnErrorAndConfigsAreChecked() throws {
        var rng = RandomGenerator(seed: 1)
        let model = AudioTransformer(config: Self.tiny, classes: 3, generator: &rng)
        XCTAssertThrowsError(try model.logits(Tensor.zeros([2, 5, 9]))) {
            XCTAssertEqual("\($0)", "the audio transformer reads log-mel features [N, 6, frames]; got [2, 5, 9]")
        }
        XCTAssertThrowsError(try model.logits(Tensor.zeros([6, 9])))
        XCTAssertEqual(try model.logits(Tensor.zeros([1, 6, 1])).shape, [1, 3], "one frame is enough")
        XCTAssertEqual(AudioTransformer.encodedFrames(9), 5)
        XCTAssertEqual(AudioTransformerConfig(width: 130, heads: 4).problem, "width 130 is not a multiple of heads 4")
        XCTAssertNil(AudioTransformerConfig().problem)
        // Whisper's sinusoids: sin(0) = 0 and cos(0) = 1 at position 0; the last channel pair's rate is 1/10,000.
        let s = AudioTransformer.sinusoids(length: 3, channels: 8).scalars
        XCTAssertEqual(Array(s[0..<8]), [0, 0, 0, 0, 1, 1, 1, 1])
        XCTAssertEqual(s[8 + 3], sin(1e-4), accuracy: 1e-9)
        XCTAssertEqual(s[8 + 0], sin(1), accuracy: 1e-7)
    }
}
