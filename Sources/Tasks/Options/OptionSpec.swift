import Recipes

/// One option an architecture, data format, transform, hook or generator accepts: its name, type,
/// range and what it does. Entries declare their options, so a recipe is checked against them
/// before anything runs (an unknown key gets the nearest valid one suggested, a wrong type or an
/// out-of-range value names file, line and column), and `Options` reads them typed.
///
///     OptionSpec.integer("size", min: 1, help: "output side in pixels")
///     OptionSpec.choice("pooling", ["mean", "cls", "pooler"], help: "how the sentence vector is made")
public struct OptionSpec: Sendable {
    /// The type and range of an option's value.
    public enum Kind: Sendable {
        /// An integer in `min ... max` (nil: unbounded).
        case integer(min: Int?, max: Int?)
        /// A finite number; `exclusive` bounds are open.
        case number(min: Double?, max: Double?, minExclusive: Bool, maxExclusive: Bool, nonZero: Bool)
        /// A string, one of `choices` when given.
        case string(choices: [String]?)
        case boolean
        /// A path, relative to the recipe file that wrote it; it must exist when `mustExist`.
        case path(mustExist: Bool)
        /// A list of `count` numbers (any count when nil), each satisfying `element`'s bounds.
        case numbers(count: Int?, min: Double?, minExclusive: Bool, nonZero: Bool)
    }

    public var name: String
    public var kind: Kind
    /// What the option does, for listings and messages.
    public var help: String
    /// The value used when the option is absent, as text (nil: absent means "not set").
    public var defaultText: String?
    /// Whether the option must be given.
    public var required: Bool

    public init(name: String, kind: Kind, help: String, defaultText: String? = nil, required: Bool = false) {
        self.name = name
        self.kind = kind
        self.help = help
        self.defaultText = defaultText
        self.required = required
    }

    public static func integer(_ name: String, min: Int? = nil, max: Int? = nil, default value: Int? = nil,
                               required: Bool = false, help: String) -> OptionSpec {
        OptionSpec(name: name, kind: .integer(min: min, max: max), help: help, defaultText: value.map(String.init),
                   required: required)
    }

    /// A number; `above`/`below` are open bounds, `atLeast`/`atMost` closed ones.
    public static func number(_ name: String, above: Double? = nil, atLeast: Double? = nil, below: Double? = nil,
                              atMost: Double? = nil, nonZero: Bool = false, default value: Double? = nil,
                              help: String) -> OptionSpec {
        OptionSpec(name: name, kind: .number(min: above ?? atLeast, max: below ?? atMost, minExclusive: above != nil,
                                             maxExclusive: below != nil, nonZero: nonZero),
                   help: help, defaultText: value.map { "\($0)" })
    }

    public static func string(_ name: String, default value: String? = nil, required: Bool = false,
                              help: String) -> OptionSpec {
        OptionSpec(name: name, kind: .string(choices: nil), help: help, defaultText: value, required: required)
    }

    public static func choice(_ name: String, _ choices: [String], default value: String? = nil,
                              help: String) -> OptionSpec {
        OptionSpec(name: name, kind: .string(choices: choices), help: help, defaultText: value)
    }

    public static func boolean(_ name: String, default value: Bool? = nil, help: String) -> OptionSpec {
        OptionSpec(name: name, kind: .boolean, help: help, defaultText: value.map(String.init))
    }

    public static func path(_ name: String, mustExist: Bool = true, required: Bool = false, help: String) -> OptionSpec {
        OptionSpec(name: name, kind: .path(mustExist: mustExist), help: help, required: required)
    }

    /// A list of numbers, e.g. per-channel means; `above` is an open lower bound for each.
    public static func numbers(_ name: String, count: Int? = nil, above: Double? = nil, atLeast: Double? = nil,
                               nonZero: Bool = false, help: String) -> OptionSpec {
        OptionSpec(name: name, kind: .numbers(count: count, min: above ?? atLeast, minExclusive: above != nil,
                                              nonZero: nonZero), help: help)
    }

    /// Whether the value is a path (resolved against the recipe file that wrote it).
    public var isPath: Bool {
        if case .path = kind { return true }
        return false
    }

    /// The type as messages name it: "an integer ≥ 1", "one of mean, cls, pooler".
    public var expectation: String {
        switch kind {
        case let .integer(min, max):
            switch (min, max) {
            case let (lo?, hi?): return "an integer in \(lo)...\(hi)"
            case let (lo?, nil): return "an integer ≥ \(lo)"
            case let (nil, hi?): return "an integer ≤ \(hi)"
            default: return "an integer"
            }
        case let .number(min, max, minExclusive, maxExclusive, nonZero):
            var parts: [String] = []
            if let min { parts.append("\(minExclusive ? ">" : "≥") \(Self.format(min))") }
            if let max { parts.append("\(maxExclusive ? "<" : "≤") \(Self.format(max))") }
            if nonZero { parts.append("≠ 0") }
            return parts.isEmpty ? "a number" : "a number " + parts.joined(separator: " and ")
        case let .string(choices):
            return choices.map { "one of \($0.joined(separator: ", "))" } ?? "a string"
        case .boolean: return "true or false"
        case let .path(mustExist): return mustExist ? "the path of an existing file or directory" : "a path"
        case let .numbers(count, min, minExclusive, nonZero):
            var each: [String] = []
            if let min { each.append("\(minExclusive ? ">" : "≥") \(Self.format(min))") }
            if nonZero { each.append("≠ 0") }
            let what = count.map { "a list of \($0) numbers" } ?? "a list of numbers"
            return each.isEmpty ? what : "\(what), each \(each.joined(separator: " and "))"
        }
    }

    static func format(_ x: Double) -> String {
        x.rounded() == x && abs(x) < 1e15 ? String(Int(x)) : String(x)
    }
}
