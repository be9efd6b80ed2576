/// A free-form value: architecture-specific `model.options`, generator `data.options`, and the
/// parameters of a transform. The recipe does not know their meaning, only their YAML type.
///
/// A plain (unquoted) YAML scalar is an integer when it reads as one (`224`), a float when it
/// reads as a number (`0.5`, `1e-4`), a boolean for `true`/`false`, and a string otherwise;
/// quoted scalars are always strings (`"224"`).
public enum RecipeValue: Hashable, Sendable, CustomStringConvertible {
    case int(Int)
    case double(Double)
    case bool(Bool)
    case string(String)
    case list([RecipeValue])
    case map([String: RecipeValue])

    /// The value as an `Int`, if it is an integer (or a float with an integral value).
    public var int: Int? {
        switch self {
        case let .int(v): return v
        case let .double(v): return v.rounded() == v && abs(v) < 9e15 ? Int(v) : nil
        default: return nil
        }
    }

    /// The value as a `Double`, if it is a number.
    public var double: Double? {
        switch self {
        case let .int(v): return Double(v)
        case let .double(v): return v
        default: return nil
        }
    }

    /// The value as a `Bool`, if it is a boolean.
    public var bool: Bool? {
        if case let .bool(v) = self { return v }
        return nil
    }

    /// The value as a `String`, if it is a string.
    public var string: String? {
        if case let .string(v) = self { return v }
        return nil
    }

    /// The elements, if it is a list.
    public var list: [RecipeValue]? {
        if case let .list(v) = self { return v }
        return nil
    }

    /// The entries, if it is a map.
    public var map: [String: RecipeValue]? {
        if case let .map(v) = self { return v }
        return nil
    }

    /// The value in YAML flow syntax (`224`, `[0.5, 0.5]`, `{a: 1}`), as `yaml()` writes it.
    public var description: String { YAMLWriter.flow(YAMLWriter.Tree(self)) }
}

extension RecipeValue {
    /// The type a plain scalar reads as (see the type's documentation).
    static func resolvePlain(_ text: String) -> RecipeValue {
        if let int = Int(text) { return .int(int) }
        if ScalarSyntax.looksNumeric(text), let double = Double(text), double.isFinite { return .double(double) }
        switch text {
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        default: return .string(text)
        }
    }
}

/// How plain scalars read, shared by the decoder and the writer so that what `yaml()` writes
/// decodes to the same value.
enum ScalarSyntax {
    /// `null`, `~` and the empty plain scalar: the key counts as absent.
    static func isNull(_ text: String) -> Bool {
        ["", "~", "null", "Null", "NULL"].contains(text)
    }

    /// Digits, sign, point and exponent only: what a decimal number is made of (rules out
    /// `Double`'s `nan`, `inf` and hexadecimal forms).
    static func looksNumeric(_ text: String) -> Bool {
        !text.isEmpty && text.contains(where: \.isNumber)
            && text.allSatisfy { $0.isASCII && ($0.isNumber || "+-.eE".contains($0)) }
    }

    /// Words YAML 1.1 reads as booleans; a typed boolean key accepts them, and the writer
    /// quotes strings spelled like them.
    static let booleanWords: [String: Bool] = [
        "true": true, "false": false, "yes": true, "no": false, "on": true, "off": false,
    ]
}
