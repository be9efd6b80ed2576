import Foundation
import GGUF
@testable import LanguageModels
import Tasks
import TestSupport
import XCTest

/// The `gguf_llama` format that `LanguageModelsPlugin` registers for `lorakit generate`: which
/// files it takes, the errors of files it cannot load, and the real SmolLM2 driven through it end
/// to end (chat rendered, encoded, generated greedily, decoded) against `transformers`' goldens.
final class GenerativeModelFormatTests: XCTestCase {
    func format() throws -> GenerativeModelFormat {
        var registry = Registry()
        try registry.install(LanguageModelsPlugin.self)
        XCTAssertEqual(registry.names(GenerativeModels.self), ["gguf_llama"])
        return try registry.lookup(GenerativeModels.self, "gguf_llama")
    }

    func testAcceptsGGUFFilesOnly() throws {
        let format = try format()
        XCTAssertTrue(format.accepts(LlamaFixtures.url("llama_tiny.gguf")))
        XCTAssertFalse(format.accepts(LlamaFixtures.url("llama_tiny")), "a directory")
        XCTAssertFalse(format.accepts(LlamaFixtures.url("llama_tiny/model.safetensors")))
        XCTAssertFalse(format.accepts(LlamaFixtures.url("no-such-file.gguf")))
    }

    func testAModelWithoutATokenizerIsAnErrorNamingTheFile() throws {
        // The tiny fixture has weights and llama.* metadata but no tokenizer.ggml.* keys.
        let url = LlamaFixtures.url("llama_tiny.gguf")
        XCTAssertThrowsError(try format().load(url)) { error in
            XCTAssertTrue("\(error)".contains(url.path), "\(error)")
            XCTAssertTrue("\(error)".contains("tokenizer"), "\(error)")
        }
    }

    func testATruncatedFileIsAnErrorNamingIt() throws {
        let data = try Data(contentsOf: LlamaFixtures.url("llama_tiny.gguf"))
        let path = NSTemporaryDirectory() + "truncated-\(UUID().uuidString).gguf"
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let format = try format()
        XCTAssertTrue(format.accepts(URL(fileURLWithPath: path)))
        XCTAssertThrowsError(try format.load(URL(fileURLWithPath: path))) { error in
            XCTAssertTrue("\(error)".contains(path), "\(error)")
        }
    }

    struct Goldens: Decodable {
        struct Prompt: Decodable {
            struct Greedy: Decodable { let tokens: [Int] }
            let messages: [ChatMessage]
            let ids: [Int]
            let greedy: Greedy
        }
        let prompts: [Prompt]
    }

    func testSmolLM2ChatsAsTransformersGreedily() throws {
        let url = try RealModels.smolLM2()
        let format = try format()
        XCTAssertTrue(format.accepts(url))
        let generator = try XCTUnwrap(try format.load(url) as? LanguageModelTextGenerator<LlamaForCausalLM>)
        XCTAssertTrue(generator.summary.contains("30 blocks") && generator.summary.contains("Q4_1"), generator.summary)
        let goldens = try JSONDecoder().decode(Goldens.self, from: Data(contentsOf: LlamaFixtures.url("smollm2_goldens.json")))
        let ends = Set(generator.tokenizer.endOfTurnTokenIds)
        XCTAssertTrue(ends.contains(2), "<|im_end|> ends a turn")
        for (p, prompt) in goldens.prompts.prefix(4).enumerated() {
            // The conversation renders and encodes to the ids transformers' apply_chat_template gives.
            XCTAssertEqual(try generator.promptTokens(.chat(prompt.messages)), prompt.ids, "prompt \(p)")
            var streamed = ""
            let result = try generator.generate(.chat(prompt.messages), settings: GenerationSettings(maxTokens: 32)) { streamed += $0 }
            // Greedy: transformers' 32 tokens, up to the first end of turn.
            let expected = Array(prompt.greedy.tokens.prefix { !ends.contains($0) })
            XCTAssertEqual(result.tokens.prefix(expected.count).map { $0 }, expected, "prompt \(p)")
            XCTAssertEqual(result.text, generator.tokenizer.decode(expected), "prompt \(p)")
            XCTAssertEqual(streamed, result.text, "prompt \(p): streamed pieces add up to the text")
            XCTAssertEqual(result.promptTokens, prompt.ids.count)
            if expected.count < 32 {
                XCTAssertEqual(result.stopReason, .endToken(generator.tokenizer.decode([prompt.greedy.tokens[expected.count]])))
            } else {
                XCTAssertEqual(result.stopReason, .maxTokens)
            }
        }
    }
}
