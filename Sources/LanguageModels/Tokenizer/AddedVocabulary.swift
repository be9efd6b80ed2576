/// Tokens matched whole in the text before it is pre-tokenised: special tokens (`<|im_start|>`)
/// and other added tokens (`tokenizers`' `AddedVocabulary`).
///
/// As in `tokenizers`, tokens that match the raw text (`normalized: false`) are found first, then
/// the others in what is left, after normalisation; each pass takes the leftmost match and, there,
/// the longest token (Aho-Corasick, leftmost-longest). `singleWord` tokens match only between
/// non-word characters; `leftStrip`/`rightStrip` tokens swallow the whitespace beside them.
/// Matching works on UTF-8 bytes and only looks further at bytes that start some token.
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

    /// A piece of the text: added token `id`, or bytes `range` of buffer `buffer` to pre-tokenise
    /// (buffer 0 is the text; normalised pieces get buffers of their own).
    enum Piece: Equatable {
        case token(Int)
        case text(buffer: Int, range: Range<Int>)
    }

    let tokens: [Token]
    private let rawTrie: ByteTrie
    private let normalizedTrie: ByteTrie

    /// - Parameter normalize: the tokenizer's normaliser, applied to `normalized` tokens' contents.
    init(_ tokens: [Token], normalize: (String) -> String) {
        self.tokens = tokens
        rawTrie = ByteTrie(tokens.enumerated().filter { !$0.element.normalized }.map { (Array($0.element.content.utf8), $0.offset) })
        normalizedTrie = ByteTrie(tokens.enumerated().filter { $0.element.normalized }
            .map { (Array(normalize($0.element.content).utf8), $0.offset) })
    }

    /// Splits `text` into added tokens and the text between them. Without a normaliser the text
    /// pieces are ranges of `buffers[0]` (the text's UTF-8); with one, each piece between raw-text
    /// matches is normalised into a buffer of its own before the second pass.
    func split(_ text: String, normalize: ((String) -> String)?) -> (pieces: [Piece], buffers: [[UInt8]]) {
        var buffers = [Array(text.utf8)]
        var pieces: [Piece] = []
        let first = buffers[0].withUnsafeBufferPointer { find(rawTrie, in: $0, buffer: 0) }
        for piece in first {
            guard case let .text(_, range) = piece else { pieces.append(piece); continue }
            var buffer = 0
            var bytes = range
            if let normalize {
                let normalized = normalize(String(decoding: buffers[0][range], as: UTF8.self))
                buffers.append(Array(normalized.utf8))
                buffer = buffers.count - 1
                bytes = 0..<buffers[buffer].count
            }
            if normalizedTrie.isEmpty {
                if !bytes.isEmpty { pieces.append(.text(buffer: buffer, range: bytes)) }
            } else {
                let sub = buffers[buffer].withUnsafeBufferPointer {
                    find(normalizedTrie, in: UnsafeBufferPointer(rebasing: $0[bytes]), buffer: buffer)
                }
                // Ranges of the slice → ranges of the buffer.
                pieces += sub.map {
                    guard case let .text(b, r) = $0 else { return $0 }
                    return .text(buffer: b, range: (r.lowerBound + bytes.lowerBound)..<(r.upperBound + bytes.lowerBound))
                }
            }
        }
        return (pieces, buffers)
    }

    /// One pass: leftmost-longest matches of `trie` in `bytes`, with the tokens' word and strip rules.
    private func find(_ trie: ByteTrie, in bytes: UnsafeBufferPointer<UInt8>, buffer: Int) -> [Piece] {
        if bytes.isEmpty { return [] }
        if trie.isEmpty { return [.text(buffer: buffer, range: 0..<bytes.count)] }
        var pieces: [Piece] = []
        var emitted = 0           // end of what has been emitted
        var position = 0
        let n = bytes.count
        while position < n {
            guard trie.starts(bytes[position]), let (length, index) = trie.longestMatch(bytes, at: position) else {
                position += 1
                continue
            }
            var start = position
            var stop = position + length
            position = stop       // a discarded match still ends the search there, as Aho-Corasick's does
            let token = tokens[index]
            if token.singleWord {
                let before = start > 0 && isWordCharacter(UTF8Scalars.before(bytes, start).scalar)
                let after = stop < n && isWordCharacter(UTF8Scalars.at(bytes, stop).scalar)
                if before || after { continue }
            }
            if token.leftStrip {
                var s = start
                while s > 0 {
                    let (scalar, length) = UTF8Scalars.before(bytes, s)
                    guard scalar.properties.isWhitespace else { break }
                    s -= length
                }
                start = max(s, emitted)
            }
            if token.rightStrip {
                while stop < n {
                    let (scalar, length) = UTF8Scalars.at(bytes, stop)
                    guard scalar.properties.isWhitespace else { break }
                    stop += length
                }
                position = stop
            }
            if emitted < start { pieces.append(.text(buffer: buffer, range: emitted..<start)) }
            pieces.append(.token(token.id))
            emitted = stop
        }
        if emitted < n { pieces.append(.text(buffer: buffer, range: emitted..<n)) }
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

/// Decoding single scalars of valid UTF-8 at a byte offset.
enum UTF8Scalars {
    /// The scalar starting at `i`, and its length.
    @inline(__always)
    static func at(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> (scalar: Unicode.Scalar, length: Int) {
        GPT2Splitter.decode(b, at: i)
    }

    /// The scalar ending just before `i`, and its length.
    static func before(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> (scalar: Unicode.Scalar, length: Int) {
        var start = i - 1
        while start > 0 && b[start] & 0xC0 == 0x80 { start -= 1 }
        return (GPT2Splitter.decode(b, at: start).0, i - start)
    }
}

/// A trie of token contents by UTF-8 byte, answering "the longest token that starts here".
private struct ByteTrie: Sendable {
    private var children: [[UInt8: Int32]] = [[:]]
    private var terminal: [Int32] = [-1]
    /// Which bytes start some token: the scan skips the others without touching the trie.
    private var firstBytes = [Bool](repeating: false, count: 256)

    init(_ entries: [([UInt8], Int)]) {
        for (content, index) in entries where !content.isEmpty {
            firstBytes[Int(content[0])] = true
            var node = 0
            for byte in content {
                if let child = children[node][byte] {
                    node = Int(child)
                } else {
                    children.append([:])
                    terminal.append(-1)
                    children[node][byte] = Int32(children.count - 1)
                    node = children.count - 1
                }
            }
            // The first token of a content wins, as `tokenizers` keeps the first pattern.
            if terminal[node] < 0 { terminal[node] = Int32(index) }
        }
    }

    var isEmpty: Bool { children[0].isEmpty }

    @inline(__always)
    func starts(_ byte: UInt8) -> Bool { firstBytes[Int(byte)] }

    func longestMatch(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int) -> (length: Int, index: Int)? {
        var node = 0
        var best: (Int, Int)?
        var i = start
        while i < bytes.count, let child = children[node][bytes[i]] {
            node = Int(child)
            i += 1
            if terminal[node] >= 0 { best = (i - start, Int(terminal[node])) }
        }
        return best
    }
}
