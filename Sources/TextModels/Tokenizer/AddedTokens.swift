extension WordPieceTokenizer {
    /// A token matched as a whole in the input text before WordPiece runs, such as `[CLS]` or
    /// `[MASK]` (`added_tokens` in `tokenizer.json`).
    ///
    /// As in Hugging Face's tokenizers, `"fill [MASK] here"` encodes `[MASK]` as its id rather
    /// than as the pieces of `[`, `mask`, `]`.
    public struct AddedToken: Sendable, Equatable {
        /// The text that is matched.
        public var content: String
        /// The token's id.
        public var id: Int
        /// Whether `decode` drops it (it does for `[CLS]`, `[SEP]`, `[PAD]`, `[UNK]`, `[MASK]`).
        public var isSpecial: Bool
        /// Whether the match is looked for in the normalized text (lower-cased, accents
        /// stripped…) instead of the raw text.
        public var isNormalized: Bool
        /// Whether whitespace just before the match belongs to it.
        public var stripsLeft: Bool
        /// Whether whitespace just after the match belongs to it.
        public var stripsRight: Bool
        /// Whether it only matches a whole word (no letter, digit or `_` just before or after).
        public var isSingleWord: Bool

        public init(content: String, id: Int, isSpecial: Bool = true, isNormalized: Bool = false,
                    stripsLeft: Bool = false, stripsRight: Bool = false, isSingleWord: Bool = false) {
            self.content = content
            self.id = id
            self.isSpecial = isSpecial
            self.isNormalized = isNormalized
            self.stripsLeft = stripsLeft
            self.stripsRight = stripsRight
            self.isSingleWord = isSingleWord
        }
    }
}

/// Finds added tokens in text: leftmost match first, the longest one where several start at the
/// same scalar (Hugging Face's `AddedVocabulary`, which uses leftmost-longest Aho–Corasick).
struct AddedTokenMatcher: Sendable {
    enum Segment {
        /// Scalars to normalize and tokenize.
        case text(Range<Int>)
        /// An added token's id.
        case token(Int)
    }

    private struct Pattern: Sendable {
        var scalars: [Unicode.Scalar]
        var token: WordPieceTokenizer.AddedToken
    }

    private var patterns: [Pattern] = []
    /// Pattern indices by first scalar, longest pattern first.
    private var candidates: [Unicode.Scalar: [Int]] = [:]
    /// Bit `v` of word `v / 64` is set when an ASCII scalar `v` starts a pattern; checked before
    /// the dictionary so that most scalars cost one test.
    private var asciiStarts: (UInt64, UInt64) = (0, 0)
    private var hasNonASCIIStart = false

    init(_ tokens: [WordPieceTokenizer.AddedToken]) {
        for token in tokens where !token.content.isEmpty {
            patterns.append(Pattern(scalars: Array(token.content.unicodeScalars), token: token))
        }
        for (index, pattern) in patterns.enumerated() {
            let first = pattern.scalars[0]
            candidates[first, default: []].append(index)
            switch first.value {
            case 0..<64: asciiStarts.0 |= 1 << UInt64(first.value)
            case 64..<128: asciiStarts.1 |= 1 << UInt64(first.value - 64)
            default: hasNonASCIIStart = true
            }
        }
        for key in candidates.keys {
            candidates[key]!.sort { patterns[$0].scalars.count > patterns[$1].scalars.count }
        }
    }

    var isEmpty: Bool { patterns.isEmpty }

    /// Calls `body` with the segments of `text` in order: runs of plain text (never empty) and
    /// added tokens. Whitespace absorbed by `stripsLeft`/`stripsRight` belongs to no segment.
    func split(_ text: ArraySlice<Unicode.Scalar>, _ body: (Segment) -> Void) {
        if patterns.isEmpty {
            if !text.isEmpty { body(.text(text.startIndex..<text.endIndex)) }
            return
        }
        var segmentStart = text.startIndex
        var index = text.startIndex
        while index < text.endIndex {
            guard let found = longestMatch(in: text, at: index) else {
                index += 1
                continue
            }
            let pattern = patterns[found]
            var start = index
            var end = index + pattern.scalars.count
            if pattern.token.isSingleWord {
                let wordBefore = start > text.startIndex && Self.isWordCharacter(text[start - 1])
                let wordAfter = end < text.endIndex && Self.isWordCharacter(text[end])
                if wordBefore || wordAfter {
                    index = end  // the reference's automaton has consumed this match
                    continue
                }
            }
            if pattern.token.stripsLeft {
                while start > segmentStart && BertCharacterClasses.isWhitespace(text[start - 1]) {
                    start -= 1
                }
            }
            if pattern.token.stripsRight {
                while end < text.endIndex && BertCharacterClasses.isWhitespace(text[end]) { end += 1 }
            }
            if segmentStart < start { body(.text(segmentStart..<start)) }
            body(.token(pattern.token.id))
            segmentStart = end
            index = end
        }
        if segmentStart < text.endIndex { body(.text(segmentStart..<text.endIndex)) }
    }

    @inline(__always)
    private func longestMatch(in text: ArraySlice<Unicode.Scalar>, at index: Int) -> Int? {
        let value = text[index].value
        switch value {
        case 0..<64: if asciiStarts.0 & (1 << UInt64(value)) == 0 { return nil }
        case 64..<128: if asciiStarts.1 & (1 << UInt64(value - 64)) == 0 { return nil }
        default: if !hasNonASCIIStart { return nil }
        }
        guard let list = candidates[text[index]] else { return nil }
        for candidate in list {
            let scalars = patterns[candidate].scalars
            if text.endIndex - index >= scalars.count
                && text[index..<(index + scalars.count)].elementsEqual(scalars) {
                return candidate
            }
        }
        return nil
    }

    private static func isWordCharacter(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "_" || scalar.properties.isAlphabetic || scalar.properties.numericType != nil
    }
}
