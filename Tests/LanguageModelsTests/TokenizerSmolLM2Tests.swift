import Foundation
import GGUF
import LanguageModels
import TestSupport
import XCTest

/// SmolLM2-135M-Instruct's tokenizer built from its GGUF, against `transformers` loading the same
/// file (Fixtures/smollm2_tokenizer_goldens.json). Skipped without the model unless
/// LORAKIT_REQUIRE_MODELS=1.
final class TokenizerSmolLM2Tests: XCTestCase {
    private static var cached: (BPETokenizer, [String: Any])?

    private func load() throws -> (BPETokenizer, [String: Any]) {
        if let cached = TokenizerSmolLM2Tests.cached { return cached }
        let gguf = try GGUFFile(url: try RealModels.smolLM2())
        let loaded = (try BPETokenizer(gguf: gguf), try TokenizerFixtures.json("smollm2_tokenizer_goldens.json"))
        TokenizerSmolLM2Tests.cached = loaded
        return loaded
    }

    func testIdsMatchTransformersOnEveryString() throws {
        let (tokenizer, goldens) = try load()
        let rows = try TokenizerFixtures.rows(goldens)
        XCTAssertGreaterThanOrEqual(rows.count, 1000)
        var failures = 0
        for (text, ids, _) in rows {
            let got = tokenizer.encode(text)
            if got != ids {
                failures += 1
                if failures <= 10 { XCTFail("\"\(show(text))\": \(got) != transformers' \(ids)") }
            }
            XCTAssertEqual(tokenizer.encode(text, addSpecialTokens: false), got)
        }
        XCTAssertEqual(failures, 0, "\(failures) of \(rows.count) strings differ")
    }

    func testDecodeRoundTripsEveryString() throws {
        let (tokenizer, goldens) = try load()
        for (text, ids, row) in try TokenizerFixtures.rows(goldens) {
            XCTAssertEqual(tokenizer.decode(ids), text, show(text))
            XCTAssertEqual(tokenizer.decode(ids), row["decoded"] as? String, show(text))
        }
    }

    func testDecodeOfArbitraryIdsMatchesTransformers() throws {
        // Single tokens (every byte token, partial UTF-8 included), random runs, special tokens.
        let (tokenizer, goldens) = try load()
        let rows = try XCTUnwrap(goldens["decode"] as? [[String: Any]])
        XCTAssertGreaterThan(rows.count, 500)
        var sawReplacement = false
        for row in rows {
            let ids = try XCTUnwrap(row["ids"] as? [Int])
            let text = try XCTUnwrap(row["text"] as? String)
            sawReplacement = sawReplacement || text.contains("\u{FFFD}")
            XCTAssertEqual(tokenizer.decode(ids), text, "\(ids)")
            XCTAssertEqual(tokenizer.decode(ids, skipSpecialTokens: true), row["skip_special"] as? String, "\(ids)")
        }
        XCTAssertTrue(sawReplacement)
    }

    func testStreamingDecoderNeverSplitsCharacters() throws {
        let (tokenizer, goldens) = try load()
        var sequences = try XCTUnwrap(goldens["decode"] as? [[String: Any]]).compactMap { $0["ids"] as? [Int] }
        sequences += try TokenizerFixtures.rows(goldens).map(\.ids)
        for ids in sequences {
            for skip in [false, true] {
                var stream = tokenizer.streamingDecoder(skipSpecialTokens: skip)
                var pieces: [String] = []
                for id in ids { pieces.append(stream.append(id)) }
                pieces.append(stream.finish())
                XCTAssertEqual(pieces.joined(), tokenizer.decode(ids, skipSpecialTokens: skip), "\(ids)")
                // A piece holds whole characters: it re-encodes to the same bytes (no U+FFFD added by cutting).
                let whole = tokenizer.decode(ids, skipSpecialTokens: skip)
                if !whole.contains("\u{FFFD}") { XCTAssertFalse(pieces.contains { $0.contains("\u{FFFD}") }, "\(ids)") }
            }
        }
        // An emoji cut over several byte tokens comes out once, whole.
        let llama = tokenizer.encode("🦙")
        XCTAssertGreaterThan(llama.count, 1)
        var stream = tokenizer.streamingDecoder()
        let pieces = llama.map { stream.append($0) }
        XCTAssertEqual(pieces.filter { !$0.isEmpty }, ["🦙"])
        XCTAssertEqual(stream.finish(), "")
    }

    func testSpecialTokensAndVocabulary() throws {
        let (tokenizer, goldens) = try load()
        let special = try XCTUnwrap(goldens["special"] as? [String: Any])
        XCTAssertEqual(tokenizer.vocabularySize, special["vocabulary_size"] as? Int)
        XCTAssertEqual(tokenizer.bos, special["bos"] as? Int)
        XCTAssertEqual(tokenizer.eos, special["eos"] as? Int)
        XCTAssertEqual(tokenizer.unknown, special["unk"] as? Int)
        XCTAssertEqual(tokenizer.padding, special["pad"] as? Int)
        XCTAssertEqual(tokenizer.bos, 1)
        XCTAssertEqual(tokenizer.eos, 2)
        XCTAssertEqual(tokenizer.endOfTurnTokens, [0, 2])          // <|endoftext|>, <|im_end|>
        XCTAssertEqual(tokenizer.prefixTokens, [])                  // add_bos_token is false
        XCTAssertEqual(tokenizer.token(1), "<|im_start|>")
        XCTAssertEqual(tokenizer.id(of: "<|im_end|>"), 2)
        XCTAssertEqual(tokenizer.id(of: "Ġworld"), 905)
        XCTAssertEqual(tokenizer.token(905), "Ġworld")
        XCTAssertNil(tokenizer.token(-1))
        XCTAssertNil(tokenizer.token(49_152))
        XCTAssertTrue(tokenizer.isSpecialToken(16))                 // <empty_output>, CONTROL
        XCTAssertFalse(tokenizer.isSpecialToken(17))
        // Ids outside the vocabulary are skipped, as tokenizers skips them.
        XCTAssertEqual(tokenizer.decode([19556, -5, 1 << 40, 905]), "Hello world")
    }

    func testFollowsTransformersNotLlamaCppOnNumbersAfterASpace() throws {
        // llama.cpp's `smollm` (and SmolLM2's original tokenizer.json) split each \p{N} character off
        // first; transformers' GGUF tokenizer does not. The goldens are transformers' (see
        // scripts/make_bpe_goldens.py and the report of the GGUF-tokenizer branch).
        let (tokenizer, _) = try load()
        XCTAssertEqual(tokenizer.encode(" ٣٤"), [16936, 113, 164, 114])        // llama.cpp: [216, 164, 113, 164, 114]
        XCTAssertEqual(tokenizer.encode(" ²"), [3351, 127])                     // llama.cpp: [216, 19133]
        XCTAssertEqual(tokenizer.encode(" 123"), [216, 33, 34, 35])             // ASCII digits: both agree
    }

    func testEncodeSpeed() throws {
        // A benchmark, not a pass/fail test: prints the rate on realistic text, the golden strings
        // that are prose and code (the fortunes and the repository's sources: mostly ASCII, long).
        let (tokenizer, goldens) = try load()
        let texts = try TokenizerFixtures.rows(goldens).map(\.text).filter { text in
            text.utf8.count >= 40 && Double(text.unicodeScalars.filter(\.isASCII).count) >= 0.97 * Double(text.unicodeScalars.count)
        }
        var corpus = texts.joined(separator: "\n")
        while corpus.utf8.count < 2_000_000 { corpus += corpus }
        let bytes = Double(corpus.utf8.count)
        _ = tokenizer.encode(String(corpus.prefix(10_000)))
        let start = Date()
        let ids = tokenizer.encode(corpus)
        let seconds = Date().timeIntervalSince(start)
        print(String(format: "TokenizerSmolLM2Tests: encoded %.1f MB into %d tokens in %.3f s: %.1f MB/s, %.0f k tokens/s",
                     bytes / 1e6, ids.count, seconds, bytes / seconds / 1e6, Double(ids.count) / seconds / 1e3))
        XCTAssertEqual(tokenizer.decode(ids), corpus)
    }
}
