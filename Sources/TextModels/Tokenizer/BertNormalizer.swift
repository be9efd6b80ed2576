import Foundation

/// BERT's text normalization and pre-tokenization, as Hugging Face's `BertNormalizer` and
/// `BertPreTokenizer` do them.
///
/// Normalization runs four steps in this order over the text's Unicode scalars:
/// 1. cleaning: drop NUL, U+FFFD and control/format characters; every whitespace becomes a space;
/// 2. CJK splitting: put a space on each side of every CJK ideograph;
/// 3. accent stripping: canonical decomposition (NFD), then drop the nonspacing marks (Mn);
/// 4. lower-casing, scalar by scalar (full case mapping, so `İ` becomes `i` + U+0307).
///
/// Pre-tokenization then splits on whitespace (dropped) and on punctuation (each punctuation
/// scalar is a word of its own).
struct BertNormalizer: Sendable {
    var options: WordPieceTokenizer.Normalization

    /// Whether accents are stripped: `stripAccents` when given, else whatever `lowercase` is
    /// (as in the original BERT).
    var stripsAccents: Bool { options.stripAccents ?? options.lowercase }

    /// Normalizes `input` into `output` (replacing its contents).
    ///
    /// - Complexity: O(n) in the number of scalars; NFD goes through Foundation, but only for
    ///   runs of non-ASCII scalars, so ASCII text never leaves this loop.
    func normalize(_ input: ArraySlice<Unicode.Scalar>, into output: inout [Unicode.Scalar]) {
        output.removeAll(keepingCapacity: true)
        output.reserveCapacity(input.count + 8)
        let stripAccents = stripsAccents
        let lowercase = options.lowercase
        let cleanText = options.cleanText
        let splitChinese = options.tokenizeChineseCharacters
        var pending: [Unicode.Scalar] = []  // a run of non-ASCII scalars awaiting NFD

        for original in input {
            var scalar = original
            if cleanText {
                if BertCharacterClasses.isRemovedByCleaning(scalar) { continue }
                if BertCharacterClasses.isWhitespace(scalar) { scalar = " " }
            }
            if scalar.value < 0x80 {
                if !pending.isEmpty { Self.flush(&pending, lowercase: lowercase, into: &output) }
                Self.append(scalar, lowercase: lowercase, to: &output)
                continue
            }
            let isChinese = splitChinese && BertCharacterClasses.isChineseCharacter(scalar)
            if isChinese {
                if !pending.isEmpty { Self.flush(&pending, lowercase: lowercase, into: &output) }
                output.append(" ")
            }
            if stripAccents {
                pending.append(scalar)
            } else {
                Self.append(scalar, lowercase: lowercase, to: &output)
            }
            if isChinese {
                if !pending.isEmpty { Self.flush(&pending, lowercase: lowercase, into: &output) }
                output.append(" ")
            }
        }
        if !pending.isEmpty { Self.flush(&pending, lowercase: lowercase, into: &output) }
    }

    /// Appends `scalar`, lower-cased when asked. Decomposition can yield ASCII capitals
    /// (`Ç` → `C` + U+0327), so this handles both ASCII and the rest.
    @inline(__always)
    private static func append(_ scalar: Unicode.Scalar, lowercase: Bool, to output: inout [Unicode.Scalar]) {
        let value = scalar.value
        if !lowercase {
            output.append(scalar)
        } else if value < 0x80 {
            output.append(value >= 65 && value <= 90 ? Unicode.Scalar(UInt8(value + 32)) : scalar)
        } else if scalar.properties.changesWhenLowercased {
            output.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
        } else {
            output.append(scalar)
        }
    }

    /// Decomposes a run of non-ASCII scalars (NFD), drops its nonspacing marks, lower-cases the
    /// rest into `output`, and empties the run.
    ///
    /// ASCII scalars are starters that neither decompose nor reorder, so decomposing the
    /// non-ASCII runs one at a time equals decomposing the whole text.
    private static func flush(_ pending: inout [Unicode.Scalar], lowercase: Bool, into output: inout [Unicode.Scalar]) {
        var text = String.UnicodeScalarView()
        text.append(contentsOf: pending)
        pending.removeAll(keepingCapacity: true)
        for scalar in String(text).decomposedStringWithCanonicalMapping.unicodeScalars
        where !BertCharacterClasses.isNonspacingMark(scalar) {
            append(scalar, lowercase: lowercase, to: &output)
        }
    }

    /// Splits normalized text into words: whitespace separates words and is dropped, and each
    /// punctuation scalar is a word of its own. Calls `body` with each word's range in `text`.
    @inline(__always)
    static func forEachWord(in text: ArraySlice<Unicode.Scalar>, _ body: (Range<Int>) -> Void) {
        var wordStart = text.startIndex
        var index = text.startIndex
        while index < text.endIndex {
            let scalar = text[index]
            if BertCharacterClasses.isWhitespace(scalar) {
                if wordStart < index { body(wordStart..<index) }
                wordStart = index + 1
            } else if BertCharacterClasses.isPunctuation(scalar) {
                if wordStart < index { body(wordStart..<index) }
                body(index..<(index + 1))
                wordStart = index + 1
            }
            index += 1
        }
        if wordStart < text.endIndex { body(wordStart..<text.endIndex) }
    }
}
