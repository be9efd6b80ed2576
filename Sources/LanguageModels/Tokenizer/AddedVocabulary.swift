/// Tokens matched whole in the text before it is pre-tokenised: special tokens (`<|im_start|>`)
/// and other added tokens (`tokenizers`' `AddedVocabulary`).
///
/// As in `tokenizers`, tokens that match the raw text (`normalized: false`) are found first, then
/// the others in what is left, after normalisation; each pass takes the leftmost match and, there,
/// the longest token (Aho-Corasick, leftmost-longest). `singleWord` tokens match only between
/// non-word characters; `leftStrip`/`rightStrip` tokens swallow the whitespace beside them.
struct AddedVocabulary: Sendable {
    struct Token: Sendable, Equatable {
        var content: String
        var id: Int
        var special: Bool
        var normalized: Bool
        var singleWord = false
        var leftStrip = false
        var rightStrip = false
    }

    /// A piece of the text: added token `id`, or text to pre-tokenise.
    enum Piece: Equatable {
        case token(Int)
        case text(String)
    }

    let tokens: [Token]
    private let rawTrie: Trie
    private let normalizedTrie: Trie

    /// - Parameter normalize: the tokenizer's normalizer, applied to `normalized` tokens' contents.
    init(_ tokens: [Token], normalize: (String) -> String) {
        self.tokens = tokens
        rawTrie = Trie(tokens.enumerated().filter { !$0.element.normalized }.map { ($0.element.content, $0.offset) })
        normalizedTrie = Trie(tokens.enumerated().filter { $0.element.normalized }
            .map { (normalize($0.element.content), $0.offset) })
    }

    var isEmpty: Bool { tokens.isEmpty }

    /// Splits `text` into added tokens and the text between them; text pieces are normalised by
    /// `normalize` (when there is a normaliser) before the second pass, so they come out normalised.
    func split(_ text: String, normalize: ((String) -> String)?) -> [Piece] {
        if tokens.isEmpty { return text.isEmpty ? [] : [.text(normalize?(text) ?? text)] }
        var pieces: [Piece] = []
        for piece in find(rawTrie, in: Array(text.unicodeScalars)) {
            guard case let .text(raw) = piece else { pieces.append(piece); continue }
            let normalized = normalize?(raw) ?? raw
            pieces += find(normalizedTrie, in: Array(normalized.unicodeScalars))
        }
        return pieces
    }

    /// One pass: leftmost-longest matches of `trie` in `scalars`, with the tokens' word and strip rules.
    private func find(_ trie: Trie, in scalars: [Unicode.Scalar]) -> [Piece] {
        func text(_ a: Int, _ b: Int) -> Piece {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars[a..<b])
            return .text(String(view))
        }
        if scalars.isEmpty { return [] }
        if trie.isEmpty { return [text(0, scalars.count)] }
        var pieces: [Piece] = []
        var emitted = 0           // end of what has been emitted
        var position = 0
        while position < scalars.count {
            guard let (length, index) = trie.longestMatch(scalars, at: position) else { position += 1; continue }
            var start = position
            var stop = position + length
            position = stop       // a match that is discarded still ends the search there, as Aho-Corasick's does
            let token = tokens[index]
            if token.singleWord {
                let before = start > 0 && isWordCharacter(scalars[start - 1])
                let after = stop < scalars.count && isWordCharacter(scalars[stop])
                if before || after { continue }
            }
            if token.leftStrip {
                var s = start
                while s > 0 && scalars[s - 1].properties.isWhitespace { s -= 1 }
                start = max(s, emitted)
            }
            if token.rightStrip {
                while stop < scalars.count && scalars[stop].properties.isWhitespace { stop += 1 }
                position = stop
            }
            if emitted < start { pieces.append(text(emitted, start)) }
            pieces.append(.token(token.id))
            emitted = stop
        }
        if emitted < scalars.count { pieces.append(text(emitted, scalars.count)) }
        return pieces
    }

    /// `\w` of the regex crate that `tokenizers` uses: Alphabetic, marks, decimal digits,
    /// connector punctuation and Join_Control.
    private func isWordCharacter(_ s: Unicode.Scalar) -> Bool {
        let p = s.properties
        if p.isAlphabetic || p.isJoinControl { return true }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }
}

/// A trie of token contents by Unicode scalar, answering "the longest token that starts here".
private struct Trie: Sendable {
    private var children: [[UInt32: Int32]] = [[:]]
    private var terminal: [Int32] = [-1]

    init(_ entries: [(String, Int)]) {
        for (content, index) in entries where !content.isEmpty {
            var node = 0
            for scalar in content.unicodeScalars {
                if let child = children[node][scalar.value] {
                    node = Int(child)
                } else {
                    children.append([:])
                    terminal.append(-1)
                    children[node][scalar.value] = Int32(children.count - 1)
                    node = children.count - 1
                }
            }
            // The first token of a content wins, as `tokenizers` keeps the first pattern.
            if terminal[node] < 0 { terminal[node] = Int32(index) }
        }
    }

    var isEmpty: Bool { children[0].isEmpty }

    func longestMatch(_ scalars: [Unicode.Scalar], at start: Int) -> (length: Int, index: Int)? {
        var node = 0
        var best: (Int, Int)?
        var i = start
        while i < scalars.count, let child = children[node][scalars[i].value] {
            node = Int(child)
            i += 1
            if terminal[node] >= 0 { best = (i - start, Int(terminal[node])) }
        }
        return best
    }
}
