import Foundation
import XCTest
@testable import TextModels

/// all-MiniLM-L6-v2's tokenizer against goldens from Hugging Face's tokenizers
/// (`scripts/make_tokenizer_goldens.py`, `Fixtures/tokenizer_goldens.json`).
final class TokenizerGoldenTests: XCTestCase {
    struct Golden: Decodable {
        var text: String
        var pair: String?
        var maxLength: Int?
        var ids: [Int]
        var typeIds: [Int]
        var tokens: [String]?
        var decoded: String
        var reason: String?
    }

    struct Goldens: Decodable {
        /// Both references (BertTokenizerFast and the Python BertTokenizer) agree.
        var cases: [Golden]
        /// The references disagree; these follow BertTokenizerFast (tokenizer.json).
        var fastOnly: [Golden]
    }

    static func goldens() throws -> Goldens {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
            .appendingPathComponent("tokenizer_goldens.json")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(Goldens.self, from: Data(contentsOf: url))
    }

    /// The tokenizer from tokenizer.json, and the one from vocab.txt + tokenizer_config.json.
    func tokenizers() throws -> (json: WordPieceTokenizer, vocabulary: WordPieceTokenizer) {
        let directory = try MiniLMFixture.directory(requiring: ["vocab.txt", "tokenizer.json", "tokenizer_config.json"])
        let json = try WordPieceTokenizer(directory: directory)
        // A directory without tokenizer.json, so that init(directory:) takes the vocab.txt path.
        let vocabularyOnly = FileManager.default.temporaryDirectory
            .appendingPathComponent("lorakit-minilm-vocab-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: vocabularyOnly, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: vocabularyOnly) }
        for name in ["vocab.txt", "tokenizer_config.json"] {
            try FileManager.default.createSymbolicLink(at: vocabularyOnly.appendingPathComponent(name),
                                                       withDestinationURL: directory.appendingPathComponent(name))
        }
        return (json, try WordPieceTokenizer(directory: vocabularyOnly))
    }

    func testGoldenFileIsComplete() throws {
        let goldens = try Self.goldens()
        XCTAssertGreaterThanOrEqual(goldens.cases.count, 200)
        XCTAssertGreaterThanOrEqual(goldens.cases.filter { $0.pair != nil }.count, 20)
        XCTAssertTrue(goldens.cases.contains { $0.text.isEmpty })
        XCTAssertTrue(goldens.cases.contains { $0.text.unicodeScalars.count > 100 })
    }

    func testIdsEqualTheReferenceFromBothFiles() throws {
        let goldens = try Self.goldens()
        let (json, vocabulary) = try tokenizers()
        for (name, tokenizer) in [("tokenizer.json", json), ("vocab.txt", vocabulary)] {
            var mismatches = 0
            for golden in goldens.cases + goldens.fastOnly {
                let encoded = tokenizer.encode(golden.text, pair: golden.pair, maxLength: golden.maxLength)
                if encoded.ids != golden.ids || encoded.typeIds != golden.typeIds {
                    if mismatches == 0 {
                        XCTFail("""
                            \(name): first mismatch on \(golden.text.debugDescription)\
                            \(golden.pair.map { " / " + $0.debugDescription } ?? "")\
                            \(golden.maxLength.map { " max \($0)" } ?? "")
                              expected \(golden.ids) types \(golden.typeIds)
                              got      \(encoded.ids) types \(encoded.typeIds)
                            """)
                    }
                    mismatches += 1
                }
            }
            XCTAssertEqual(mismatches, 0, "\(name): \(mismatches) of \(goldens.cases.count + goldens.fastOnly.count) differ")
        }
    }

    func testTokensAndDecodingEqualTheReference() throws {
        let goldens = try Self.goldens()
        let tokenizer = try tokenizers().json
        for golden in goldens.cases + goldens.fastOnly {
            if let tokens = golden.tokens {
                XCTAssertEqual(tokenizer.tokenize(golden.text), tokens, golden.text.debugDescription)
            }
            XCTAssertEqual(tokenizer.decode(golden.ids), golden.decoded, golden.text.debugDescription)
        }
    }

    func testBothFilesGiveTheSameTokenizer() throws {
        let (json, vocabulary) = try tokenizers()
        XCTAssertEqual(json.vocabularySize, 30522)
        XCTAssertEqual(vocabulary.vocabularySize, json.vocabularySize)
        XCTAssertEqual([json.padId, json.unkId, json.clsId, json.sepId, json.maskId], [0, 100, 101, 102, 103])
        XCTAssertEqual([vocabulary.padId, vocabulary.unkId, vocabulary.clsId, vocabulary.sepId, vocabulary.maskId],
                       [0, 100, 101, 102, 103])
        XCTAssertEqual(json.normalization, vocabulary.normalization)
        for id in 0..<json.vocabularySize {
            let token = try XCTUnwrap(json.token(for: id))
            XCTAssertEqual(vocabulary.token(for: id), token)
            XCTAssertEqual(vocabulary.id(for: token), id)
            XCTAssertEqual(json.id(for: token), id)
        }
    }

    func testDecodeRoundTrip() throws {
        let tokenizer = try tokenizers().json
        for text in ["the quick brown fox jumps over the lazy dog.", "hello, world!",
                     "tokenization splits unaffable words into pieces.", "what is the capital of france?"] {
            XCTAssertEqual(tokenizer.decode(tokenizer.encode(text).ids), text)
        }
        XCTAssertEqual(tokenizer.decode(tokenizer.encode("Café, NAÏVE!").ids), "cafe, naive!")
        // The example of WordPieceTokenizer's documentation (tokens from tokenizers 0.23).
        XCTAssertEqual(tokenizer.tokenize("Unaffable café!"), ["una", "##ffa", "##ble", "cafe", "!"])
    }
}
