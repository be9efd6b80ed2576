import Foundation
@testable import LanguageModels
import XCTest

/// The pre-tokeniser's Unicode classes against Oniguruma's (the regex engine of `tokenizers`; the
/// table in Fixtures/unicode_classes.json lists, for every code point, what its `\s`, `\p{L}` and
/// `\p{N}` match), and the hand-written GPT-2 splitter against the same pattern run by ICU.
final class TokenizerPreTokenizerTests: XCTestCase {
    private static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

    /// Oniguruma's classes: name → sorted, disjoint ranges of code points.
    private func onigurumaClasses() throws -> [String: [ClosedRange<UInt32>]] {
        let json = try TokenizerFixtures.json("unicode_classes.json")
        let classes = try XCTUnwrap(json["classes"] as? [String: [[Int]]])
        return classes.mapValues { $0.map { UInt32($0[0])...UInt32($0[1]) } }
    }

    private func contains(_ ranges: [ClosedRange<UInt32>], _ v: UInt32) -> Bool {
        var lo = 0, hi = ranges.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ranges[mid].upperBound < v { lo = mid + 1 } else { hi = mid }
        }
        return lo < ranges.count && ranges[lo].contains(v)
    }

    private var allScalars: [Unicode.Scalar] {
        (0...0x10FFFF).compactMap { Unicode.Scalar(UInt32($0)) }
    }

    func testSwiftClassesMatchOnigurumaForEveryCodePoint() throws {
        let table = try onigurumaClasses()
        let (letters, numbers, spaces) = (table["L"]!, table["N"]!, table["s"]!)
        var differences: [String] = []
        for scalar in allScalars {
            let v = scalar.value
            let expected: GPT2Splitter.Class = contains(letters, v) ? .letter
                : contains(numbers, v) ? .number : contains(spaces, v) ? .space : .other
            let got = GPT2Splitter.classify(scalar)
            if got != expected { differences.append("U+\(String(v, radix: 16)): \(got) vs \(expected)") }
        }
        XCTAssertEqual(differences.count, 0, "first: \(differences.prefix(10))")
        // The table is not trivial: it has the classes' known sizes (Unicode 16).
        XCTAssertEqual(spaces.reduce(0) { $0 + $1.count }, 25)
        XCTAssertGreaterThan(letters.reduce(0) { $0 + $1.count }, 140_000)
    }

    func testICUClassesMatchOnigurumaForEveryCodePoint() throws {
        // What the general Split path (NSRegularExpression) matches for each class.
        let table = try onigurumaClasses()
        let scalars = allScalars
        for (name, pattern) in [("s", #"\s"#), ("L", #"\p{L}"#), ("N", #"\p{N}"#)] {
            let regex = try NSRegularExpression(pattern: pattern)
            var matched = Set<UInt32>()
            for chunk in stride(from: 0, to: scalars.count, by: 65_536) {
                var view = String.UnicodeScalarView()
                view.append(contentsOf: scalars[chunk..<min(chunk + 65_536, scalars.count)])
                let text = String(view)
                let ns = text as NSString
                for match in regex.matches(in: text, range: NSRange(location: 0, length: ns.length)) {
                    for scalar in ns.substring(with: match.range).unicodeScalars { matched.insert(scalar.value) }
                }
            }
            let expected = table[name]!
            let missing = scalars.filter { contains(expected, $0.value) && !matched.contains($0.value) }
            let extra = matched.filter { !contains(expected, $0) }
            XCTAssertTrue(missing.isEmpty && extra.isEmpty,
                          "\\\(name): ICU misses \(missing.prefix(5).map { String($0.value, radix: 16) }), "
                          + "adds \(extra.sorted().prefix(5).map { String($0, radix: 16) })")
        }
    }

    func testHandWrittenGPT2SplitterEqualsTheRegex() throws {
        let regex = try RegexSplitter(pattern: TokenizerPreTokenizerTests.gpt2Pattern)
        var strings = try TokenizerFixtures.rows(try TokenizerFixtures.json("bpe_bytelevel/goldens.json")).map(\.text)
        // Seeded random strings over the characters where the pattern's alternatives meet.
        let pool: [String] = [" ", "  ", "\t", "\n", "\r\n", "\u{A0}", "\u{3000}", "\u{85}", "\u{0B}", "'", "'s", "'ll",
                              "'re", "'S", "a", "Z", "é", "ß", "日", "ー", "1", "٣", "²", "Ⅻ", "!", "?", ".", "-", "_",
                              "🦙", "👍🏽", "\u{301}", "\u{200D}", "\u{FEFF}", "$", "€", "\u{0}", "x'", "''"]
        var state: UInt64 = 0x5EED
        func random(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        for _ in 0..<5000 { strings.append((0..<(1 + random(12))).map { _ in pool[random(pool.count)] }.joined()) }
        for text in strings {
            var bytes = Array(text.utf8)
            let (byHand, byRegex) = bytes.withUnsafeMutableBufferPointer { buffer -> ([Range<Int>], [Range<Int>]) in
                let b = UnsafeBufferPointer(buffer)
                var pieces: [Range<Int>] = []
                GPT2Splitter.split(b) { pieces.append($0) }
                return (pieces, regex.matches(in: b))
            }
            XCTAssertEqual(byHand, byRegex, "\"\(show(text))\"")
        }
    }

    func testEveryByteHasAnAlphabetCharacter() {
        XCTAssertEqual(Set(ByteLevelAlphabet.scalars).count, 256)
        XCTAssertEqual(ByteLevelAlphabet.spell(Array(" \n!".utf8)), "ĠĊ!")
        for byte in 0..<256 {
            XCTAssertEqual(ByteLevelAlphabet.byte(of: ByteLevelAlphabet.scalars[byte]), UInt8(byte))
        }
        XCTAssertNil(ByteLevelAlphabet.byte(of: " "))
    }
}
