/// GPT-2's pre-tokenisation pattern, matched by hand over UTF-8 bytes:
///
///     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
///
/// It is the pattern of `tokenizers`' `ByteLevel(use_regex: true)` — what `transformers` builds for
/// a GGUF whose `tokenizer.ggml.pre` is `smollm` (or `gpt2`) — and the one that byte-level BPE
/// spends much of its time in; `RegexSplitter` matches the same pattern with ICU's engine about
/// seven times more slowly (7 MB/s against 50 on this project's 2-core machine), and the tests
/// check that the two agree. The alternatives are tried in order
/// at each position, with the regex's greedy repetition and backtracking:
///
/// - a contraction, case-sensitive;
/// - an optional U+0020 then a run of letters, or of numbers, or of other characters (neither
///   whitespace, letter nor number);
/// - a run of whitespace not followed by a non-space (at the end of the text: all of it; before
///   a word: all but its last character, which then starts the word's piece), or else one
///   whitespace character.
///
/// Letters are `\p{L}`, numbers `\p{N}` and whitespace `\s` (White_Space) as Oniguruma classes
/// them: Swift's Unicode properties, limited to the code points assigned by Unicode 16.0, give the
/// same classes for every code point (tested against a table taken from `tokenizers`).
enum GPT2Splitter {
    enum Class: UInt8 { case letter, number, space, other }

    @inline(__always)
    static func classify(_ scalar: Unicode.Scalar) -> Class {
        let v = scalar.value
        if v < 0x80 {
            // ASCII fast path.
            switch v {
            case 0x41...0x5A, 0x61...0x7A: return .letter
            case 0x30...0x39: return .number
            case 0x09...0x0D, 0x20: return .space
            default: return .other
            }
        }
        let p = scalar.properties
        let assigned: Class
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: assigned = .letter
        case .decimalNumber, .letterNumber, .otherNumber: assigned = .number
        default: return p.isWhitespace ? .space : .other
        }
        // A letter or number that Unicode added after Oniguruma's tables is unassigned to it.
        guard let age = p.age, age.major < unicodeVersion.major
                || (age.major == unicodeVersion.major && age.minor <= unicodeVersion.minor) else { return .other }
        return assigned
    }

    /// The Unicode version of Oniguruma's tables in `tokenizers` 0.23 (and of ICU in Foundation):
    /// Swift's own tables are newer (Unicode 17 in Swift 6.3), and the letters and numbers that
    /// Unicode 17 added would otherwise be split differently from the reference.
    static let unicodeVersion: Unicode.Version = (16, 0)

    /// Calls `body` with the byte range of each piece of `bytes` (valid UTF-8), in order.
    static func split(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Void) {
        // Decoded once: the scalar classes and the byte offset where each scalar starts.
        var classes: [Class] = []
        var starts: [Int] = []
        var values: [UInt32] = []
        classes.reserveCapacity(bytes.count)
        starts.reserveCapacity(bytes.count + 1)
        values.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let (scalar, length) = decode(bytes, at: i)
            classes.append(classify(scalar))
            values.append(scalar.value)
            starts.append(i)
            i += length
        }
        starts.append(bytes.count)
        let n = classes.count
        func runEnd(_ from: Int, _ c: Class) -> Int {
            var j = from
            while j < n && classes[j] == c { j += 1 }
            return j
        }
        var k = 0
        while k < n {
            let end: Int
            if let length = contraction(values, at: k) {
                end = k + length
            } else if values[k] == 0x20, k + 1 < n, classes[k + 1] != .space {
                end = runEnd(k + 1, classes[k + 1])          // " word", " 123", " ..."
            } else if classes[k] != .space {
                end = runEnd(k, classes[k])
            } else {
                let spaces = runEnd(k, .space)
                if spaces == n || spaces - k == 1 {
                    end = spaces                              // trailing run, or one whitespace character
                } else {
                    end = spaces - 1                          // leave the last one to the next piece
                }
            }
            body(starts[k]..<starts[end])
            k = end
        }
    }

    /// The length of the contraction `'s 't 're 've 'm 'll 'd` at `k`, if any.
    @inline(__always)
    private static func contraction(_ v: [UInt32], at k: Int) -> Int? {
        guard v[k] == 0x27, k + 1 < v.count else { return nil }   // '
        switch v[k + 1] {
        case 0x73, 0x74, 0x6D, 0x64: return 2                       // s t m d
        case 0x72, 0x76: return k + 2 < v.count && v[k + 2] == 0x65 ? 3 : nil   // re ve
        case 0x6C: return k + 2 < v.count && v[k + 2] == 0x6C ? 3 : nil          // ll
        default: return nil
        }
    }

    /// The scalar starting at `i` of valid UTF-8, and its length in bytes.
    @inline(__always)
    static func decode(_ b: UnsafeBufferPointer<UInt8>, at i: Int) -> (Unicode.Scalar, Int) {
        let b0 = UInt32(b[i])
        if b0 < 0x80 { return (Unicode.Scalar(b0)!, 1) }
        if b0 < 0xE0 { return (Unicode.Scalar((b0 & 0x1F) << 6 | UInt32(b[i + 1] & 0x3F))!, 2) }
        if b0 < 0xF0 {
            let v = (b0 & 0x0F) << 12 | UInt32(b[i + 1] & 0x3F) << 6 | UInt32(b[i + 2] & 0x3F)
            return (Unicode.Scalar(v)!, 3)
        }
        let v = (b0 & 0x07) << 18 | UInt32(b[i + 1] & 0x3F) << 12 | UInt32(b[i + 2] & 0x3F) << 6 | UInt32(b[i + 3] & 0x3F)
        return (Unicode.Scalar(v)!, 4)
    }
}
