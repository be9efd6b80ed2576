import Foundation
import TestSupport
import XCTest

/// `lorakit generate`: a file no registered format reads is a usage error listing the formats; the
/// real SmolLM2 answers a user message with transformers' greedy tokens, as one JSON object.
final class GenerateCommandTests: CLITestCase {
    func testAFileNoFormatReadsIsAUsageError() throws {
        let out = try lorakit(["generate", "README.md", "--prompt", "Hello"])
        XCTAssertEqual(out.status, 2, out.stderr)
        XCTAssertTrue(out.stderr.contains("README.md: no generative model format reads it"), out.stderr)
        XCTAssertTrue(out.stderr.contains("gguf_llama"), out.stderr)
    }

    func testBadSettingsAreUsageErrors() throws {
        let out = try lorakit(["generate", "README.md", "--prompt", "Hello", "--top-p", "1.5"])
        XCTAssertEqual(out.status, 2, out.stderr)
        XCTAssertTrue(out.stderr.contains("top"), out.stderr)
    }

    func testSmolLM2AnswersGreedilyAsTransformers() throws {
        let model = try RealModels.smolLM2()
        struct Goldens: Decodable {
            struct Prompt: Decodable {
                struct Message: Decodable { let role: String; let content: String }
                struct Greedy: Decodable { let tokens: [Int] }
                let messages: [Message]
                let ids: [Int]
                let greedy: Greedy
            }
            let prompts: [Prompt]
        }
        let goldens = try JSONDecoder().decode(Goldens.self, from: Data(contentsOf: root.appendingPathComponent(
            "Tests/LanguageModelsTests/Fixtures/smollm2_goldens.json")))
        let prompt = try XCTUnwrap(goldens.prompts.first { $0.messages.count == 1 && $0.messages[0].role == "user" })
        let out = try lorakit(["generate", model.path, "--user", prompt.messages[0].content, "--max-tokens", "8", "--json"])
        XCTAssertEqual(out.status, 0, out.stderr)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any], out.stdout)
        XCTAssertEqual(json["prompt_tokens"] as? Int, prompt.ids.count)
        let tokens = try XCTUnwrap(json["tokens"] as? [Int])
        XCTAssertEqual(tokens, Array(prompt.greedy.tokens.prefix(tokens.count)))
        XCTAssertTrue(tokens.count == 8 || tokens.last == 2, "stops at 8 tokens or at <|im_end|>: \(tokens)")
        XCTAssertTrue(out.stderr.lowercased().contains("smollm2") && out.stderr.contains("Q4_1"), out.stderr)
    }
}
