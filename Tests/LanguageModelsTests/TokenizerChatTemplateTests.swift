import Foundation
import GGUF
import LanguageModels
import Tasks
import TestSupport
import XCTest

/// Chat templates rendered as `transformers`' `apply_chat_template(..., tokenize=False)` renders
/// them (Fixtures/smollm2_tokenizer_goldens.json: 50 conversations, with SmolLM2's template and
/// with the plain ChatML template).
final class TokenizerChatTemplateTests: XCTestCase {
    /// SmolLM2's template, as its GGUF stores it (checked against the file where it is present).
    static let smolLM2Template = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
        + "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
        + "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
        + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"

    private func conversations(_ template: String) throws -> [(messages: [ChatMessage], generation: Bool, rendered: String, ids: [Int])] {
        let goldens = try TokenizerFixtures.json("smollm2_tokenizer_goldens.json")
        let rows = try XCTUnwrap(goldens["chat"] as? [[String: Any]]).filter { $0["template"] as? String == template }
        return try rows.map { row in
            let messages = try XCTUnwrap(row["messages"] as? [[String: String]]).map {
                ChatMessage(role: $0["role"] ?? "?", content: $0["content"] ?? "?")
            }
            return (messages, try XCTUnwrap(row["add_generation_prompt"] as? Bool), try XCTUnwrap(row["rendered"] as? String),
                    try XCTUnwrap(row["ids"] as? [Int]))
        }
    }

    func testSmolLM2TemplateRendersAsTransformers() throws {
        let template = try ChatTemplate(source: TokenizerChatTemplateTests.smolLM2Template, name: "SmolLM2")
        let rows = try conversations("gguf")
        XCTAssertEqual(rows.count, 50)
        XCTAssertTrue(rows.contains { $0.messages.first?.role == "system" })
        XCTAssertTrue(rows.contains { $0.messages.first?.role != "system" })
        XCTAssertTrue(rows.contains { $0.messages.count >= 6 })
        XCTAssertTrue(rows.contains { !$0.generation })
        for row in rows {
            XCTAssertEqual(try template.render(row.messages, addGenerationPrompt: row.generation), row.rendered,
                           "\(row.messages)")
        }
    }

    func testPlainChatMLRendersAsTransformers() throws {
        let goldens = try TokenizerFixtures.json("smollm2_tokenizer_goldens.json")
        let source = try XCTUnwrap(goldens["chat_template_plain"] as? String)
        let template = try ChatTemplate(source: source, name: "ChatML")
        for row in try conversations("chatml") {
            XCTAssertEqual(try template.render(row.messages, addGenerationPrompt: row.generation), row.rendered)
        }
    }

    func testTheGGUFTemplateAndTheRenderedIds() throws {
        let gguf = try GGUFFile(url: try RealModels.smolLM2())
        XCTAssertEqual(try gguf.string("tokenizer.chat_template"), TokenizerChatTemplateTests.smolLM2Template)
        let template = try ChatTemplate(gguf: gguf)
        XCTAssertTrue(template.name.hasSuffix("tokenizer.chat_template"))
        let tokenizer = try BPETokenizer(gguf: gguf)
        for row in try conversations("gguf") {
            let text = try template.render(row.messages, addGenerationPrompt: row.generation)
            XCTAssertEqual(tokenizer.encode(text), row.ids)
        }
    }

    func testSpellingVariantsOfTheFamilyRenderTheSame() throws {
        let messages = [ChatMessage(role: "user", content: "Hi"), ChatMessage(role: "assistant", content: "Hello")]
        let reference = try ChatTemplate(source: TokenizerChatTemplateTests.smolLM2Template, name: "a")
            .render(messages, addGenerationPrompt: true)
        let variants = [
            // whitespace inside tags, double quotes, attribute access, whitespace control, escapes, trim_blocks
            "{%- for message in messages -%}\n{%- if loop.first and messages[0][\"role\"]!=\"system\" -%}"
                + "{{- \"<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\\n\" -}}"
                + "{%- endif -%}\n{{ '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}"
                + "{%- endfor %}\n{% if add_generation_prompt %}\n{{ '<|im_start|>assistant\\n' }}\n{%- endif %}\n",
        ]
        for source in variants {
            XCTAssertEqual(try ChatTemplate(source: source, name: "variant").render(messages, addGenerationPrompt: true), reference)
        }
    }

    func testOtherTemplatesAreRefusedNamingTheTemplate() {
        let llama2 = "{% for message in messages %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + "
            + "message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token }}"
            + "{% endif %}{% endfor %}"
        let withText = "Conversation:\n" + TokenizerChatTemplateTests.smolLM2Template
        let filtered = TokenizerChatTemplateTests.smolLM2Template.replacingOccurrences(of: "message['content']",
                                                                                      with: "message['content'] | trim")
        let unclosed = "{% for message in messages %}{{ message['content'] "
        for (name, source) in [("llama2", llama2), ("text", withText), ("filter", filtered), ("unclosed", unclosed), ("empty", "")] {
            XCTAssertThrowsError(try ChatTemplate(source: source, name: name)) { error in
                guard case .unrecognised(name, _)? = error as? ChatTemplateError else { return XCTFail("\(name): \(error)") }
                XCTAssertTrue("\(error)".hasPrefix(name + ":"), "\(error)")
            }
        }
    }

    func testAnEmptyConversationIsRefusedAsTransformersRefusesIt() throws {
        let template = try ChatTemplate(source: TokenizerChatTemplateTests.smolLM2Template, name: "SmolLM2")
        XCTAssertThrowsError(try template.render([], addGenerationPrompt: true)) {
            XCTAssertEqual($0 as? ChatTemplateError, .emptyConversation(name: "SmolLM2"))
        }
    }
}
