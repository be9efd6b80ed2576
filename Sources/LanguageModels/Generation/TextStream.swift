/// Turns generated token ids into text as it becomes final, for streaming: it holds back a
/// character cut in the middle of its bytes (decoded as U+FFFD until its last byte arrives) and
/// any end of the text that could be the start of a stop string, and finds stop strings.
struct TextStream {
    let decode: ([Int]) -> String
    let stopStrings: [String]
    private(set) var tokens: [Int] = []
    /// Characters of the text already handed out.
    private(set) var emitted = 0
    /// The generated text, cut before a stop string once one appeared.
    private(set) var text = ""
    /// The stop string that appeared, if any.
    private(set) var stoppedBy: String?

    init(decode: @escaping ([Int]) -> String, stopStrings: [String]) {
        self.decode = decode
        self.stopStrings = stopStrings
    }

    /// Adds a token; returns the text that became final (possibly empty).
    mutating func append(_ token: Int) -> String {
        precondition(stoppedBy == nil, "TextStream: append after a stop string")
        tokens.append(token)
        text = decode(tokens)
        if let (stop, range) = firstStop() {
            stoppedBy = stop
            text = String(text[..<range.lowerBound])
            return flush()
        }
        var final = text.count
        if text.hasSuffix("\u{FFFD}") { final -= 1 }
        final -= holdBack(Substring(text.prefix(final)))
        return take(upTo: final)
    }

    /// The rest of the text (at the end of the generation: nothing is held back any more).
    mutating func flush() -> String {
        take(upTo: text.count)
    }

    private mutating func take(upTo end: Int) -> String {
        guard end > emitted else { return "" }
        let piece = String(text.dropFirst(emitted).prefix(end - emitted))
        emitted = end
        return piece
    }

    /// The earliest stop string in the text and where it starts.
    private func firstStop() -> (String, Range<String.Index>)? {
        var best: (String, Range<String.Index>)?
        for stop in stopStrings {
            if let r = text.range(of: stop), best.map({ r.lowerBound < $0.1.lowerBound }) ?? true { best = (stop, r) }
        }
        return best
    }

    /// The length of the longest end of `s` that begins some stop string (and might complete it).
    private func holdBack(_ s: Substring) -> Int {
        var longest = 0
        for stop in stopStrings {
            for k in stride(from: Swift.min(stop.count - 1, s.count), to: longest, by: -1) where s.hasSuffix(stop.prefix(k)) {
                longest = k
                break
            }
        }
        return longest
    }
}
