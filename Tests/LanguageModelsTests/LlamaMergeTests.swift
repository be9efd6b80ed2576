import Foundation
import GGUF
@testable import LanguageModels
import LoRA
import NN
import SafeTensors
import TestSupport
import XCTest

/// Merging an adapter into a quantised decoder (the tiny GGUF fixture: Q8_0, Q4_0, Q4_1, F16 and
/// F32 matrices): the Float32 checkpoint holds every weight and computes the adapted model's
/// logits; written back as GGUF in F32 it computes them too (names and llama.cpp's Q/K row order
/// right); re-quantised, its error is reported and small; with a zero adapter, re-quantising in
/// the base's own types gives the base's bytes back.
final class LlamaMergeTests: XCTestCase {
    let ids = Tensor(indices: [3, 17, 5, 22, 9, 1, 30, 7, 44, 60], shape: [1, 10])
    var ggufURL: URL { LlamaFixtures.url("llama_tiny.gguf") }

    /// The fixture with an adapter on every projection; random B unless `zero`.
    func adapted(zero: Bool = false) throws -> (LlamaForCausalLM, LoRAModel) {
        let model = try LlamaForCausalLM.load(gguf: ggufURL)
        let lora = LoRAModel(wrapping: model)
        var rng = RandomGenerator(seed: 8), noise = RandomGenerator(seed: 9)
        try lora.addAdapter(config: LoRAConfig(rank: 4, alpha: 8, targetModules: LlamaLoRATests.targets), generator: &rng)
        if !zero {
            for (_, host) in lora.hosts { if let a = host.adapters["default"] { a.b = Tensor.randn(a.b.shape, std: 0.2, generator: &noise) } }
        }
        return (model, lora)
    }

    func logits(_ model: LlamaForCausalLM) throws -> [Float] { try withNoGrad { try model.logits(ids).scalars } }

    func testFloatCheckpointComputesTheAdaptedModel() throws {
        let (model, lora) = try adapted()
        let expected = try logits(model)
        let state = try CausalLMSession.completeMergedState(lora, of: model)
        let plain = try LlamaForCausalLM.load(gguf: ggufURL)
        try plain.dequantize()
        XCTAssertEqual(Set(state.keys), Set(plain.stateDict().keys))
        try plain.load(state, strict: true)
        let merged = try logits(plain)
        XCTAssertLessThanOrEqual(zip(merged, expected).map { abs($0 - $1) }.max()!, 1e-4)
        // The control: the base alone differs.
        let base = try logits(try LlamaForCausalLM.load(gguf: ggufURL))
        XCTAssertGreaterThan(zip(base, expected).map { abs($0 - $1) }.max()!, 1e-2)
    }

    func testGGUFExportInF32AndQ8_0() throws {
        let (model, lora) = try adapted()
        let expected = try logits(model)
        let state = try CausalLMSession.completeMergedState(lora, of: model)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("merge-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = try GGUFFile(url: ggufURL)
        // F32: lossless, so the written file computes the merged model (names, row order, metadata).
        let f32 = dir.appendingPathComponent("f32.gguf")
        let exact = try LlamaGGUFExport.write(state, like: base, type: .f32, config: model.config, to: f32.path)
        XCTAssertTrue(exact.allSatisfy { $0.squaredError == 0 })
        let reloaded = try LlamaForCausalLM.load(gguf: f32)
        XCTAssertLessThanOrEqual(zip(try logits(reloaded), expected).map { abs($0 - $1) }.max()!, 1e-4)
        let written = try GGUFFile(url: f32)
        XCTAssertEqual(written.tensors.map(\.name), base.tensors.map(\.name))
        XCTAssertEqual(try written.string("general.architecture"), "llama")
        XCTAssertEqual(written.metadata["tokenizer.ggml.tokens"], base.metadata["tokenizer.ggml.tokens"])
        // Q8_0: every matrix re-quantised; the error is reported and small, and the logits stay close.
        let q8 = dir.appendingPathComponent("q8.gguf")
        let errors = try LlamaGGUFExport.write(state, like: base, type: .q8_0, config: model.config, to: q8.path)
        let matrices = errors.filter { $0.type == .q8_0 }
        XCTAssertEqual(matrices.count, base.tensors.filter { $0.shape.count == 2 }.count)
        // Adapted matrices lose about 0.5 % of their norm; a matrix the base stored as Q8_0 and no
        // adapter changed (the embedding) comes back exactly.
        XCTAssertTrue(matrices.allSatisfy { $0.relativeError < 0.01 }, "\(matrices.map(\.relativeError))")
        XCTAssertEqual(matrices.filter { $0.relativeError == 0 }.map(\.name).sorted(),
                       base.tensors.filter { $0.type == .q8_0 && !$0.name.hasPrefix("blk.") }.map(\.name).sorted())
        let quantised = try LlamaForCausalLM.load(gguf: q8)
        let q = try logits(quantised)
        let scale = expected.map(abs).max()!
        let drift = zip(q, expected).map { abs($0 - $1) }.max()!
        XCTAssertGreaterThan(drift, 0)
        XCTAssertLessThan(drift, 0.05 * scale)
        XCTAssertEqual(try GGUFFile(url: q8).metadata["general.file_type"], .uint32(7))
    }

    func testAZeroAdapterRequantisedInTheBasesTypesGivesTheBasesBytes() throws {
        let (model, lora) = try adapted(zero: true)
        let state = try CausalLMSession.completeMergedState(lora, of: model)
        let path = NSTemporaryDirectory() + "same-\(UUID().uuidString).gguf"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let base = try GGUFFile(url: ggufURL)
        try LlamaGGUFExport.write(state, like: base, type: nil, config: model.config, to: path)
        let written = try GGUFFile(path: path)
        for info in base.tensors {
            let again = try written.tensorInfo(named: info.name)
            XCTAssertEqual(again.type, info.type, info.name)
            XCTAssertEqual(Array(try written.rawData(named: info.name)), Array(try base.rawData(named: info.name)), info.name)
        }
    }

    func testAMissingOrMisshapenTensorIsAnErrorNamingIt() throws {
        let (model, lora) = try adapted()
        var state = try CausalLMSession.completeMergedState(lora, of: model)
        let base = try GGUFFile(url: ggufURL)
        let path = NSTemporaryDirectory() + "bad-\(UUID().uuidString).gguf"
        state["model.layers.1.mlp.up_proj.weight"] = nil
        XCTAssertThrowsError(try LlamaGGUFExport.write(state, like: base, type: .q8_0, config: model.config, to: path)) {
            XCTAssertTrue("\($0)".contains("blk.1.ffn_up.weight"), "\($0)")
        }
        state["model.layers.1.mlp.up_proj.weight"] = Tensor.zeros([96, 32])
        XCTAssertThrowsError(try LlamaGGUFExport.write(state, like: base, type: .q8_0, config: model.config, to: path)) {
            XCTAssertTrue("\($0)".contains("blk.1.ffn_up.weight"), "\($0)")
        }
        state["model.layers.1.mlp.up_proj.weight"] = Tensor(([Float](repeating: 0.5, count: 96 * 64 - 1) + [.nan]), shape: [96, 64])
        XCTAssertThrowsError(try LlamaGGUFExport.write(state, like: base, type: .q8_0, config: model.config, to: path)) {
            XCTAssertTrue("\($0)".contains("blk.1.ffn_up.weight") && "\($0)".contains("not finite"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }
}
