import Foundation
@testable import LanguageModels
import Tensor
import TestSupport
import XCTest

/// The real SmolLM2-135M-Instruct (Q4_1 GGUF, quantised weights kept in memory) against
/// `transformers` loading the same file, in float64 (`smollm2_goldens.json`): logits on 10 chat
/// prompts within 1e-3, identical 32-token greedy continuations, and KV-cache logits equal to a
/// full recompute within 1e-4. Skipped without the model unless `LORAKIT_REQUIRE_MODELS=1`
/// (`scripts/fetch_smollm2` puts it in `data/models/smollm2`; `$LORAKIT_SMOLLM2` overrides).
final class LlamaSmolLM2Tests: XCTestCase {
    struct Goldens: Decodable {
        struct Greedy: Decodable { let tokens: [Int]; let margins: [Double] }
        struct Prompt: Decodable {
            let ids: [Int]
            let logits: [[Float]]
            let top_ids: [[Int]]
            let top_values: [[Float]]
            let checksums: [[Double]]
            let last_top_ids: [Int]
            let last_top_values: [Float]
            let greedy: Greedy
        }
        let columns: [Int]
        let prompts: [Prompt]
    }

    /// Loaded once for the class: the file and the goldens.
    private static var loaded: (model: LlamaForCausalLM, goldens: Goldens)?

    private func smolLM2() throws -> (model: LlamaForCausalLM, goldens: Goldens) {
        if let loaded = Self.loaded { return loaded }
        let url = try RealModels.smolLM2()
        let goldens = try JSONDecoder().decode(Goldens.self, from: Data(contentsOf: LlamaFixtures.url("smollm2_goldens.json")))
        let loaded = (try LlamaForCausalLM.load(gguf: url), goldens)
        Self.loaded = loaded
        return loaded
    }

    func testConfigurationAndStorage() throws {
        let model = try smolLM2().model
        XCTAssertEqual(model.config, LlamaConfig(vocabularySize: 49_152, hiddenSize: 576, intermediateSize: 1536, layerCount: 30,
                                                 headCount: 9, keyValueHeadCount: 3, headDimension: 64,
                                                 maxPositionEmbeddings: 8192, rmsNormEpsilon: 1e-5, ropeTheta: 100_000,
                                                 tieWordEmbeddings: true, bosTokenId: 1, eosTokenIds: [2]))
        let q = try XCTUnwrap(model.model.layers[0].selfAttention.qProj as? QuantizedLinear)
        XCTAssertEqual(q.weight.format, .q4_1)
        XCTAssertEqual((model.model.embedTokens as? QuantizedEmbedding)?.weight.format, .q8_0)
        XCTAssertNil(model.lmHead)
    }

    func testLogitsMatchTransformersWithin1e3() throws {
        let (model, goldens) = try smolLM2()
        for (p, prompt) in goldens.prompts.enumerated() {
            let logits = try model.logits(idTensor(prompt.ids)).scalars
            let v = model.config.vocabularySize
            var worst: Float = 0
            for t in prompt.ids.indices {
                let row = logits[(t * v)..<((t + 1) * v)]
                for (c, column) in goldens.columns.enumerated() { worst = max(worst, abs(row[t * v + column] - prompt.logits[t][c])) }
                for (id, value) in zip(prompt.top_ids[t], prompt.top_values[t]) { worst = max(worst, abs(row[t * v + id] - value)) }
                // The most likely token is the reference's wherever the reference is not near a tie.
                if prompt.top_values[t][0] - prompt.top_values[t][1] > 2e-3 {
                    XCTAssertEqual(TokenSampler.argmax(Array(row)), prompt.top_ids[t][0], "prompt \(p) position \(t)")
                }
                let sum = row.reduce(0.0) { $0 + Double($1) }, squares = row.reduce(0.0) { $0 + Double($1) * Double($1) }
                XCTAssertEqual(sum, prompt.checksums[t][0], accuracy: 1e-3 * Double(v), "prompt \(p) position \(t) Σ")
                XCTAssertEqual(squares, prompt.checksums[t][1], accuracy: 1e-4 * prompt.checksums[t][1], "prompt \(p) position \(t) Σ²")
            }
            let last = logits[((prompt.ids.count - 1) * v)...]
            for (id, value) in zip(prompt.last_top_ids, prompt.last_top_values) {
                worst = max(worst, abs(last[last.startIndex + id] - value))
            }
            XCTAssertLessThanOrEqual(worst, 1e-3, "prompt \(p): largest |logit − transformers'|")
        }
    }

    func testGreedyContinuationsAreTransformers() throws {
        let (model, goldens) = try smolLM2()
        let generator = TokenGenerator(model: model)
        for (p, prompt) in goldens.prompts.enumerated() {
            let output = try generator.generate(prompt: prompt.ids, maxTokens: 32, sampler: TokenSampler(), stopTokens: [])
            XCTAssertEqual(output.tokens, prompt.greedy.tokens, "prompt \(p)")
        }
    }

    func testCachedLogitsEqualFullRecomputeWithin1e4() throws {
        let (model, goldens) = try smolLM2()
        for prompt in goldens.prompts.prefix(3) {
            let ids = prompt.ids + prompt.greedy.tokens.prefix(6)
            let full = try model.logits(idTensor(ids)).scalars
            let v = model.config.vocabularySize
            let cache = model.makeCache(capacity: ids.count)
            var step = try model.nextTokenLogits(Array(prompt.ids), cache: cache)
            for t in (prompt.ids.count - 1)..<ids.count {
                let row = full[(t * v)..<((t + 1) * v)]
                XCTAssertLessThanOrEqual(zip(step, row).map { abs($0 - $1) }.max()!, 1e-4, "position \(t)")
                if t + 1 < ids.count { step = try model.nextTokenLogits([ids[t + 1]], cache: cache) }
            }
        }
    }
}
