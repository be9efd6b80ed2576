import Foundation

/// A `Split` pre-tokenizer's regular expression (Oniguruma syntax in `tokenizer.json`), matched
/// with ICU's engine (`NSRegularExpression`).
///
/// The patterns that tokenizers use — alternations of literals, `\p{L}`, `\p{N}`, `\s`, `\S`,
/// `[^\r\n…]` classes, `(?i:…)`, `(?!…)`, `{1,3}` — mean the same in both engines, and ICU's
/// `\s`, `\p{L}` and `\p{N}` are Oniguruma's for every code point (tested against a table taken
/// from `tokenizers`). Matches are returned as UTF-8 byte ranges.
struct RegexSplitter: @unchecked Sendable {
    // NSRegularExpression is immutable and documented as thread-safe.
    let pattern: String
    private let expression: NSRegularExpression

    init(pattern: String) throws {
        self.pattern = pattern
        expression = try NSRegularExpression(pattern: pattern)
    }

    /// The byte ranges of the matches of the pattern in `text` (valid UTF-8), in order.
    func matches(in bytes: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        let text = String(decoding: bytes, as: UTF8.self)
        let utf16 = text.utf16
        var ranges: [Range<Int>] = []
        // UTF-16 offsets to UTF-8 offsets, walking forward once.
        var index16 = 0
        var index8 = 0
        var cursor = text.startIndex
        func utf8Offset(_ offset16: Int) -> Int {
            let target = utf16.index(cursor, offsetBy: offset16 - index16)
            index8 += text.utf8.distance(from: cursor, to: target)
            index16 = offset16
            cursor = target
            return index8
        }
        let all = NSRange(location: 0, length: utf16.count)
        for match in expression.matches(in: text, range: all) where match.range.length > 0 {
            let start = utf8Offset(match.range.location)
            let end = utf8Offset(match.range.location + match.range.length)
            ranges.append(start..<end)
        }
        return ranges
    }
}
