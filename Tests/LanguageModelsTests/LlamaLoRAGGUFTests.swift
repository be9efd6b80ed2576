import Foundation
import GGUF
@testable import LanguageModels
import LoRA
import NN
import TestSupport
import XCTest

/// A LoRA adapter written in llama.cpp's GGUF adapter format and read back with the GGUF reader:
/// the metadata llama.cpp reads, `blk.N.<matrix>.weight.lora_a/lora_b` with GGUF's dimension order,
/// A as it is, B with the query and key rows in llama.cpp's order and any scaling other than
/// alpha / r folded in; DoRA refused.
final class LlamaLoRAGGUFTests: XCTestCase {
    func adapted(_ config: LoRAConfig, format: QuantizedFormat? = .bfloat16) throws -> (LlamaForCausalLM, LoRAModel) {
        let model = LlamaLoRATests.model(format)
        let lora = LoRAModel(wrapping: model)
        var rng = RandomGenerator(seed: 5)
        try lora.addAdapter(config: config, generator: &rng)
        for (i, (_, host)) in lora.hosts.enumerated() {
            let adapter = try XCTUnwrap(host.adapters["default"])
            adapter.b = randomTensor(adapter.b.shape, seed: UInt64(100 + i))
        }
        return (model, lora)
    }

    func write(_ lora: LoRAModel, _ model: LlamaForCausalLM) throws -> GGUFFile {
        let path = NSTemporaryDirectory() + "adapter-\(UUID().uuidString).gguf"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        try LlamaLoRAGGUF.write(lora, config: model.config, to: path)
        return try GGUFFile(path: path)
    }

    func testLlamaCppAdapterLayout() throws {
        let (model, lora) = try adapted(LoRAConfig(rank: 2, alpha: 4, targetModules: ["q_proj", "k_proj", "v_proj", "down_proj"]))
        let file = try write(lora, model)
        XCTAssertEqual(try file.string("general.architecture"), "llama")
        XCTAssertEqual(try file.string("general.type"), "adapter")
        XCTAssertEqual(try file.string("adapter.type"), "lora")
        XCTAssertEqual(try file.float("adapter.lora.alpha"), 4)
        XCTAssertEqual(file.tensors.count, 2 * 4 * 2)
        let config = LlamaLoRATests.config
        for (key, host) in lora.hosts {
            let adapter = try XCTUnwrap(host.adapters["default"])
            let name = GGUFLlamaWeights.name(key) + ".weight"
            let a = try file.tensorInfo(named: name + ".lora_a"), b = try file.tensorInfo(named: name + ".lora_b")
            XCTAssertEqual(a.type, .f32)
            XCTAssertEqual(a.dimensions, [adapter.a.shape[1], 2], "GGUF lists the innermost dimension first")
            XCTAssertEqual(b.dimensions, [2, adapter.b.shape[0]])
            XCTAssertEqual(try file.tensor(named: name + ".lora_a").scalars, adapter.a.scalars)
            let written = try file.tensor(named: name + ".lora_b").scalars, original = adapter.b.scalars
            let heads = key.hasSuffix("q_proj") ? config.headCount : key.hasSuffix("k_proj") ? config.keyValueHeadCount : nil
            guard let heads else {
                XCTAssertEqual(written, original, key)
                continue
            }
            // HF row i sits at llama.cpp's row order[i]: the order its converter gives the base matrix.
            let order = GGUFLlamaWeights.unpermutedOrder(rows: adapter.b.shape[0], heads: heads)
            XCTAssertNotEqual(written, original, "\(key): rows reordered")
            for (i, row) in order.enumerated() {
                XCTAssertEqual(Array(written[(row * 2)..<(row * 2 + 2)]), Array(original[(i * 2)..<(i * 2 + 2)]), "\(key) row \(i)")
            }
        }
    }

    func testOtherScalingsAreFoldedIntoB() throws {
        let (model, lora) = try adapted(LoRAConfig(rank: 4, alpha: 8, useRSLoRA: true, targetModules: ["v_proj"]))
        let file = try write(lora, model)
        let host = try XCTUnwrap(lora.hosts.first { $0.key == "model.layers.0.self_attn.v_proj" }?.host)
        let adapter = try XCTUnwrap(host.adapters["default"])
        XCTAssertEqual(adapter.scaling, 8 / 2, accuracy: 1e-6, "rsLoRA: alpha / sqrt(r)")
        let written = try file.tensor(named: "blk.0.attn_v.weight.lora_b").scalars
        // llama.cpp's alpha / r = 2; the update must stay 4·B·A.
        for (w, b) in zip(written, adapter.b.scalars) { XCTAssertEqual(w * 2, b * 4, accuracy: 1e-5) }
    }

    func testDoRAIsRefused() throws {
        // DoRA needs float projections.
        let (model, lora) = try adapted(LoRAConfig(rank: 2, alpha: 4, useDoRA: true, targetModules: ["v_proj"]), format: nil)
        let path = NSTemporaryDirectory() + "dora-\(UUID().uuidString).gguf"
        XCTAssertThrowsError(try LlamaLoRAGGUF.write(lora, config: model.config, to: path)) { error in
            XCTAssertTrue("\(error)".contains("DoRA"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "nothing written")
    }
}
