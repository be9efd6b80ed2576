/// Splits text (between added tokens, after normalisation) into the pieces that BPE encodes one by
/// one, as `tokenizers`' pre-tokenizers do: a sequence of steps, each splitting every piece that
/// the previous step produced.
///
/// The byte-level alphabet itself (`ByteLevel`'s second half) is applied by `BPEModel`, which
/// starts from each piece's bytes; so `ByteLevel` must be the last step, as it is in every
/// byte-level tokenizer.
struct PreTokenizer: Sendable {
    enum Step: Sendable {
        /// `ByteLevel`: a space in front of a piece that does not start with one
        /// (`add_prefix_space`), then GPT-2's pattern (`use_regex`).
        case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
        /// `Split` with a regex and `Isolated` (matches and the text between them are pieces) or
        /// `Removed` (only the text between matches) behaviour; `invert` swaps the roles.
        case split(RegexSplitter, removeMatches: Bool, invert: Bool)
        /// `Digits`: every number character alone (`individual_digits`), or runs of them.
        case digits(individual: Bool)
    }

    let steps: [Step]

    /// Llama 3's `Split` pattern (also `transformers`' for the GGUF pre-tokenisers `llama3`,
    /// `llama-bpe`, …): case-insensitive contractions, letters with one leading non-letter, numbers
    /// in threes, punctuation with trailing newlines, newline runs, whitespace.
    static let llama3Pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"#
        + #"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// GPT-2's: what `ByteLevel(add_prefix_space: false, use_regex: true)` does.
    static let gpt2 = PreTokenizer(steps: [.byteLevel(addPrefixSpace: false, useRegex: true)])

    /// Calls `body` with each piece of `text` (UTF-8), in order.
    func forEachPiece(_ text: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        run(stepIndex: 0, text, body)
    }

    private func run(stepIndex: Int, _ piece: UnsafeBufferPointer<UInt8>,
                     _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        if piece.isEmpty { return }
        guard stepIndex < steps.count else { return body(piece) }
        func next(_ sub: UnsafeBufferPointer<UInt8>) { run(stepIndex: stepIndex + 1, sub, body) }
        switch steps[stepIndex] {
        case let .byteLevel(addPrefixSpace, useRegex):
            if addPrefixSpace && piece[0] != 0x20 {
                // The piece with a space in front: a copy.
                var spaced = [UInt8](repeating: 0x20, count: piece.count + 1)
                spaced.withUnsafeMutableBufferPointer { _ = UnsafeMutableBufferPointer(rebasing: $0[1...]).initialize(from: piece) }
                spaced.withUnsafeBufferPointer { byteLevel($0, useRegex: useRegex, next) }
            } else {
                byteLevel(piece, useRegex: useRegex, next)
            }
        case let .split(regex, removeMatches, invert):
            var start = 0
            for match in regex.matches(in: piece) {
                // Isolated: gaps and matches are pieces; Removed: only the unmatched side is kept.
                if start < match.lowerBound, !(removeMatches && invert) {
                    next(UnsafeBufferPointer(rebasing: piece[start..<match.lowerBound]))
                }
                if !(removeMatches && !invert) { next(UnsafeBufferPointer(rebasing: piece[match])) }
                start = match.upperBound
            }
            if start < piece.count, !(removeMatches && invert) {
                next(UnsafeBufferPointer(rebasing: piece[start...]))
            }
        case let .digits(individual):
            digits(piece, individual: individual, next)
        }
    }

    private func byteLevel(_ piece: UnsafeBufferPointer<UInt8>, useRegex: Bool,
                           _ next: (UnsafeBufferPointer<UInt8>) -> Void) {
        if useRegex {
            GPT2Splitter.split(piece) { next(UnsafeBufferPointer(rebasing: piece[$0])) }
        } else {
            next(piece)
        }
    }

    /// `Digits`: number characters (Rust's `char::is_numeric`: Nd, Nl, No) split from the rest.
    private func digits(_ piece: UnsafeBufferPointer<UInt8>, individual: Bool,
                        _ next: (UnsafeBufferPointer<UInt8>) -> Void) {
        var i = 0
        var runStart = 0
        var runIsNumber: Bool?
        while i < piece.count {
            let (scalar, length) = GPT2Splitter.decode(piece, at: i)
            let isNumber = GPT2Splitter.classify(scalar) == .number
            if isNumber && individual {
                if runStart < i { next(UnsafeBufferPointer(rebasing: piece[runStart..<i])) }
                next(UnsafeBufferPointer(rebasing: piece[i..<(i + length)]))
                runStart = i + length
                runIsNumber = nil
            } else if let current = runIsNumber, current != isNumber {
                next(UnsafeBufferPointer(rebasing: piece[runStart..<i]))
                runStart = i
                runIsNumber = isNumber
            } else {
                runIsNumber = isNumber
            }
            i += length
        }
        if runStart < piece.count { next(UnsafeBufferPointer(rebasing: piece[runStart...])) }
    }
}
