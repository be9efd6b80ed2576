import Foundation
import GGUF
@testable import LanguageModels
import Tasks
import TestSupport
import XCTest

/// Which tokens a causal-LM example learns, with SmolLM2's real tokenizer and ChatML template:
/// the assistant's turns (their text and `<|im_end|>`), a completion and its end token, a whole
/// text; errors naming file and line; and the dates generator's splits.
final class CausalLMReaderTests: XCTestCase {
    private static var cached: ChatTokenizer?

    func reader(maxTokens: Int = 512) throws -> CausalLMReader {
        if Self.cached == nil { Self.cached = try ChatTokenizer(gguf: try GGUFFile(url: try RealModels.smolLM2())) }
        return CausalLMReader(tokenizer: Self.cached!, maxTokens: maxTokens)
    }

    /// The text of the learned tokens.
    func learned(_ e: CausalLMExample, _ r: CausalLMReader) -> String {
        r.tokenizer.decode(zip(e.ids, e.targets).filter { $0.1 }.map { $0.0 })
    }

    func testChatLearnsTheAssistantTurnsOnly() throws {
        let r = try reader()
        let messages = [ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "Hi"),
                        ChatMessage(role: "assistant", content: "Hello!"), ChatMessage(role: "user", content: "2+2?"),
                        ChatMessage(role: "assistant", content: "4")]
        let e = try r.chat(messages, at: "test")
        XCTAssertEqual(learned(e, r), "Hello!<|im_end|>\n4<|im_end|>\n")
        // The ids are the whole conversation as the template renders it.
        let rendered = try r.tokenizer.template.get().render(messages, addGenerationPrompt: false)
        XCTAssertEqual(e.ids, r.tokenizer.tokenizer.encode(rendered, addSpecialTokens: false))
        // The prompt of the last turn ends with the generation prompt.
        let p = try XCTUnwrap(e.promptLength)
        XCTAssertTrue(r.tokenizer.decode(Array(e.ids[..<p])).hasSuffix("<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n"))
        XCTAssertFalse(e.targets[..<p].suffix(5).contains(true))
    }

    func testPromptCompletionAndTextTargets() throws {
        let r = try reader()
        let pc = try XCTUnwrap(try r.examples(from: ["prompt": "Capital of France:", "completion": " Paris"], at: "x").first)
        XCTAssertEqual(learned(pc, r), " Paris<|im_end|>", "the completion and the EOS")
        XCTAssertEqual(pc.promptLength, r.tokenizer.tokenizer.encode("Capital of France:", addSpecialTokens: true).count)
        let text = try XCTUnwrap(try r.examples(from: ["text": "Once upon a time"], at: "x").first)
        XCTAssertTrue(text.targets.allSatisfy { $0 })
        XCTAssertNil(text.promptLength)
        XCTAssertEqual(r.tokenizer.decode(text.ids), "Once upon a time<|im_end|>")
    }

    func testFileErrorsNameTheLine() throws {
        let r = try reader()
        let dir = NSTemporaryDirectory() + "lorakit-lm-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cases: [(String, String)] = [
            ("{\"text\": \"fine\"}\n\n{\"text\": 3}\n", ":3: \"text\" must be a string"),
            ("{\"text\": \"fine\"}\n{oops\n", ":2: not valid JSON"),
            ("{\"question\": \"?\"}\n", ":1: expected \"text\", \"prompt\" and \"completion\", or \"messages\"; found \"question\""),
            ("{\"messages\": [{\"role\": \"assistant\", \"content\": \"hi\"}]}\n", ":1: the conversation opens with an assistant message"),
            ("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n", ":1: the conversation has no assistant message"),
            ("{\"messages\": [{\"role\": \"user\"}]}\n", ":1: message 1 needs string \"role\" and \"content\""),
        ]
        for (i, (content, expected)) in cases.enumerated() {
            let url = URL(fileURLWithPath: "\(dir)/\(i).jsonl")
            try content.write(to: url, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try r.jsonLines(url)) { error in
                XCTAssertTrue("\(error)".hasPrefix(url.path + expected), "\(error)")
            }
        }
    }

    func testLongSequencesAreCutAndEmptyOnesDropped() throws {
        let r = try reader(maxTokens: 8)
        let dir = NSTemporaryDirectory() + "lorakit-lm-\(UUID().uuidString).jsonl"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let long = String(repeating: "word ", count: 40)
        try "{\"text\": \"\(long)\"}\n{\"prompt\": \"\(long)\", \"completion\": \"end\"}\n{\"text\": \"short\"}\n"
            .write(toFile: dir, atomically: true, encoding: .utf8)
        let read = try r.jsonLines(URL(fileURLWithPath: dir))
        XCTAssertEqual(read.cut, 2)
        XCTAssertEqual(read.dropped, 1, "the prompt filled the 8 tokens: nothing left to learn")
        XCTAssertEqual(read.examples.map(\.ids.count), [8, r.tokenizer.tokenizer.encode("short").count + 1])
    }

    func testDatesSplitsShareNoDateAndAreSeeded() throws {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory() + "lorakit-dates-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try DateNormalisationData.write(to: dir, counts: [("train", 300), ("test", 100)], seed: 4)
        func answers(_ name: String) throws -> [String] {
            try String(contentsOf: dir.appendingPathComponent("\(name).jsonl"), encoding: .utf8).split(separator: "\n").map { line in
                let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                let messages = try XCTUnwrap(object["messages"] as? [[String: String]])
                XCTAssertEqual(messages.map { $0["role"] }, ["user", "assistant"])
                return try XCTUnwrap(messages[1]["content"])
            }
        }
        let train = try answers("train"), test = try answers("test")
        XCTAssertEqual([train.count, test.count], [300, 100])
        XCTAssertTrue(Set(train).isDisjoint(with: test))
        XCTAssertTrue(train.allSatisfy { $0.range(of: #"^(19[5-9]\d|20[0-4]\d)-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"#,
                                                   options: .regularExpression) != nil })
        let first = try String(contentsOf: dir.appendingPathComponent("train.jsonl"), encoding: .utf8)
        try DateNormalisationData.write(to: dir, counts: [("train", 300), ("test", 100)], seed: 4)
        XCTAssertEqual(try String(contentsOf: dir.appendingPathComponent("train.jsonl"), encoding: .utf8), first)
        XCTAssertEqual(DateNormalisationData.written(.init(year: 2021, month: 3, day: 22), form: 2), "the 22nd of March, 2021")
        // The related task: the same dates (same seed), answered in the US form and asked for it.
        try DateNormalisationData.write(to: dir, counts: [("train", 300), ("test", 100)], seed: 4, answer: .us)
        let us = try answers("train")
        for (iso, american) in zip(train, us) {
            let p = iso.split(separator: "-")
            XCTAssertEqual(american, "\(p[1])/\(p[2])/\(p[0])")
        }
        XCTAssertTrue(try String(contentsOf: dir.appendingPathComponent("train.jsonl"), encoding: .utf8).contains("MM/DD/YYYY"))
        XCTAssertEqual(DateNormalisationData.written(.init(year: 2021, month: 3, day: 12), form: 5), "March 12th, 2021")
    }
}
