import Foundation
@testable import LanguageModels
import Tasks
import XCTest

/// Generation with the KV cache on the tiny fixture model: greedy equals `transformers`'
/// `generate`, each step's logits equal a full recompute, stops (tokens, count, context, callback),
/// errors; text streaming through a tokenizer: pieces add up to the text, characters cut inside
/// their bytes and beginnings of stop strings are held back, stop strings end the text.
final class GenerationTests: XCTestCase {
    private func tiny() throws -> LlamaForCausalLM { try LlamaForCausalLM.load(from: LlamaFixtures.url("llama_tiny")) }

    func testGreedyGenerationMatchesTransformers() throws {
        let golden = try XCTUnwrap(LlamaFixtures.goldens().safetensors.greedy)
        let output = try TokenGenerator(model: tiny()).generate(prompt: golden.prompt, maxTokens: golden.tokens.count,
                                                                 sampler: TokenSampler(), stopTokens: [])
        XCTAssertEqual(output.tokens, golden.tokens)
        XCTAssertEqual(output.stopReason, .maxTokens)
        XCTAssertGreaterThan(output.timeToFirstToken, 0)
        XCTAssertGreaterThanOrEqual(output.seconds, output.timeToFirstToken)
    }

    func testCachedStepsEqualFullRecompute() throws {
        let model = try tiny()
        var sampler = TokenSampler(temperature: 1, seed: 3)
        var ids = [5, 9, 14]
        let cache = model.makeCache(capacity: 4)
        var logits = try model.nextTokenLogits(ids, cache: cache)
        for _ in 0..<20 {
            let full = try model.logits(idTensor(ids)).slice(axis: 1, start: ids.count - 1, end: ids.count).scalars
            XCTAssertEqual(logits.count, full.count)
            XCTAssertLessThanOrEqual(zip(logits, full).map { abs($0 - $1) }.max()!, 1e-4, "after \(ids.count) tokens")
            let next = sampler.next(logits)
            ids.append(next)
            logits = try model.nextTokenLogits([next], cache: cache)
        }
    }

    func testStops() throws {
        let model = try tiny()
        let generator = TokenGenerator(model: model)
        let golden = try XCTUnwrap(LlamaFixtures.goldens().safetensors.greedy)
        // A stop token ends the generation and is included.
        let stop = golden.tokens[3]
        let stopped = try generator.generate(prompt: golden.prompt, maxTokens: 12, sampler: TokenSampler(), stopTokens: [stop])
        XCTAssertEqual(stopped.tokens, Array(golden.tokens.prefix(4)))
        XCTAssertEqual(stopped.stopReason, .stopToken(stop))
        // The callback can stop it.
        var seen: [Int] = []
        let called = try generator.generate(prompt: golden.prompt, maxTokens: 12, sampler: TokenSampler(), stopTokens: []) {
            seen.append($0)
            return seen.count < 2
        }
        XCTAssertEqual(called.tokens, Array(golden.tokens.prefix(2)))
        XCTAssertEqual(called.stopReason, .stopped)
        // The context (64 positions) bounds the continuation.
        let long = try generator.generate(prompt: Array(repeating: 7, count: 60), maxTokens: 50, sampler: TokenSampler(),
                                          stopTokens: [])
        XCTAssertEqual(long.tokens.count, 4)
        XCTAssertEqual(long.stopReason, .maxTokens)
    }

    func testBadRequestsAreTypedErrors() throws {
        let generator = TokenGenerator(model: try tiny())
        XCTAssertThrowsError(try generator.generate(prompt: [], maxTokens: 3, sampler: TokenSampler())) {
            XCTAssertEqual($0 as? GenerationError, .emptyPrompt)
        }
        XCTAssertThrowsError(try generator.generate(prompt: Array(repeating: 1, count: 64), maxTokens: 3, sampler: TokenSampler())) {
            XCTAssertEqual($0 as? GenerationError, .promptTooLong(tokens: 64, context: 64))
        }
        XCTAssertThrowsError(try generator.generate(prompt: [1, 200], maxTokens: 3, sampler: TokenSampler())) {
            XCTAssertEqual($0 as? GenerationError, .tokenOutOfRange(id: 200, vocabulary: 96))
        }
        let text = LanguageModelTextGenerator(model: try tiny(), tokenizer: ByteTokenizer(), summary: "tiny")
        XCTAssertThrowsError(try text.generate(.text("ab"), settings: GenerationSettings(topP: 0)) { _ in }) {
            guard case .invalidSettings? = $0 as? GenerationError else { return XCTFail("\($0)") }
        }
    }

    // MARK: - Text

    func testTextStreamHoldsBackCutCharactersAndStopPrefixes() {
        // Tokens are bytes: "é" is 0xC3 0xA9.
        var stream = TextStream(decode: { String(decoding: $0.map(UInt8.init), as: UTF8.self) }, stopStrings: ["END"])
        var pieces: [String] = []
        for byte in Array("aé".utf8) + Array("bEN".utf8) { pieces.append(stream.append(Int(byte))) }
        XCTAssertEqual(pieces, ["a", "", "é", "b", "", ""])              // "E", "EN" may begin "END"
        XCTAssertEqual(stream.append(Int(UInt8(ascii: "x"))), "ENx")     // they did not
        for byte in "yEND".utf8 { _ = stream.append(Int(byte)) }
        XCTAssertEqual(stream.stoppedBy, "END")
        XCTAssertEqual(stream.text, "aébENxy")
        XCTAssertEqual(stream.flush(), "")
    }

    func testTextGeneratorStreamsWhatItReturns() throws {
        let model = try tiny()
        let generator = LanguageModelTextGenerator(model: model, tokenizer: ByteTokenizer(), summary: "tiny")
        var streamed = ""
        let settings = GenerationSettings(maxTokens: 30, temperature: 0.9, topK: 40, seed: 5)
        let result = try generator.generate(.text("Hello"), settings: settings) { streamed += $0 }
        XCTAssertEqual(streamed, result.text)
        XCTAssertEqual(result.promptTokens, 5)
        XCTAssertEqual(result.tokens.count, 30)
        // Seeded: the same request gives the same tokens; another seed others.
        let again = try generator.generate(.text("Hello"), settings: settings) { _ in }
        XCTAssertEqual(again.tokens, result.tokens)
        var other = settings
        other.seed = 6
        XCTAssertNotEqual(try generator.generate(.text("Hello"), settings: other) { _ in }.tokens, result.tokens)
        // A stop string cuts the text before it and ends the generation.
        let stop = String(result.text.dropFirst(4).prefix(2))
        var cut = settings
        cut.stop = [stop]
        let stopped = try generator.generate(.text("Hello"), settings: cut) { _ in }
        XCTAssertEqual(stopped.stopReason, .stopString(stop))
        XCTAssertTrue(result.text.hasPrefix(stopped.text + stop))
        XCTAssertFalse(stopped.text.contains(stop))
    }

    func testChatIsRenderedWithTheTemplateAndEndsAtEndOfTurn() throws {
        let model = try tiny()
        let golden = try XCTUnwrap(LlamaFixtures.goldens().safetensors.greedy)
        // The tokenizer's chat template renders to the golden prompt; its end of turn is the
        // golden's 4th token.
        let tokenizer = ByteTokenizer(chat: golden.prompt, endOfTurn: [golden.tokens[3]])
        let generator = LanguageModelTextGenerator(model: model, tokenizer: tokenizer, summary: "tiny")
        let result = try generator.generate(.chat([ChatMessage(role: "user", content: "hi")]),
                                            settings: GenerationSettings(maxTokens: 12)) { _ in }
        XCTAssertEqual(result.tokens, Array(golden.tokens.prefix(4)))
        XCTAssertEqual(result.stopReason, .endToken(tokenizer.decode([golden.tokens[3]])))
        XCTAssertEqual(result.text, tokenizer.decode(Array(golden.tokens.prefix(3))))
    }
}

/// A tokenizer of the tiny model's 96 ids: id = byte − 32 for printable ASCII; a chat renders to
/// fixed ids (as a string of their characters).
struct ByteTokenizer: TextTokenizer {
    var chat: [Int] = []
    var endOfTurn: [Int] = []

    func encode(_ text: String, addSpecialTokens: Bool) throws -> [Int] {
        try text.utf8.map { byte in
            guard (32..<128).contains(byte) else { throw GenerationError.invalidSettings("not ASCII") }
            return Int(byte) - 32
        }
    }

    func decode(_ ids: [Int]) -> String { String(decoding: ids.map { UInt8($0 + 32) }, as: UTF8.self) }

    func renderChat(_ messages: [ChatMessage]) throws -> String { decode(chat) }

    var endOfTurnTokenIds: [Int] { endOfTurn }
}
