/// A text (or a pair of texts) as model input: `[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP]`.
public struct TokenizedText: Sendable, Equatable {
    /// Token ids, special tokens included.
    public var ids: [Int]
    /// Segment (token type) ids: 0 for `[CLS] A [SEP]`, 1 for `B [SEP]`.
    public var typeIds: [Int]

    public init(ids: [Int], typeIds: [Int]) {
        precondition(ids.count == typeIds.count,
                     "TokenizedText: \(ids.count) ids but \(typeIds.count) type ids")
        self.ids = ids
        self.typeIds = typeIds
    }

    /// The number of tokens.
    public var count: Int { ids.count }
}

extension WordPieceTokenizer {
    /// Encodes `text` (and `pair`) as BERT input, as Hugging Face's tokenizer does with
    /// `truncation="longest_first"` and no padding.
    ///
    /// The result is `[CLS] A [SEP]`, or `[CLS] A [SEP] B [SEP]` with type ids 0 up to the first
    /// `[SEP]` and 1 after it.
    ///
    /// With `maxLength`, the texts are cut (from their ends) to `maxLength` tokens in all,
    /// special tokens counted. A pair is cut longest first: if the shorter text fits in half
    /// the room it is kept whole and the longer one gets the rest; otherwise the shorter gets
    /// ⌊room/2⌋ tokens and the longer ⌈room/2⌉ (of two texts of equal length, `pair` gets the
    /// extra token), which is Hugging Face `tokenizers`' rule.
    ///
    /// - Parameters:
    ///   - text: the first (or only) text.
    ///   - pair: the second text, if any.
    ///   - maxLength: the longest result; when it is smaller than the special tokens alone
    ///     (2, or 3 for a pair), the result is just the special tokens.
    public func encode(_ text: String, pair: String? = nil, maxLength: Int? = nil) -> TokenizedText {
        var first = self.ids(of: text)
        var second = pair.map { self.ids(of: $0) }
        if let maxLength {
            precondition(maxLength >= 0, "encode: maxLength \(maxLength) is negative")
            let room = max(0, maxLength - (second == nil ? 2 : 3))
            if var rest = second {
                let (n1, n2) = Self.longestFirstLengths(first.count, rest.count, room: room)
                first.removeSubrange(n1...)
                rest.removeSubrange(n2...)
                second = rest
            } else if first.count > room {
                first.removeSubrange(room...)
            }
        }
        var result = [clsId]
        result.reserveCapacity(first.count + (second?.count ?? 0) + 3)
        result += first
        result.append(sepId)
        var typeIds = [Int](repeating: 0, count: result.count)
        if let second {
            result += second
            result.append(sepId)
            typeIds += [Int](repeating: 1, count: second.count + 1)
        }
        return TokenizedText(ids: result, typeIds: typeIds)
    }

    /// The lengths two texts of `count1` and `count2` tokens are cut to, so that together they
    /// fit in `room` tokens (Hugging Face `tokenizers`' `LongestFirst` for pairs).
    static func longestFirstLengths(_ count1: Int, _ count2: Int, room: Int) -> (Int, Int) {
        if count1 + count2 <= room { return (count1, count2) }
        let swapped = count1 > count2
        var shorter = min(count1, count2)
        var longer = shorter > room ? shorter : max(shorter, room - shorter)
        if shorter + longer > room {
            shorter = room / 2
            longer = shorter + room % 2
        }
        return swapped ? (longer, shorter) : (shorter, longer)
    }

    /// Turns ids back into text, as Hugging Face's `decode(ids, skip_special_tokens=True)`.
    ///
    /// Special tokens (and ids that name no token) are dropped; the rest are joined with
    /// spaces, except that a `##` piece is glued to the token before it. With
    /// `cleansUpDecodedSpaces`, the space before `.`, `,`, `?` and `!` is removed as well.
    /// Lower-casing and accent stripping are not undone, and neither is `[UNK]`.
    ///
    /// - Parameter skippingSpecialTokens: keep the special tokens when `false`.
    public func decode(_ ids: [Int], skippingSpecialTokens: Bool = true) -> String {
        var text: [UInt8] = []
        let prefix = Array(continuingSubwordPrefix.utf8)
        var isFirst = true
        for id in ids {
            guard let token = self.token(for: id) else { continue }
            if skippingSpecialTokens && specialIds.contains(id) { continue }
            var piece = Array(token.utf8)
            if !isFirst {
                if !prefix.isEmpty && piece.starts(with: prefix) {
                    piece.removeFirst(prefix.count)
                } else {
                    piece.insert(0x20, at: 0)
                }
            }
            isFirst = false
            if cleansUpDecodedSpaces { piece = Self.cleanUp(piece) }
            text += piece
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// The WordPiece decoder's `cleanup`, applied to one token (with its leading space) at a
    /// time as the reference does, so only the replacements that fit in one token ever fire.
    private static let cleanUpRules: [([UInt8], [UInt8])] = [
        (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
        (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
    ].map { (Array($0.0.utf8), Array($0.1.utf8)) }

    private static func cleanUp(_ piece: [UInt8]) -> [UInt8] {
        var piece = piece
        for (pattern, replacement) in cleanUpRules where piece.count >= pattern.count {
            var output: [UInt8] = []
            var index = 0
            var replaced = false
            while index < piece.count {
                if piece.count - index >= pattern.count && piece[index..<(index + pattern.count)].elementsEqual(pattern) {
                    output += replacement
                    index += pattern.count
                    replaced = true
                } else {
                    output.append(piece[index])
                    index += 1
                }
            }
            if replaced { piece = output }
        }
        return piece
    }
}
