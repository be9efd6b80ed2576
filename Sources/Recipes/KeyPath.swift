/// Dotted key paths (`lora.rank`, `data.transforms[0].size`), as errors, `flattened()` and
/// overrides spell them. A user-chosen key that a plain component could not carry (one with `.`,
/// `[`, `]`, `"`, `=`, whitespace, or only digits) is double-quoted with `\"` and `\\` escaped:
/// `lora.rank_pattern."layer4\\..*"`.
public enum KeyPath {
    /// `path.component`, quoting the component if needed.
    public static func appending(_ component: String, to path: String) -> String {
        let written = quoted(component)
        return path.isEmpty ? written : "\(path).\(written)"
    }

    static func quoted(_ component: String) -> String {
        let needsQuotes = component.isEmpty || component.allSatisfy(\.isNumber)
            || component.contains { ".[]\"=\\".contains($0) || $0.isWhitespace }
        guard needsQuotes else { return component }
        return "\"" + component.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// The index of the first `=` outside double quotes.
    static func firstEquals(in text: String) -> String.Index? {
        var inQuotes = false, escaped = false
        for i in text.indices {
            let c = text[i]
            if escaped { escaped = false; continue }
            if inQuotes && c == "\\" { escaped = true; continue }
            if c == "\"" { inQuotes.toggle(); continue }
            if c == "=" && !inQuotes { return i }
        }
        return nil
    }

    enum ParseError: Error {
        case emptyPart, malformedIndex, unterminatedQuote
    }

    /// Splits a key path into keys and indices; a component of only digits after the first is an
    /// index (`transforms.0.size`).
    static func parse(_ key: String) throws -> [RecipeOverride.Component] {
        var result: [RecipeOverride.Component] = []
        var chars = Array(key)[...]
        var expectComponent = true
        while !chars.isEmpty || expectComponent {
            if expectComponent {
                if chars.first == "\"" {
                    chars = chars.dropFirst()
                    var name = ""
                    var closed = false
                    while let c = chars.popFirst() {
                        if c == "\\", let next = chars.popFirst() { name.append(next); continue }
                        if c == "\"" { closed = true; break }
                        name.append(c)
                    }
                    guard closed else { throw ParseError.unterminatedQuote }
                    result.append(.key(name))
                } else {
                    let name = String(chars.prefix { $0 != "." && $0 != "[" })
                    chars = chars.dropFirst(name.count)
                    if name.isEmpty {
                        guard chars.first == "[", !result.isEmpty else { throw ParseError.emptyPart }
                    } else if !result.isEmpty, name.allSatisfy(\.isNumber), let i = Int(name) {
                        result.append(.index(i))
                    } else {
                        result.append(.key(name))
                    }
                }
                expectComponent = false
            }
            guard let c = chars.first else { break }
            if c == "[" {
                chars = chars.dropFirst()
                let digits = String(chars.prefix { $0 != "]" })
                chars = chars.dropFirst(digits.count)
                guard chars.popFirst() == "]", !digits.isEmpty, digits.allSatisfy(\.isNumber), let i = Int(digits) else {
                    throw ParseError.malformedIndex
                }
                result.append(.index(i))
            } else if c == "." {
                chars = chars.dropFirst()
                expectComponent = true
            } else {
                throw ParseError.emptyPart  // text after a quoted component
            }
        }
        return result
    }
}
