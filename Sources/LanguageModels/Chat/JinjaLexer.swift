/// Cuts a Jinja template into text, `{{ expression }}` and `{% statement %}` pieces, with the
/// whitespace rules `transformers` renders chat templates with (`trim_blocks`: the newline right
/// after a statement is dropped; `lstrip_blocks`: spaces and tabs before a statement at the start
/// of a line are dropped; `{%-`, `-%}`, `{{-`, `-}}` strip all whitespace on their side).
///
/// Only what `ChatTemplate` needs to recognise its family: comments are refused.
enum JinjaLexer {
    enum Piece: Equatable {
        case text(String)
        case expression(String)
        case statement(String)
    }

    struct LexError: Error { var reason: String }

    static func pieces(_ template: String) throws -> [Piece] {
        var pieces: [Piece] = []
        var rest = Substring(template)
        var stripLeading = false
        var afterStatement = false
        var atStart = true
        while let (open, kind) = nextTag(in: rest) {
            guard kind != "#" else { throw LexError(reason: "comments ({# … #}) are not supported") }
            let close = kind == "{" ? "}}" : "%}"
            guard let end = rest[open.upperBound...].range(of: close) else {
                throw LexError(reason: "a \(kind == "{" ? "{{" : "{%") is not closed")
            }
            var inner = rest[open.upperBound..<end.lowerBound]
            let stripBefore = inner.first == "-"
            if stripBefore || inner.first == "+" { inner = inner.dropFirst() }
            let stripAfter = inner.last == "-"
            if stripAfter || inner.last == "+" { inner = inner.dropLast() }
            pieces.append(.text(text(rest[..<open.lowerBound], stripLeading: stripLeading, afterStatement: afterStatement,
                                     stripTrailing: stripBefore, beforeStatement: kind == "%", atStart: atStart)))
            let body = String(inner).trimmingWhitespace()
            pieces.append(kind == "{" ? .expression(body) : .statement(body))
            stripLeading = stripAfter
            afterStatement = kind == "%"
            atStart = false
            rest = rest[end.upperBound...]
        }
        pieces.append(.text(text(rest, stripLeading: stripLeading, afterStatement: afterStatement,
                                 stripTrailing: false, beforeStatement: false, atStart: atStart)))
        return pieces.filter { $0 != .text("") }
    }

    /// The next `{{`, `{%` or `{#`, and which.
    private static func nextTag(in s: Substring) -> (Range<Substring.Index>, Character)? {
        var i = s.startIndex
        while let brace = s[i...].firstIndex(of: "{") {
            let next = s.index(after: brace)
            guard next < s.endIndex else { return nil }
            let c = s[next]
            if c == "{" || c == "%" || c == "#" { return (brace..<s.index(after: next), c) }
            i = next
        }
        return nil
    }

    /// A text piece after the whitespace rules.
    private static func text(_ raw: Substring, stripLeading: Bool, afterStatement: Bool, stripTrailing: Bool,
                             beforeStatement: Bool, atStart: Bool) -> String {
        var s = raw
        if stripLeading {
            s = s.drop { $0.isWhitespace }
        } else if afterStatement, s.first == "\n" || s.first == "\r\n" {
            s = s.dropFirst()                                            // trim_blocks
        }
        if stripTrailing {
            while let last = s.last, last.isWhitespace { s = s.dropLast() }
        } else if beforeStatement {
            // lstrip_blocks: spaces and tabs between the start of the line and the statement.
            var t = s
            while let last = t.last, last == " " || last == "\t" { t = t.dropLast() }
            if t.last == "\n" || t.last == "\r\n" || (t.isEmpty && atStart) { s = t }
        }
        return String(s)
    }
}

fileprivate extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
