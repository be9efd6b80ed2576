import Foundation
import GGUF
import LanguageModels
import XCTest

/// `BPETokenizer(gguf:)` on a small GGUF that is not SmolLM2's (Fixtures/gguf_llama_bpe: the
/// `bpe_split` vocabulary with `tokenizer.ggml.pre = llama-bpe`, `add_bos_token`, USER_DEFINED
/// and CONTROL tokens inside and outside the byte alphabet), against `transformers` loading it;
/// and the GGUF tokenizers it must refuse (Fixtures/gguf_errors). Needs no model.
final class TokenizerGGUFTests: XCTestCase {
    func testLlamaBPEPreTokenizerAddedTokensAndBOSMatchTransformers() throws {
        let gguf = try GGUFFile(url: try TokenizerFixtures.url("gguf_llama_bpe/tokenizer.gguf"))
        let tokenizer = try BPETokenizer(gguf: gguf)
        let goldens = try TokenizerFixtures.json("gguf_llama_bpe/goldens.json")
        // One known, deliberate difference: transformers' GPT2Tokenizer registers its default
        // unk/bos/eos `<|endoftext|>` as a special token even when the GGUF's vocabulary lacks it,
        // giving it id 1506, past the 1,506 tokens the model has an embedding for. LoRAKit keeps
        // the file's vocabulary and tokenises that text as text; every other string agrees.
        XCTAssertEqual(tokenizer.vocabularySize, 1506)
        XCTAssertEqual(goldens["vocabulary_size"] as? Int, 1507)
        XCTAssertEqual(tokenizer.bos, goldens["bos"] as? Int)
        XCTAssertEqual(tokenizer.eos, goldens["eos"] as? Int)
        XCTAssertEqual(tokenizer.prefixTokens, [0])                  // add_bos_token
        let all = try TokenizerFixtures.rows(goldens)
        let rows = all.filter { !$0.text.contains("<|endoftext|>") }
        let differing = all.filter { $0.text.contains("<|endoftext|>") }
        XCTAssertFalse(differing.isEmpty)
        for (text, ids, _) in differing {
            XCTAssertTrue(ids.contains(1506), show(text))
            XCTAssertFalse(tokenizer.encode(text).contains(1506), show(text))
        }
        XCTAssertGreaterThan(rows.count, 1000)
        var failures = 0
        for (text, ids, row) in rows {
            let without = try XCTUnwrap(row["ids_without_special"] as? [Int])
            if tokenizer.encode(text) != ids || tokenizer.encode(text, addSpecialTokens: false) != without {
                failures += 1
                if failures <= 10 { XCTFail("\"\(show(text))\": \(tokenizer.encode(text)) != transformers' \(ids)") }
            }
            XCTAssertEqual(tokenizer.decode(without), row["decoded"] as? String, show(text))
            XCTAssertEqual(tokenizer.decode(ids, skipSpecialTokens: true), row["decoded_skipping_special"] as? String, show(text))
        }
        XCTAssertEqual(failures, 0, "\(failures) of \(rows.count) strings differ")
        // The USER_DEFINED token in the byte alphabet is matched whole (and decodes through it, as
        // transformers does: é is byte 0xE9 there); the one with a space is not a token at all.
        XCTAssertEqual(tokenizer.encode("Café", addSpecialTokens: false).count, 1)
        XCTAssertEqual(tokenizer.decode(tokenizer.encode("Café", addSpecialTokens: false)), "Caf\u{FFFD}")
        XCTAssertGreaterThan(tokenizer.encode("hello there", addSpecialTokens: false).count, 1)
    }

    private func refusal(_ name: String) throws -> BPETokenizerError? {
        let gguf = try GGUFFile(url: try TokenizerFixtures.url("gguf_errors/\(name).gguf"))
        do {
            _ = try BPETokenizer(gguf: gguf)
            XCTFail("\(name): accepted")
            return nil
        } catch let error as BPETokenizerError {
            XCTAssertTrue("\(error)".hasPrefix(gguf.path), "\(error)")
            return error
        }
    }

    func testUnsupportedOrMalformedGGUFTokenizersAreRefusedNamingTheKey() throws {
        XCTAssertNoThrow(try BPETokenizer(gguf: try GGUFFile(url: try TokenizerFixtures.url("gguf_errors/valid.gguf"))))
        guard case .unsupported(_, "tokenizer.ggml.model", "llama")? = try refusal("llama_model") else { return XCTFail("model") }
        guard case .unsupported(_, "tokenizer.ggml.pre", "qwen2")? = try refusal("unknown_pre") else { return XCTFail("pre") }
        guard case .missingKey(_, "tokenizer.ggml.merges")? = try refusal("missing_merges") else { return XCTFail("merges") }
        guard case .invalidMerge(_, "tokenizer.ggml.merges", 1, "a zz", _)? = try refusal("bad_merge") else {
            return XCTFail("bad merge")
        }
        guard case .invalidValue(_, "tokenizer.ggml.token_type", _)? = try refusal("type_count") else {
            return XCTFail("type count")
        }
    }

    func testAGGUFWithoutAChatTemplateSaysSo() throws {
        let gguf = try GGUFFile(url: try TokenizerFixtures.url("gguf_errors/valid.gguf"))
        XCTAssertThrowsError(try ChatTemplate(gguf: gguf)) {
            XCTAssertEqual($0 as? ChatTemplateError, .missingTemplate(source: gguf.path, key: "tokenizer.chat_template"))
        }
    }
}
