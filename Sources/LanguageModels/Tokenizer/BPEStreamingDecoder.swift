/// Turns ids that arrive one at a time (a model generating) into text as soon as it is complete:
/// bytes of a character cut between tokens (an emoji's four bytes over two tokens) are held back
/// until the character is whole.
///
/// The pieces it returns, concatenated (with `finish()`'s last), are exactly `decode(ids)` of all
/// the ids: a byte sequence that can no longer become a character is released as U+FFFD just as
/// `decode` would write it.
///
///     var stream = tokenizer.streamingDecoder()
///     for id in generated { print(stream.append(id), terminator: "") }
///     print(stream.finish())
public struct BPEStreamingDecoder: Sendable {
    private let tokenizer: BPETokenizer
    private let skipSpecialTokens: Bool
    /// Bytes not yet returned: at most the start of one character.
    private var pending: [UInt8] = []

    init(tokenizer: BPETokenizer, skipSpecialTokens: Bool) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// Adds `id` and returns the text that is now complete (possibly "").
    public mutating func append(_ id: Int) -> String {
        tokenizer.appendBytes(of: id, skipSpecialTokens: skipSpecialTokens, to: &pending)
        let keep = BPEStreamingDecoder.incompleteSuffixLength(pending)
        if keep == pending.count { return "" }
        let text = String(decoding: pending[..<(pending.count - keep)], as: UTF8.self)
        pending.removeFirst(pending.count - keep)
        return text
    }

    /// Adds several ids and returns the text that is now complete.
    public mutating func append<S: Sequence>(contentsOf ids: S) -> String where S.Element == Int {
        ids.map { append($0) }.joined()
    }

    /// Returns whatever is held back (an incomplete character, as U+FFFD) and starts afresh.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// How many bytes at the end of `bytes` are the valid beginning of a character that more bytes
    /// could complete (0…3): those are held back; everything before them decodes now as it would
    /// in the whole text, since a maximal invalid subsequence cannot reach into a valid prefix.
    static func incompleteSuffixLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        // Find the last lead byte within the last 4 bytes.
        var i = n - 1
        while i >= 0 && i >= n - 4 && bytes[i] & 0xC0 == 0x80 { i -= 1 }
        guard i >= 0, i >= n - 4 else { return 0 }
        let lead = bytes[i]
        let needed: Int
        switch lead {
        case 0xC2...0xDF: needed = 2
        case 0xE0...0xEF: needed = 3
        case 0xF0...0xF4: needed = 4
        default: return 0                     // ASCII, or a byte that starts no character
        }
        let have = n - i
        guard have < needed else { return 0 }  // complete (or too long: invalid, decodes now)
        // The second byte's range depends on the lead (no overlongs, surrogates, or > U+10FFFF).
        if have >= 2 {
            let second = bytes[i + 1]
            let valid: ClosedRange<UInt8>
            switch lead {
            case 0xE0: valid = 0xA0...0xBF
            case 0xED: valid = 0x80...0x9F
            case 0xF0: valid = 0x90...0xBF
            case 0xF4: valid = 0x80...0x8F
            default: valid = 0x80...0xBF
            }
            guard valid.contains(second) else { return 0 }
        }
        return have
    }
}
