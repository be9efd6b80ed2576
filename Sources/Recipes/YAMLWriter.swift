/// Writes recipe trees as YAML that reads back to the same values: block mappings, flow lists of
/// scalars (`[a, b]`), block lists of mappings, and strings quoted whenever a plain scalar would
/// read as something else (a number, a boolean, null) or holds YAML syntax.
enum YAMLWriter {
    /// A value to write; scalars are already YAML text (quoted where needed).
    indirect enum Tree {
        case scalar(String)
        case list([Tree])
        case map([(String, Tree)])

        init(_ value: RecipeValue) {
            switch value {
            case let .int(v): self = .scalar(String(v))
            case let .double(v): self = .scalar(YAMLWriter.number(v))
            case let .bool(v): self = .scalar(v ? "true" : "false")
            case let .string(v): self = .scalar(YAMLWriter.string(v))
            case let .list(v): self = .list(v.map(Tree.init))
            case let .map(v): self = .map(v.keys.sorted().map { ($0, Tree(v[$0]!)) })
            }
        }

        /// Lists that contain a mapping are written as blocks; everything else fits on a line.
        var needsBlock: Bool {
            if case let .list(items) = self {
                return items.contains { if case .map = $0 { return true } else { return false } }
            }
            if case .map = self { return true }
            return false
        }
    }

    /// A number in the shortest form that reads back exactly (`0.0001`, `1e-08`, `8.0`).
    static func number(_ value: Double) -> String { "\(value)" }

    /// A string, plain when that reads back as the same string, else double-quoted.
    static func string(_ value: String) -> String {
        if isPlainSafe(value) { return value }
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                        + String(scalar.value, radix: 16)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// Letters, digits and `_ . / - + @`, not starting with `-` or `.`-only forms that YAML gives
    /// meaning, and not spelled like a number, boolean or null.
    private static func isPlainSafe(_ value: String) -> Bool {
        guard let first = value.unicodeScalars.first, first != "-", first != "+", first != "@" else { return false }
        guard value.unicodeScalars.allSatisfy({ $0.properties.isAlphabetic || ("0"..."9").contains($0) || "_./-+@".unicodeScalars.contains($0) })
        else { return false }
        guard case .string = RecipeValue.resolvePlain(value) else { return false }
        return !ScalarSyntax.isNull(value) && ScalarSyntax.booleanWords[value.lowercased()] == nil
    }

    /// The tree on one line, in flow syntax.
    static func flow(_ tree: Tree) -> String {
        switch tree {
        case let .scalar(text): return text
        case let .list(items): return "[" + items.map(flow).joined(separator: ", ") + "]"
        case let .map(entries): return "{" + entries.map { "\(string($0.0)): \(flow($0.1))" }.joined(separator: ", ") + "}"
        }
    }

    /// A document from a top-level mapping.
    static func document(_ entries: [(String, Tree)]) -> String {
        var lines: [String] = []
        block(entries, indent: "", into: &lines)
        return lines.joined(separator: "\n") + "\n"
    }

    private static func block(_ entries: [(String, Tree)], indent: String, into lines: inout [String]) {
        for (key, value) in entries {
            let head = indent + string(key) + ":"
            switch value {
            case let .map(children) where !children.isEmpty:
                lines.append(head)
                block(children, indent: indent + "  ", into: &lines)
            case let .list(items) where value.needsBlock:
                lines.append(head)
                for item in items {
                    if case let .map(children) = item, !children.isEmpty {
                        var itemLines: [String] = []
                        block(children, indent: indent + "    ", into: &itemLines)
                        // `- ` takes the place of the first entry's indentation.
                        itemLines[0] = indent + "  - " + itemLines[0].dropFirst(indent.count + 4)
                        lines += itemLines
                    } else {
                        lines.append(indent + "  - " + flow(item))
                    }
                }
            default:
                lines.append(head + " " + flow(value))
            }
        }
    }

    /// Every leaf as `dotted.key → value`: mappings nest with `.`, lists of mappings with `[i]`,
    /// other lists are one leaf in flow syntax; empty mappings have no leaves.
    static func flatten(_ tree: Tree, prefix: String, into result: inout [String: String]) {
        switch tree {
        case let .map(entries):
            for (key, value) in entries { flatten(value, prefix: KeyPath.appending(key, to: prefix), into: &result) }
        case let .list(items) where tree.needsBlock:
            for (i, item) in items.enumerated() { flatten(item, prefix: "\(prefix)[\(i)]", into: &result) }
        default:
            result[prefix] = flow(tree)
        }
    }
}
