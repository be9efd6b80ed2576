import Foundation
import GGUF
@testable import LanguageModels
import NN
import TestSupport
import XCTest

/// The decoder loaded from a GGUF file written as llama.cpp's converter writes one (Q/K rows
/// permuted, mixed Q4_1/Q4_0/Q8_0/F16/BF16/F32 tensors) against `transformers` loading the same
/// file: every matrix as gguf-py dequantises it (Q/K un-permuted as transformers does), logits,
/// KV-cache steps and greedy continuation; errors name the tensor or key.
final class LlamaGGUFTests: XCTestCase {
    private func tiny() throws -> LlamaForCausalLM { try LlamaForCausalLM.load(gguf: LlamaFixtures.url("llama_tiny.gguf")) }

    func testConfigurationFromMetadataEqualsTheHuggingFaceOne() throws {
        var expected = try LlamaConfig.load(from: LlamaFixtures.url("llama_tiny"))
        expected.bosTokenId = nil           // the fixture's GGUF has no tokenizer metadata
        expected.eosTokenIds = []
        XCTAssertEqual(try LlamaConfig(gguf: GGUFFile(url: LlamaFixtures.url("llama_tiny.gguf"))), expected)
    }

    func testMatricesEqualGGUFPyDequantisationInHuggingFaceRowOrder() throws {
        let model = try tiny()
        let goldens = try XCTUnwrap(LlamaFixtures.goldens().gguf.dequantized)
        var checked = 0
        for (key, module) in model.namedModules() {
            let matrix: QuantizedMatrix
            switch module {
            case let linear as QuantizedLinear: matrix = linear.weight
            case let embedding as QuantizedEmbedding: matrix = embedding.weight
            default: continue
            }
            let name = GGUFLlamaWeights.name(key) + ".weight"
            let golden = try XCTUnwrap(goldens[name], name)
            XCTAssertEqual(matrix.format.rawValue, golden.type, name)
            XCTAssertEqual(matrix.shape, golden.shape, name)
            let values = matrix.dequantized().scalars
            XCTAssertEqual(Array(values.prefix(8)), golden.first, name)
            let sum = values.reduce(0.0) { $0 + Double($1) }, squares = values.reduce(0.0) { $0 + Double($1) * Double($1) }
            XCTAssertEqual(sum, golden.sum, accuracy: 1e-9 * max(1, golden.sum_squares), name)
            XCTAssertEqual(squares, golden.sum_squares, accuracy: 1e-9 * golden.sum_squares, name)
            checked += 1
        }
        XCTAssertEqual(checked, 2 * 7 + 2)                  // every projection, the embedding, the head
    }

    func testLogitsMatchTransformersLoadingTheSameFile() throws {
        let model = try tiny()
        for sequence in try LlamaFixtures.goldens().gguf.sequences {
            assertLogits(try model.logits(idTensor(sequence.ids)), sequence.logits, atol: 2e-5, "\(sequence.ids)")
        }
    }

    func testCacheStepsAndGreedyMatchTransformers() throws {
        let model = try tiny()
        let goldens = try LlamaFixtures.goldens().gguf
        let steps = try XCTUnwrap(goldens.cache_steps)
        let cache = LlamaKVCache(config: model.config, capacity: 3)
        assertLogits(try model.logits(idTensor(Array(steps.ids[..<steps.prefix])), cache: cache, lastPositionOnly: true),
                     [steps.steps[0].logits], atol: 2e-5)
        for step in steps.steps.dropFirst() {
            assertLogits(try model.logits(idTensor([steps.ids[step.position]]), cache: cache), [step.logits], atol: 2e-5)
        }
        let greedy = try XCTUnwrap(goldens.greedy)
        let output = try TokenGenerator(model: model).generate(prompt: greedy.prompt, maxTokens: greedy.tokens.count,
                                                                sampler: TokenSampler(), stopTokens: [])
        XCTAssertEqual(output.tokens, greedy.tokens)
    }

    func testModuleTreeHasHuggingFaceKeys() throws {
        let model = try tiny()
        let keys = Set(model.namedModules().map(\.key))
        for key in ["model.embed_tokens", "model.layers.1.self_attn.k_proj", "model.layers.0.mlp.down_proj", "lm_head",
                    "model.norm", "model.layers.1.post_attention_layernorm"] {
            XCTAssertTrue(keys.contains(key), key)
        }
        // Quantised weights are not parameters; the norms are, under transformers' keys.
        XCTAssertEqual(Set(model.stateDict().keys), Set(["model.norm.weight"] + (0..<2).flatMap {
            ["model.layers.\($0).input_layernorm.weight", "model.layers.\($0).post_attention_layernorm.weight"]
        }))
    }

    func testUnpermutedOrderInvertsLlamaCppsPermutation() {
        // convert_hf_to_gguf.py: w.reshape(heads, 2, D/2, …).swapaxes(1, 2): GGUF row h·D + 2i + j
        // holds HF row h·D + j·D/2 + i.
        let (heads, d) = (3, 8)
        var ggufRowOfHF = [Int](repeating: -1, count: heads * d)
        for h in 0..<heads { for i in 0..<(d / 2) { for j in 0..<2 { ggufRowOfHF[h * d + j * d / 2 + i] = h * d + 2 * i + j } } }
        XCTAssertEqual(GGUFLlamaWeights.unpermutedOrder(rows: heads * d, heads: heads), ggufRowOfHF)
    }

    func testMissingTensorsAndBadFilesAreTypedErrors() throws {
        let file = try GGUFFile(url: LlamaFixtures.url("llama_tiny.gguf"))
        var config = try LlamaConfig(gguf: file)
        config.layerCount = 3
        XCTAssertThrowsError(try LlamaForCausalLM.build(config: config, from: GGUFLlamaWeights(file: file, config: config))) {
            XCTAssertEqual($0 as? LlamaError, .missingWeight(file: file.path, key: "blk.2.attn_q.weight"))
        }
        config.layerCount = 2
        config.intermediateSize = 128
        XCTAssertThrowsError(try LlamaForCausalLM.build(config: config, from: GGUFLlamaWeights(file: file, config: config))) {
            XCTAssertEqual($0 as? LlamaError, .shapeMismatch(file: file.path, key: "blk.0.ffn_gate.weight",
                                                             expected: [128, 64], got: [96, 64]))
        }
        let notGGUF = LlamaFixtures.url("llama_tiny/config.json")
        XCTAssertThrowsError(try LlamaForCausalLM.load(gguf: notGGUF)) {
            guard case .unreadableFile? = $0 as? LlamaError else { return XCTFail("\($0)") }
        }
    }

    func testAnUnsupportedTensorTypeNamesTheTensor() throws {
        let url = LlamaFixtures.url("llama_tiny_q5.gguf")
        XCTAssertThrowsError(try LlamaForCausalLM.load(gguf: url)) {
            XCTAssertEqual($0 as? LlamaError, .unsupportedTensorType(file: url.path, key: "blk.0.ffn_up.weight", type: "Q5_0"))
        }
    }

    /// Dequantised, every matrix and the embedding become Float32 layers computing what the
    /// quantised ones computed, and every weight is trainable.
    func testDequantizedModelComputesTheSameLogits() throws {
        let model = try LlamaForCausalLM.load(gguf: LlamaFixtures.url("llama_tiny.gguf"))
        let ids = Tensor(indices: [5, 17, 33, 8, 41, 62], shape: [1, 6])
        let before = try model.logits(ids)
        try model.dequantize()
        XCTAssertFalse(model.namedModules().contains { $0.module is QuantizedLinear || $0.module is QuantizedEmbedding })
        XCTAssertEqual(model.trainableParameterCount, model.parameterCount)
        let after = try model.logits(ids)
        XCTAssertLessThanOrEqual(zip(before.scalars, after.scalars).map { abs($0 - $1) }.max() ?? 1, 1e-4)
    }
}
