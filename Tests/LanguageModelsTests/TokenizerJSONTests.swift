import Foundation
import LanguageModels
import XCTest

/// `BPETokenizer(tokenizerJSON:)` on two small tokenizers trained with `tokenizers` (Fixtures/bpe_*),
/// covering what a tokenizer.json can say beyond SmolLM2's: Digits, add_prefix_space, a Split
/// regex after NFC, ignore_merges, merges as pairs, added tokens with lstrip/rstrip/single_word/
/// normalized, a template that adds BOS/EOS. The ids are those `tokenizers` gave.
final class TokenizerJSONTests: XCTestCase {
    func testByteLevelWithDigitsAndPrefixSpace() throws {
        try check("bpe_bytelevel")
    }

    func testSplitRegexWithNFCAndIgnoreMerges() throws {
        try check("bpe_split")
    }

    private func check(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let tokenizer = try BPETokenizer(tokenizerJSON: try TokenizerFixtures.url("\(name)/tokenizer.json"))
        let goldens = try TokenizerFixtures.json("\(name)/goldens.json")
        XCTAssertEqual(tokenizer.vocabularySize, goldens["vocabulary_size"] as? Int, file: file, line: line)
        let rows = try TokenizerFixtures.rows(goldens)
        XCTAssertGreaterThan(rows.count, 1000, file: file, line: line)
        var failures = 0
        for (text, ids, row) in rows {
            let without = try XCTUnwrap(row["ids_without_special"] as? [Int])
            let got = tokenizer.encode(text)
            let gotWithout = tokenizer.encode(text, addSpecialTokens: false)
            if got != ids || gotWithout != without {
                failures += 1
                if failures <= 10 {
                    XCTFail("\(name) \"\(show(text))\": \(gotWithout) != tokenizers' \(without)", file: file, line: line)
                }
            }
            XCTAssertEqual(tokenizer.decode(without), row["decoded"] as? String, show(text), file: file, line: line)
            XCTAssertEqual(tokenizer.decode(ids, skipSpecialTokens: true), row["decoded_skipping_special"] as? String,
                           show(text), file: file, line: line)
            var stream = tokenizer.streamingDecoder()
            let streamed = without.map { stream.append($0) }.joined() + stream.finish()
            XCTAssertEqual(streamed, tokenizer.decode(without), file: file, line: line)
        }
        XCTAssertEqual(failures, 0, "\(name): \(failures) of \(rows.count) strings differ", file: file, line: line)
    }

    func testTemplateTokensBecomeBOSAndEOS() throws {
        let bytelevel = try BPETokenizer(tokenizerJSON: try TokenizerFixtures.url("bpe_bytelevel/tokenizer.json"))
        XCTAssertEqual(bytelevel.prefixTokens, [0])
        XCTAssertEqual(bytelevel.suffixTokens, [1])
        XCTAssertEqual(bytelevel.bos, 0)
        XCTAssertEqual(bytelevel.eos, 1)
        XCTAssertEqual(bytelevel.encode(""), [0, 1])
        let split = try BPETokenizer(tokenizerJSON: try TokenizerFixtures.url("bpe_split/tokenizer.json"))
        XCTAssertEqual(split.prefixTokens, [0])
        XCTAssertEqual(split.suffixTokens, [])
        XCTAssertEqual(split.endOfTurnTokens, [1, 1500])            // <|end_of_text|>, <|eot_id|>
    }

    // MARK: - Refusals

    /// The bytelevel fixture with `edit` applied to its JSON, written to a temporary file.
    private func edited(_ edit: (inout [String: Any]) -> Void) throws -> URL {
        let data = try Data(contentsOf: try TokenizerFixtures.url("bpe_bytelevel/tokenizer.json"))
        var object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        edit(&object)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tokenizer-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: object).write(to: url)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    private func refusal(_ edit: (inout [String: Any]) -> Void) throws -> BPETokenizerError? {
        let url = try edited(edit)
        do {
            _ = try BPETokenizer(tokenizerJSON: url)
            XCTFail("accepted")
            return nil
        } catch let error as BPETokenizerError {
            XCTAssertTrue("\(error)".hasPrefix(url.path), "\(error)")
            return error
        }
    }

    func testUnsupportedOrMalformedTokenizersAreRefusedNamingTheKey() throws {
        func setModel(_ key: String, _ value: Any) -> (inout [String: Any]) -> Void {
            { object in
                var model = object["model"] as! [String: Any]
                model[key] = value
                object["model"] = model
            }
        }
        guard case .unsupported(_, "model.type", "WordPiece")? = try refusal(setModel("type", "WordPiece")) else {
            return XCTFail("model type")
        }
        guard case .unsupported(_, "model.byte_fallback", _)? = try refusal(setModel("byte_fallback", true)) else {
            return XCTFail("byte_fallback")
        }
        guard case .unsupported(_, "model.continuing_subword_prefix", _)? = try refusal(setModel("continuing_subword_prefix", "##"))
        else { return XCTFail("prefix") }
        guard case .unsupported(_, "decoder.type", "Metaspace")? = try refusal({ $0["decoder"] = ["type": "Metaspace"] }) else {
            return XCTFail("decoder")
        }
        guard case .unsupported(_, "normalizer.type", "Lowercase")? = try refusal({ $0["normalizer"] = ["type": "Lowercase"] })
        else { return XCTFail("normalizer") }
        guard case .unsupported(_, "pre_tokenizer.type", "Whitespace")? = try refusal({ $0["pre_tokenizer"] = ["type": "Whitespace"] })
        else { return XCTFail("pre-tokenizer") }
        guard case .invalidMerge(_, "model.merges", 0, _, _)? = try refusal(setModel("merges", ["Ġ nonexistent-token"])) else {
            return XCTFail("merge")
        }
        guard case .invalidMerge(_, "model.merges", 0, _, _)? = try refusal(setModel("merges", ["a b c"])) else {
            return XCTFail("three-part merge")
        }
        guard case .missingKey(_, "model.vocab")? = try refusal({ object in
            var model = object["model"] as! [String: Any]
            model["vocab"] = nil
            object["model"] = model
        }) else { return XCTFail("vocab") }
        let duplicate = try refusal({ object in
            var model = object["model"] as! [String: Any]
            var vocab = model["vocab"] as! [String: Any]
            vocab["Ġt"] = vocab["a"]                              // two tokens, one id
            model["vocab"] = vocab
            object["model"] = model
        })
        guard case let .invalidValue(_, key, _)? = duplicate, ["model.vocab.Ġt", "model.vocab.a"].contains(key) else {
            return XCTFail("duplicate id: \(String(describing: duplicate))")
        }
    }

    func testUnreadableOrMalformedFiles() throws {
        let missing = URL(fileURLWithPath: "/nonexistent/tokenizer.json")
        XCTAssertThrowsError(try BPETokenizer(tokenizerJSON: missing)) {
            guard case .unreadableFile("/nonexistent/tokenizer.json", _)? = $0 as? BPETokenizerError else { return XCTFail("\($0)") }
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("broken-\(UUID().uuidString).json")
        try Data("{\"model\": [".utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        XCTAssertThrowsError(try BPETokenizer(tokenizerJSON: url)) {
            guard case .malformedJSON? = $0 as? BPETokenizerError else { return XCTFail("\($0)") }
        }
    }
}
