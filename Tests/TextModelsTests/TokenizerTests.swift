import Foundation
import XCTest
@testable import TextModels

/// Hand-worked cases on a tiny vocabulary (independent of MiniLM), loading from files, and errors.
final class TokenizerTests: XCTestCase {
    /// Ids are the positions: [PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3, [MASK] 4, un 5, ##aff 6, …
    static let tokens = [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",  // 0-4
        "un", "##aff", "##able", "a", "b", "c", "d", "e", "x", "y", "z",  // 5-15
        "hello", "world", ",", ".", "!", "cafe", "runn", "##ing", "##s", "中",  // 16-25
        "aaa", "##a", "'", "t", "don", "##e",  // 26-31
    ]

    func makeTokenizer(_ normalization: WordPieceTokenizer.Normalization = .init(),
                       maxInputCharactersPerWord: Int = 100) throws -> WordPieceTokenizer {
        try WordPieceTokenizer(tokens: Self.tokens, normalization: normalization,
                               maxInputCharactersPerWord: maxInputCharactersPerWord)
    }

    // MARK: WordPiece

    func testGreedyLongestMatchFirstWithContinuationPieces() throws {
        let tokenizer = try makeTokenizer()
        XCTAssertEqual(tokenizer.tokenize("unaffable"), ["un", "##aff", "##able"])
        XCTAssertEqual(tokenizer.ids(of: "unaffable"), [5, 6, 7])
        XCTAssertEqual(tokenizer.tokenize("runnings"), ["runn", "##ing", "##s"])
        XCTAssertEqual(tokenizer.tokenize("aaaaa"), ["aaa", "##a", "##a"])
        XCTAssertEqual(tokenizer.specialIds, [0, 1, 2, 3, 4])
        XCTAssertEqual([tokenizer.padId, tokenizer.unkId, tokenizer.clsId, tokenizer.sepId, tokenizer.maskId],
                       [0, 1, 2, 3, 4])
        XCTAssertEqual(tokenizer.vocabularySize, Self.tokens.count)
    }

    func testGreedyMatchingDoesNotBacktrack() throws {
        // "una" is the longest start of "unaffable", and "##ffable" is not in the vocabulary:
        // greedy WordPiece gives up on the word instead of trying "un" + "##aff" + "##able".
        let tokenizer = try WordPieceTokenizer(tokens: Self.tokens + ["una"])
        XCTAssertEqual(tokenizer.tokenize("unaffable"), ["[UNK]"])
    }

    func testWordWithoutCoverIsOneUnknownToken() throws {
        let tokenizer = try makeTokenizer()
        // "unaffable" covers the start, but "x" cannot continue a word ("##x" is absent): the
        // whole word is one [UNK], not "un ##aff ##able [UNK]".
        XCTAssertEqual(tokenizer.tokenize("unaffablex"), ["[UNK]"])
        XCTAssertEqual(tokenizer.tokenize("hello qqq world"), ["hello", "[UNK]", "world"])
    }

    func testMaximumWordLengthCountsUnicodeScalars() throws {
        let short = try makeTokenizer(maxInputCharactersPerWord: 5)
        XCTAssertEqual(short.tokenize("aaaaa"), ["aaa", "##a", "##a"])
        XCTAssertEqual(short.tokenize("aaaaaa x"), ["[UNK]", "x"])

        // Default limit: 100 scalars.
        let tokenizer = try makeTokenizer()
        let hundred = tokenizer.tokenize(String(repeating: "a", count: 100))
        XCTAssertEqual(hundred.count, 1 + 97)
        XCTAssertEqual(hundred.first, "aaa")
        XCTAssertEqual(tokenizer.tokenize(String(repeating: "a", count: 101)), ["[UNK]"])

        // The limit applies after normalization: 5 × "e" + U+0301 is 10 scalars, but 5 once the
        // accents are stripped.
        let accented = String(repeating: "e\u{301}", count: 5)
        XCTAssertEqual(accented.count, 5)  // Characters
        XCTAssertEqual(short.tokenize(accented), ["e", "##e", "##e", "##e", "##e"])
        let keepingAccents = try makeTokenizer(.init(stripAccents: false), maxInputCharactersPerWord: 5)
        XCTAssertEqual(keepingAccents.tokenize(accented), ["[UNK]"])  // 10 scalars > 5
        XCTAssertEqual(keepingAccents.tokenize("eeeee"), ["e", "##e", "##e", "##e", "##e"])
    }

    // MARK: Normalization and splitting

    func testLowercasingAndAccentStripping() throws {
        let tokenizer = try makeTokenizer()
        XCTAssertEqual(tokenizer.tokenize("HeLLo, WORLD!"), ["hello", ",", "world", "!"])
        XCTAssertEqual(tokenizer.tokenize("Café CAFÉ cafe\u{301}"), ["cafe", "cafe", "cafe"])
        // Ç decomposes to an ASCII capital plus a cedilla, which must still be lower-cased.
        XCTAssertEqual(tokenizer.tokenize("Ça"), ["c", "##a"])
        XCTAssertEqual(try WordPieceTokenizer(tokens: Self.tokens + ["ca"]).tokenize("ÇA"), ["ca"])

        let cased = try makeTokenizer(.init(lowercase: false))  // stripAccents follows lowercase
        XCTAssertEqual(cased.tokenize("hello Hello café"), ["hello", "[UNK]", "[UNK]"])
        let lowercaseOnly = try makeTokenizer(.init(stripAccents: false, lowercase: true))
        XCTAssertEqual(lowercaseOnly.tokenize("CAFÉ Cafe"), ["[UNK]", "cafe"])
        let stripOnly = try makeTokenizer(.init(stripAccents: true, lowercase: false))
        XCTAssertEqual(stripOnly.tokenize("café Café"), ["cafe", "[UNK]"])
    }

    func testCleaningRemovesControlCharactersAndNormalizesWhitespace() throws {
        let tokenizer = try makeTokenizer()
        XCTAssertEqual(tokenizer.tokenize("hel\u{0}lo\u{FFFD} wor\u{7}ld\u{200B}"), ["hello", "world"])
        XCTAssertEqual(tokenizer.tokenize("a\tb\nc\r\nd\u{3000}e\u{A0}x"), ["a", "b", "c", "d", "e", "x"])
        XCTAssertEqual(tokenizer.tokenize(""), [])
        XCTAssertEqual(tokenizer.tokenize(" \t\n "), [])
        XCTAssertEqual(tokenizer.tokenize("\u{0}\u{FFFD}"), [])
    }

    func testPunctuationIsSplitIntoSingleScalars() throws {
        let tokenizer = try makeTokenizer()
        XCTAssertEqual(tokenizer.tokenize("a.b,c!d"), ["a", ".", "b", ",", "c", "!", "d"])
        XCTAssertEqual(tokenizer.tokenize("don't"), ["don", "'", "t"])
        XCTAssertEqual(tokenizer.tokenize("hello!!"), ["hello", "!", "!"])
        // ASCII symbols count as punctuation, and so does Unicode punctuation (… is Po).
        XCTAssertEqual(tokenizer.tokenize("a$b^c…d"), ["a", "[UNK]", "b", "[UNK]", "c", "[UNK]", "d"])
        // Emoji are symbols, not punctuation: an emoji glued to letters stays in their word.
        XCTAssertEqual(tokenizer.tokenize("a👍🏽b a 👍🏽 b"), ["[UNK]", "a", "[UNK]", "b"])
    }

    func testCJKIdeographsAreSplitButKanaAndHangulAreNot() throws {
        let tokenizer = try makeTokenizer()
        XCTAssertEqual(tokenizer.tokenize("x中y中中"), ["x", "中", "y", "中", "中"])
        XCTAssertEqual(tokenizer.tokenize("xかなy"), ["[UNK]"])
        XCTAssertEqual(tokenizer.tokenize("x한y"), ["[UNK]"])
        let unsplit = try makeTokenizer(.init(tokenizeChineseCharacters: false))
        XCTAssertEqual(unsplit.tokenize("x中y"), ["[UNK]"])
    }

    func testSpecialTokensInTheTextAreKept() throws {
        let tokenizer = try makeTokenizer()
        XCTAssertEqual(tokenizer.ids(of: "a [MASK] b"), [8, 4, 9])
        XCTAssertEqual(tokenizer.ids(of: "a[SEP]b[CLS]"), [8, 3, 9, 2])
        // Special tokens are matched in the raw text, so a lower-cased one is ordinary text.
        XCTAssertEqual(tokenizer.tokenize("[mask]"), ["[UNK]", "[UNK]", "[UNK]"])
    }

    func testVocabularyKeysAreComparedByScalarsNotCanonicalEquivalence() throws {
        // Swift's String == treats these as equal; Hugging Face's vocabularies do not.
        let tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "\u{E9}", "e\u{301}"]
        let tokenizer = try WordPieceTokenizer(tokens: tokens, normalization: .init(lowercase: false))
        XCTAssertEqual(tokenizer.ids(of: "\u{E9}"), [5])
        XCTAssertEqual(tokenizer.ids(of: "e\u{301}"), [6])
        XCTAssertEqual(tokenizer.id(for: "e\u{301}"), 6)
        XCTAssertEqual(tokenizer.token(for: 6).map { Array($0.unicodeScalars) }, ["e", "\u{301}"])
    }

    // MARK: Encoding and truncation

    func testEncodeAddsSpecialTokensAndTypeIds() throws {
        let tokenizer = try makeTokenizer()
        XCTAssertEqual(tokenizer.encode("a b"), TokenizedText(ids: [2, 8, 9, 3], typeIds: [0, 0, 0, 0]))
        XCTAssertEqual(tokenizer.encode("a b", pair: "x"),
                       TokenizedText(ids: [2, 8, 9, 3, 13, 3], typeIds: [0, 0, 0, 0, 1, 1]))
        XCTAssertEqual(tokenizer.encode(""), TokenizedText(ids: [2, 3], typeIds: [0, 0]))
        // An empty second text is still a pair (as in `tokenizers` and the Python BertTokenizer).
        XCTAssertEqual(tokenizer.encode("a", pair: ""), TokenizedText(ids: [2, 8, 3, 3], typeIds: [0, 0, 0, 1]))
    }

    func testTruncationOfOneText() throws {
        let tokenizer = try makeTokenizer()
        XCTAssertEqual(tokenizer.encode("a b c d e", maxLength: 4).ids, [2, 8, 9, 3])
        XCTAssertEqual(tokenizer.encode("a b c d e", maxLength: 7).ids, [2, 8, 9, 10, 11, 12, 3])
        XCTAssertEqual(tokenizer.encode("a b c d e", maxLength: 100).ids, [2, 8, 9, 10, 11, 12, 3])
        XCTAssertEqual(tokenizer.encode("a b c d e", maxLength: 2).ids, [2, 3])
        XCTAssertEqual(tokenizer.encode("a b c d e", maxLength: 0).ids, [2, 3])  // no room at all
    }

    func testLongestFirstTruncationOfPairs() throws {
        let tokenizer = try makeTokenizer()
        let five = "a b c d e", three = "x y z", four = "x y z x", one = "x"
        // Lengths kept: the shorter text stays whole if it takes at most half the room (3 of the
        // length budget are the special tokens); else the shorter gets ⌊room/2⌋ and the longer
        // ⌈room/2⌉, the first text counting as the shorter one on a tie.
        func kept(_ a: String, _ b: String, _ maxLength: Int) -> [Int] {
            let encoded = tokenizer.encode(a, pair: b, maxLength: maxLength)
            XCTAssertLessThanOrEqual(encoded.count, max(maxLength, 3))
            return [encoded.typeIds.filter { $0 == 0 }.count - 2, encoded.typeIds.filter { $0 == 1 }.count - 1]
        }
        XCTAssertEqual(kept(five, three, 11), [5, 3])  // fits: nothing removed
        XCTAssertEqual(kept(five, three, 10), [4, 3])  // room 7: 3 ≤ 7/2 → 3 whole, 4 for the longer
        XCTAssertEqual(kept(five, three, 7), [2, 2])  // room 4: 3 > 2 → 2 and 2
        XCTAssertEqual(kept(five, three, 8), [3, 2])  // room 5: shorter 2, longer 3
        XCTAssertEqual(kept(three, five, 8), [2, 3])
        XCTAssertEqual(kept(four, four, 8), [2, 3])  // tie: the second text gets the extra token
        XCTAssertEqual(kept(five, one, 7), [3, 1])  // room 4: only the longer is cut
        XCTAssertEqual(kept(five, three, 3), [0, 0])  // room 0
        XCTAssertEqual(kept(five, three, 4), [1, 0])  // room 1: the longer gets ⌈1/2⌉
        XCTAssertEqual(kept(three, five, 4), [0, 1])
        XCTAssertEqual(tokenizer.encode(five, pair: three, maxLength: 7),
                       TokenizedText(ids: [2, 8, 9, 3, 13, 14, 3], typeIds: [0, 0, 0, 0, 1, 1, 1]))
    }

    // MARK: Decoding

    func testDecodeJoinsPiecesAndDropsSpecialTokens() throws {
        let tokenizer = try makeTokenizer()
        XCTAssertEqual(tokenizer.decode([2, 5, 6, 7, 3]), "unaffable")
        XCTAssertEqual(tokenizer.decode([2, 5, 6, 7, 3], skippingSpecialTokens: false), "[CLS] unaffable [SEP]")
        XCTAssertEqual(tokenizer.decode(tokenizer.encode("Hello, world!").ids), "hello, world!")
        XCTAssertEqual(tokenizer.decode(tokenizer.encode("a b", pair: "x").ids), "a b x")
        // The cleanup works token by token, as the reference's: "don ' t" keeps its spaces.
        XCTAssertEqual(tokenizer.decode(tokenizer.encode("don't").ids), "don ' t")
        // A leading piece keeps its ##; unknown ids are skipped; [UNK] is special.
        XCTAssertEqual(tokenizer.decode([23, 24]), "##ings")
        XCTAssertEqual(tokenizer.decode([16, 999, -1, 1, 17]), "hello world")
        XCTAssertEqual(tokenizer.decode([]), "")
    }

    func testDecodeRoundTrip() throws {
        let tokenizer = try makeTokenizer()
        for text in ["hello, world!", "unaffable runnings cafe.", "a b c d e x y z", "don ' t", "中 a 中"] {
            XCTAssertEqual(tokenizer.decode(tokenizer.encode(text).ids), text)
        }
    }

    // MARK: Files

    func testVocabularyFileAndTokenizerJSONLoadTheSameTokenizer() throws {
        let directory = try temporaryDirectory()
        let vocabulary = directory.appendingPathComponent("vocab.txt")
        try (Self.tokens.joined(separator: "\n") + "\n").write(to: vocabulary, atomically: true, encoding: .utf8)
        let fromVocabulary = try WordPieceTokenizer(vocabularyFile: vocabulary)
        let fromDirectory = try WordPieceTokenizer(directory: directory)  // no config: defaults

        let json = directory.appendingPathComponent("tokenizer.json")
        try tinyTokenizerJSON().write(to: json, atomically: true, encoding: .utf8)
        let fromJSON = try WordPieceTokenizer(tokenizerFile: json)
        let fromDirectoryWithJSON = try WordPieceTokenizer(directory: directory)

        let texts = ["Unaffable café, HELLO world!", "a [MASK] b", "x中y", "don't runnings", "qqq", ""]
        for text in texts {
            let expected = try makeTokenizer().encode(text, pair: "x y", maxLength: 9)
            for tokenizer in [fromVocabulary, fromDirectory, fromJSON, fromDirectoryWithJSON] {
                XCTAssertEqual(tokenizer.encode(text, pair: "x y", maxLength: 9), expected, text)
                XCTAssertEqual(tokenizer.vocabularySize, Self.tokens.count)
            }
        }
        XCTAssertEqual(fromJSON.maxInputCharactersPerWord, 9)
        XCTAssertEqual(fromJSON.tokenize("aaaaaaaaa aaaaaaaaaa"), ["aaa"] + Array(repeating: "##a", count: 6) + ["[UNK]"])
    }

    func testTokenizerConfigSettingsAreApplied() throws {
        let directory = try temporaryDirectory()
        try (Self.tokens.joined(separator: "\n") + "\n").write(
            to: directory.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        try #"{"do_lower_case": false, "tokenize_chinese_chars": false, "unk_token": {"content": "[UNK]"}}"#
            .write(to: directory.appendingPathComponent("tokenizer_config.json"), atomically: true, encoding: .utf8)
        let tokenizer = try WordPieceTokenizer(directory: directory)
        XCTAssertEqual(tokenizer.normalization, .init(tokenizeChineseCharacters: false, stripAccents: nil, lowercase: false))
        XCTAssertEqual(tokenizer.tokenize("hello Hello x中y"), ["hello", "[UNK]", "[UNK]"])
    }

    func testVocabularyFileLinesBecomeIds() throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("vocab.txt")
        // CRLF line ends, no final newline, and a repeated token (the last line wins).
        try "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\n[MASK]\r\nhello\r\nworld\r\nhello"
            .write(to: file, atomically: true, encoding: .utf8)
        let tokenizer = try WordPieceTokenizer(vocabularyFile: file)
        XCTAssertEqual(tokenizer.vocabularySize, 8)
        XCTAssertEqual(tokenizer.ids(of: "hello world"), [7, 6])
    }

    // MARK: Errors

    func testMissingFilesAreNamed() throws {
        let directory = try temporaryDirectory()
        let vocabulary = directory.appendingPathComponent("vocab.txt")
        assertError(try WordPieceTokenizer(vocabularyFile: vocabulary), .fileNotFound(path: vocabulary.path))
        let json = directory.appendingPathComponent("tokenizer.json")
        assertError(try WordPieceTokenizer(tokenizerFile: json), .fileNotFound(path: json.path))
        assertError(try WordPieceTokenizer(directory: directory), .noTokenizerFiles(path: directory.path))
    }

    func testCorruptJSONIsReportedWithItsFile() throws {
        let directory = try temporaryDirectory()
        let json = directory.appendingPathComponent("tokenizer.json")
        try #"{"model": {"vocab": {"[PAD]": 0,"#.write(to: json, atomically: true, encoding: .utf8)
        for load in [{ try WordPieceTokenizer(tokenizerFile: json) }, { try WordPieceTokenizer(directory: directory) }] {
            XCTAssertThrowsError(try load()) { error in
                guard case .malformedJSON(let path, _)? = error as? TokenizerError else {
                    return XCTFail("expected malformedJSON, got \(error)")
                }
                XCTAssertEqual(path, json.path)
                XCTAssertTrue("\(error)".contains(json.path), "\(error)")
            }
        }

        let other = try temporaryDirectory()
        try (Self.tokens.joined(separator: "\n")).write(
            to: other.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        let config = other.appendingPathComponent("tokenizer_config.json")
        try "[1, 2".write(to: config, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try WordPieceTokenizer(directory: other)) { error in
            XCTAssertEqual((error as? TokenizerError)?.path, config.path, "\(error)")
        }
        try #"{"do_lower_case": "yes"}"#.write(to: config, atomically: true, encoding: .utf8)
        assertError(try WordPieceTokenizer(directory: other),
                    .invalidField(path: config.path, key: "do_lower_case", reason: "expected true or false"))
    }

    func testTokenizerJSONWithWrongContentsIsReported() throws {
        let directory = try temporaryDirectory()
        let json = directory.appendingPathComponent("tokenizer.json")
        try #"{"model": {"type": "BPE", "vocab": {}}}"#.write(to: json, atomically: true, encoding: .utf8)
        assertError(try WordPieceTokenizer(tokenizerFile: json), .unsupported(path: json.path, key: "model.type", value: "BPE"))
        try #"{"model": {"type": "WordPiece"}}"#.write(to: json, atomically: true, encoding: .utf8)
        assertError(try WordPieceTokenizer(tokenizerFile: json),
                    .invalidField(path: json.path, key: "model.vocab", reason: "missing"))
        try #"{"model": {"vocab": {"[PAD]": "zero"}}}"#.write(to: json, atomically: true, encoding: .utf8)
        assertError(try WordPieceTokenizer(tokenizerFile: json),
                    .invalidField(path: json.path, key: "model.vocab.[PAD]", reason: "expected an integer"))
        try tinyTokenizerJSON(withoutUnknown: true).write(to: json, atomically: true, encoding: .utf8)
        assertError(try WordPieceTokenizer(tokenizerFile: json), .missingSpecialTokens(path: json.path, tokens: ["[UNK]"]))
    }

    func testVocabularyWithoutSpecialTokensIsReportedWithItsFile() throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("vocab.txt")
        try "[PAD]\n[CLS]\n[SEP]\n[MASK]\nhello\n".write(to: file, atomically: true, encoding: .utf8)
        assertError(try WordPieceTokenizer(vocabularyFile: file), .missingSpecialTokens(path: file.path, tokens: ["[UNK]"]))
        do {
            _ = try WordPieceTokenizer(vocabularyFile: file)
        } catch {
            XCTAssertEqual("\(error)", "\(file.path): the vocabulary lacks the special token [UNK]")
        }
        try "hello\n".write(to: file, atomically: true, encoding: .utf8)
        assertError(try WordPieceTokenizer(vocabularyFile: file),
                    .missingSpecialTokens(path: file.path, tokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
        XCTAssertThrowsError(try WordPieceTokenizer(tokens: ["a"])) { error in
            XCTAssertEqual((error as? TokenizerError)?.path, "vocabulary")
        }
    }

    func testInvalidUTF8InVocabularyNamesTheLine() throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("vocab.txt")
        var bytes = Array("[PAD]\n[UNK]\n".utf8)
        bytes += [0x61, 0xFF, 0x62, 0x0A]  // "a\xFFb"
        bytes += Array("[CLS]\n".utf8)
        try Data(bytes).write(to: file)
        assertError(try WordPieceTokenizer(vocabularyFile: file), .invalidUTF8(path: file.path, line: 3))
        XCTAssertEqual("\(TokenizerError.invalidUTF8(path: file.path, line: 3))", "\(file.path):3: not valid UTF-8")
        try Data().write(to: file)
        assertError(try WordPieceTokenizer(vocabularyFile: file),
                    .invalidVocabulary(path: file.path, reason: "the file has no tokens"))
    }

    // MARK: Helpers

    func assertError<T>(_ expression: @autoclosure () throws -> T, _ expected: TokenizerError,
                        file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try expression(), file: file, line: line) { error in
            XCTAssertEqual(error as? TokenizerError, expected, file: file, line: line)
            XCTAssertTrue("\(error)".contains(expected.path), "\(error)", file: file, line: line)
        }
    }

    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("lorakit-tokenizer-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    /// A `tokenizer.json` for `tokens`, shaped as Hugging Face writes BERT's (max word length 9);
    /// `withoutUnknown` spells `[UNK]` differently in the vocabulary.
    func tinyTokenizerJSON(withoutUnknown: Bool = false) -> String {
        let tokens = Self.tokens.map { withoutUnknown && $0 == "[UNK]" ? "[UNKNOWN]" : $0 }
        let vocabulary = tokens.enumerated()
            .map { "\"\($0.element)\": \($0.offset)" }.joined(separator: ", ")
        let added = tokens.prefix(5).enumerated()
            .map {
                #"{"id": \#($0.offset), "content": "\#($0.element)", "single_word": false, "lstrip": false, "#
                    + #""rstrip": false, "normalized": false, "special": true}"#
            }.joined(separator: ", ")
        return """
        {"version": "1.0", "truncation": null, "padding": null,
         "added_tokens": [\(added)],
         "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                        "strip_accents": null, "lowercase": true},
         "pre_tokenizer": {"type": "BertPreTokenizer"},
         "post_processor": {"type": "TemplateProcessing",
           "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                      {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
           "pair": [], "special_tokens": {}},
         "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
         "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                   "max_input_chars_per_word": 9, "vocab": {\(vocabulary)}}}
        """
    }
}
