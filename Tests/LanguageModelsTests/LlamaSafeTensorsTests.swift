import Foundation
@testable import LanguageModels
import NN
import SafeTensors
import TestSupport
import XCTest

/// The decoder loaded from a `transformers` checkpoint against `transformers`' own logits (float64
/// goldens): plain sequences, right- and left-padded batches, KV-cache steps, greedy continuation,
/// the tied head; and typed errors for broken checkpoints.
final class LlamaSafeTensorsTests: XCTestCase {
    private func tiny() throws -> LlamaForCausalLM { try LlamaForCausalLM.load(from: LlamaFixtures.url("llama_tiny")) }

    func testConfigurationIsReadFromConfigJSON() throws {
        let config = try LlamaConfig.load(from: LlamaFixtures.url("llama_tiny"))
        XCTAssertEqual(config, LlamaConfig(vocabularySize: 96, hiddenSize: 64, intermediateSize: 96, layerCount: 2, headCount: 4,
                                           keyValueHeadCount: 2, headDimension: 16, maxPositionEmbeddings: 64,
                                           rmsNormEpsilon: 1e-6, ropeTheta: 10_000, tieWordEmbeddings: false,
                                           bosTokenId: 1, eosTokenIds: [2]))
    }

    func testLogitsMatchTransformers() throws {
        let model = try tiny()
        for sequence in try LlamaFixtures.goldens().safetensors.sequences {
            assertLogits(try model.logits(idTensor(sequence.ids)), sequence.logits, atol: 2e-5, "\(sequence.ids)")
        }
    }

    func testPaddedBatchesMatchTransformersAtRealTokens() throws {
        let model = try tiny()
        for batch in try XCTUnwrap(LlamaFixtures.goldens().safetensors.padded) {
            let (n, t) = (batch.ids.count, batch.ids[0].count)
            let logits = try model.logits(Tensor(indices: batch.ids.flatMap { $0 }, shape: [n, t]),
                                          attentionMask: Tensor(indices: batch.attention_mask.flatMap { $0 }, shape: [n, t]),
                                          positions: Tensor(indices: batch.position_ids.flatMap { $0 }, shape: [n, t]))
            let keep = Tensor(batch.attention_mask.flatMap { $0 }.map(Float.init), shape: [n, t, 1])
            assertLogits(logits * keep, batch.logits.flatMap { $0 }, atol: 2e-5, batch.side + " padding")
        }
    }

    func testCacheStepsMatchTransformersDynamicCache() throws {
        let model = try tiny()
        let golden = try XCTUnwrap(LlamaFixtures.goldens().safetensors.cache_steps)
        let cache = LlamaKVCache(config: model.config, capacity: 2)      // grows twice on the way
        var last = try model.logits(idTensor(Array(golden.ids[..<golden.prefix])), cache: cache, lastPositionOnly: true)
        assertLogits(last, [golden.steps[0].logits], atol: 2e-5, "prefix")
        for step in golden.steps.dropFirst() {
            last = try model.logits(idTensor([golden.ids[step.position]]), cache: cache)
            assertLogits(last, [step.logits], atol: 2e-5, "position \(step.position)")
        }
        XCTAssertEqual(cache.length, golden.ids.count)
    }

    func testGreedyContinuationMatchesTransformersGenerate() throws {
        let model = try tiny()
        let golden = try XCTUnwrap(LlamaFixtures.goldens().safetensors.greedy)
        let cache = LlamaKVCache(config: model.config)
        var logits = try model.logits(idTensor(golden.prompt), cache: cache, lastPositionOnly: true)
        var tokens: [Int] = []
        for _ in golden.tokens {
            let row = logits.scalars
            let next = row.indices.max { row[$0] < row[$1] }!
            tokens.append(next)
            logits = try model.logits(idTensor([next]), cache: cache)
        }
        XCTAssertEqual(tokens, golden.tokens)
    }

    func testTiedHeadWhenTheCheckpointHasNoLMHead() throws {
        let model = try LlamaForCausalLM.load(from: LlamaFixtures.url("llama_tiny_tied"))
        XCTAssertNil(model.lmHead)
        XCTAssertTrue(model.config.tieWordEmbeddings)
        XCTAssertFalse(model.stateDict().keys.contains("lm_head.weight"))
        for sequence in try LlamaFixtures.goldens().tied.sequences {
            assertLogits(try model.logits(idTensor(sequence.ids)), sequence.logits, atol: 2e-5)
        }
    }

    func testStateDictKeysAreTransformers() throws {
        let file = try SafeTensorsFile(path: LlamaFixtures.url("llama_tiny/model.safetensors").path)
        XCTAssertEqual(Set(try tiny().stateDict().keys), Set(file.names))
    }

    // MARK: - Errors

    /// A copy of llama_tiny whose tensors are renamed by `rename` (nil drops one) plus `extra`,
    /// and whose config.json is changed by `edit`.
    private func brokenCheckpoint(extra: [String: Tensor] = [:], edit: (inout [String: Any]) -> Void = { _ in },
                                  rename: (String) -> String? = { $0 }) throws -> URL {
        let source = LlamaFixtures.url("llama_tiny")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("llama-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: source.appendingPathComponent("config.json"))) as! [String: Any]
        edit(&json)
        try JSONSerialization.data(withJSONObject: json).write(to: directory.appendingPathComponent("config.json"))
        let file = try SafeTensorsFile(path: source.appendingPathComponent("model.safetensors").path)
        var tensors = extra
        for name in file.names { if let new = rename(name) { tensors[new] = try file.tensor(named: name) } }
        try SafeTensors.write(tensors, to: directory.appendingPathComponent("model.safetensors").path)
        return directory
    }

    func testBrokenCheckpointsAreTypedErrorsNamingTheKey() throws {
        let missing = try brokenCheckpoint(rename: { $0 == "model.layers.1.mlp.up_proj.weight" ? nil : $0 })
        XCTAssertThrowsError(try LlamaForCausalLM.load(from: missing)) { error in
            XCTAssertEqual(error as? LlamaError, .missingWeight(file: missing.appendingPathComponent("model.safetensors").path,
                                                                key: "model.layers.1.mlp.up_proj.weight"))
        }
        let extra = try brokenCheckpoint(extra: ["model.layers.0.self_attn.q_proj.bias": Tensor.zeros([64])])
        XCTAssertThrowsError(try LlamaForCausalLM.load(from: extra)) { error in
            guard case let .unexpectedWeights(_, keys) = error as? LlamaError else { return XCTFail("\(error)") }
            XCTAssertEqual(keys, ["model.layers.0.self_attn.q_proj.bias"])
        }
        let misshapen = try brokenCheckpoint(edit: { $0["num_key_value_heads"] = 4 })
        XCTAssertThrowsError(try LlamaForCausalLM.load(from: misshapen)) { error in
            guard case let .shapeMismatch(_, key, expected, got) = error as? LlamaError else { return XCTFail("\(error)") }
            XCTAssertEqual(key, "model.layers.0.self_attn.k_proj.weight")
            XCTAssertEqual(expected, [64, 64])
            XCTAssertEqual(got, [32, 64])
        }
        for (key, value, expected) in [("num_key_value_heads", 3 as Any, "invalid"), ("rope_scaling", ["rope_type": "llama3"], "unsupported"),
                                       ("hidden_act", "gelu", "unsupported"), ("vocab_size", "many", "invalid")] {
            let bad = try brokenCheckpoint(edit: { $0[key] = value })
            XCTAssertThrowsError(try LlamaForCausalLM.load(from: bad)) { error in
                switch (error as? LlamaError, expected) {
                case let (.invalidConfig(_, k, _)?, "invalid"), let (.unsupported(_, k, _)?, "unsupported"): XCTAssertEqual(k, key)
                default: XCTFail("\(key): \(error)")
                }
            }
        }
        XCTAssertThrowsError(try LlamaForCausalLM.load(from: URL(fileURLWithPath: "/nonexistent/llama"))) {
            guard case .unreadableFile? = $0 as? LlamaError else { return XCTFail("\($0)") }
        }
    }

    func testBadInputIsATypedError() throws {
        let model = try tiny()
        XCTAssertThrowsError(try model.logits(idTensor([1, 96])))                                  // id beyond V
        XCTAssertThrowsError(try model.logits(Tensor([1, 2], shape: [1, 2])))                      // float ids
        XCTAssertThrowsError(try model.logits(idTensor([1, 2]), attentionMask: Tensor.ones([1, 3])))
        XCTAssertThrowsError(try model.logits(idTensor([1, 2]), positions: Tensor(indices: [0, -1], shape: [1, 2])))
        XCTAssertThrowsError(try model.logits(Tensor(indices: [1, 2], shape: [2, 1]), cache: LlamaKVCache(config: model.config)))
    }
}
