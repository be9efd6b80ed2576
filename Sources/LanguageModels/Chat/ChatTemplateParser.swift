import Foundation

/// Recognises the ChatML family of chat templates (see `ChatTemplate`) in a Jinja source and
/// reads its string literals and message fields, refusing anything else with the reason.
enum ChatTemplateParser {
    struct Result {
        var defaultSystem: [ChatTemplate.Part]?
        var message: [ChatTemplate.Part]
        var generationPrompt: String?
    }

    struct Failure: Error { var reason: String }

    static func parse(_ source: String) throws -> Result {
        let pieces: [JinjaLexer.Piece]
        do { pieces = try JinjaLexer.pieces(source) } catch let error as JinjaLexer.LexError {
            throw Failure(reason: error.reason)
        }
        var cursor = pieces[...]
        func next(_ what: String) throws -> JinjaLexer.Piece {
            guard let piece = cursor.popFirst() else { throw Failure(reason: "the template ends where \(what) was expected") }
            if case let .text(text) = piece {
                throw Failure(reason: "text \(quoted(text)) outside tags, where \(what) was expected")
            }
            return piece
        }
        func statement(_ expected: String, _ what: String) throws {
            let piece = try next(what)
            guard case let .statement(body) = piece, normalise(body) == normalise(expected) else {
                throw Failure(reason: "found \(describe(piece)) where \(what) (\(quoted("{% \(expected) %}"))) was expected")
            }
        }
        func expression(_ what: String) throws -> [ChatTemplate.Part] {
            let piece = try next(what)
            guard case let .expression(body) = piece else {
                throw Failure(reason: "found \(describe(piece)) where \(what) ({{ … }}) was expected")
            }
            return try concatenation(body)
        }

        try statement("for message in messages", "the loop over messages")
        var defaultSystem: [ChatTemplate.Part]?
        if case let .statement(body)? = cursor.first, normalise(body).hasPrefix("if ") {
            try statement("if loop.first and messages[0]['role'] != 'system'", "the default system message's test")
            let parts = try expression("the default system message")
            guard parts.allSatisfy({ if case .literal = $0 { return true } else { return false } }) else {
                throw Failure(reason: "the default system message may only be string literals")
            }
            defaultSystem = parts
            try statement("endif", "the end of the default system message")
        }
        let message = try expression("the text of a message")
        try statement("endfor", "the end of the loop over messages")
        var generationPrompt: String?
        if !cursor.isEmpty {
            try statement("if add_generation_prompt", "the generation prompt's test")
            let parts = try expression("the generation prompt")
            generationPrompt = try parts.map { part -> String in
                guard case let .literal(s) = part else { throw Failure(reason: "the generation prompt may only be string literals") }
                return s
            }.joined()
            try statement("endif", "the end of the generation prompt")
        }
        if let extra = cursor.first {
            throw Failure(reason: "\(describe(extra)) after the end of the ChatML template")
        }
        return Result(defaultSystem: defaultSystem, message: message, generationPrompt: generationPrompt)
    }

    // MARK: - Expressions: operands joined by +

    /// `'a' + message['role'] + "b" + message.content …`
    static func concatenation(_ body: String) throws -> [ChatTemplate.Part] {
        var parts: [ChatTemplate.Part] = []
        var s = Substring(body)
        while true {
            s = s.drop { $0 == " " || $0 == "\t" || $0 == "\n" }
            if let quote = s.first, quote == "'" || quote == "\"" {
                let (literal, rest) = try stringLiteral(s)
                parts.append(.literal(literal))
                s = rest
            } else if let (field, rest) = messageField(s) {
                parts.append(field)
                s = rest
            } else {
                throw Failure(reason: "\(quoted(String(s.prefix(40)))) is neither a string nor message['role'] "
                              + "or message['content']")
            }
            s = s.drop { $0 == " " || $0 == "\t" || $0 == "\n" }
            if s.isEmpty { return parts }
            guard s.first == "+" else { throw Failure(reason: "expected + before \(quoted(String(s.prefix(40))))") }
            s = s.dropFirst()
        }
    }

    /// A Jinja (Python-style) string literal at the start of `s`, unescaped.
    private static func stringLiteral(_ s: Substring) throws -> (String, Substring) {
        let quote = s.first!
        var result = ""
        var i = s.index(after: s.startIndex)
        while i < s.endIndex {
            let c = s[i]
            if c == quote { return (result, s[s.index(after: i)...]) }
            if c == "\\" {
                i = s.index(after: i)
                guard i < s.endIndex else { break }
                switch s[i] {
                case "n": result.append("\n")
                case "t": result.append("\t")
                case "r": result.append("\r")
                case "\\": result.append("\\")
                case "'": result.append("'")
                case "\"": result.append("\"")
                default: throw Failure(reason: "the escape \\\(s[i]) in a string is not supported")
                }
            } else {
                result.append(c)
            }
            i = s.index(after: i)
        }
        throw Failure(reason: "a string is not closed")
    }

    /// `message['role']`, `message["content"]`, `message.role` … at the start of `s`.
    private static func messageField(_ s: Substring) -> (ChatTemplate.Part, Substring)? {
        for (field, part) in [("role", ChatTemplate.Part.role), ("content", .content)] {
            for spelling in ["message['\(field)']", "message[\"\(field)\"]", "message.\(field)"] where s.hasPrefix(spelling) {
                let rest = s.dropFirst(spelling.count)
                // `message.role` must not continue into a longer name (`message.roles`).
                if let c = rest.first, c.isLetter || c.isNumber || c == "_" { continue }
                return (part, rest)
            }
        }
        return nil
    }

    // MARK: - Helpers

    /// A statement as tokens (names, numbers, strings in single quotes, operators) joined by single
    /// spaces, so that spacing and quote style do not matter: `messages[0]["role"]!="system"` and
    /// `messages[0]['role'] != 'system'` both become `messages [ 0 ] [ 'role' ] != 'system'`.
    static func normalise(_ body: String) -> String {
        var tokens: [String] = []
        var s = Substring(body)
        while let c = s.first {
            if c.isWhitespace {
                s = s.dropFirst()
            } else if c.isLetter || c.isNumber || c == "_" || c == "." {
                let word = s.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }
                tokens.append(String(word))
                s = s.dropFirst(word.count)
            } else if c == "'" || c == "\"" {
                if let (literal, rest) = try? stringLiteral(s) {
                    tokens.append("'" + literal + "'")
                    s = rest
                } else {
                    tokens.append(String(s))
                    s = s.dropFirst(s.count)
                }
            } else if ["!=", "==", "<=", ">="].contains(String(s.prefix(2))) {
                tokens.append(String(s.prefix(2)))
                s = s.dropFirst(2)
            } else {
                tokens.append(String(c))
                s = s.dropFirst()
            }
        }
        return tokens.joined(separator: " ")
    }

    private static func describe(_ piece: JinjaLexer.Piece) -> String {
        switch piece {
        case let .text(t): return "text \(quoted(t))"
        case let .expression(e): return quoted("{{ \(e) }}")
        case let .statement(s): return quoted("{% \(s) %}")
        }
    }

    private static func quoted(_ s: String) -> String {
        let short = s.count > 60 ? String(s.prefix(57)) + "…" : s
        return "\"" + short.replacingOccurrences(of: "\n", with: "\\n") + "\""
    }
}

// MARK: - JinjaLexer

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
