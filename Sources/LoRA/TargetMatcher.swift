import Foundation
import NN

/// Matches layer keys (dotted paths such as `layer1.0.conv1`) against target and exclude
/// patterns. A pattern is one of:
///
/// - **an exact key or a `.suffix` name** (no `*`, `?` or `re:`): matches the key itself and any
///   key ending in `.` + pattern, so `conv1` matches `conv1` and `layer1.0.conv1`, and
///   `0.conv1` matches `layer1.0.conv1`, but `onv1` matches nothing. This is PEFT's reading of
///   a list of target names.
/// - **a glob** (contains `*` or `?`): matched against the whole key; `*` matches any run of
///   characters *including dots* (as Python's `fnmatch`), `?` exactly one character. So
///   `layer*.conv1` matches `layer1.0.conv1`, and `layer*.*.conv*` matches `layer1.0.conv2`.
/// - **a regular expression** written `re:…`: must match the whole key (PEFT's string form,
///   `re.fullmatch`), e.g. `re:layer[34]\.\d+\.conv1`.
///
/// Excludes are checked first: an excluded key is never a target. Matching is pure; resolving
/// patterns against a model's keys (`select(from:)`) also insists that every target pattern
/// matches something, so a typo is an error rather than an adapter on fewer layers.
public struct TargetMatcher {
    public let targets: [String]
    public let excludes: [String]

    public init(targets: [String], excludes: [String] = []) {
        self.targets = targets
        self.excludes = excludes
    }

    /// Whether `key` is excluded or, if not, matched by some target.
    public func matches(_ key: String) -> Bool {
        if excludes.contains(where: { TargetMatcher.matches(pattern: $0, key: key) }) { return false }
        return targets.contains { TargetMatcher.matches(pattern: $0, key: key) }
    }

    /// The keys among `keys` that `matches` accepts, in their order.
    /// - Throws: `LoRAError.targetMatchedNothing` naming the first target pattern that matches
    ///   none of `keys` (excludes aside), with `keys` as the candidates.
    public func select(from keys: [String]) throws -> [String] {
        for pattern in targets where !keys.contains(where: { TargetMatcher.matches(pattern: pattern, key: $0) }) {
            throw LoRAError.targetMatchedNothing(pattern: pattern, candidates: keys)
        }
        return keys.filter(matches)
    }

    /// Whether one pattern matches `key` (see the type's documentation for the forms).
    public static func matches(pattern: String, key: String) -> Bool {
        switch Form(pattern) {
        case let .regex(body):
            guard let re = try? NSRegularExpression(pattern: "^(?:\(body))$") else { return false }
            return re.firstMatch(in: key, range: NSRange(key.startIndex..., in: key)) != nil
        case .glob:
            return KeyPattern.glob(Array(pattern), Array(key))
        case .name:
            return key == pattern || key.hasSuffix("." + pattern)
        }
    }

    /// The three forms a pattern can take.
    enum Form: Equatable {
        /// An exact key or `.suffix` name.
        case name
        /// A glob with `*` / `?`.
        case glob
        /// A full-match regular expression (the text after `re:`).
        case regex(String)

        init(_ pattern: String) {
            if pattern.hasPrefix("re:") { self = .regex(String(pattern.dropFirst(3))) }
            else if pattern.contains("*") || pattern.contains("?") { self = .glob }
            else { self = .name }
        }
    }

    /// Whether `pattern` is an exact key or `.suffix` name, the one form PEFT reads the same way in
    /// a list of target modules.
    public static func isName(_ pattern: String) -> Bool { Form(pattern) == .name }

    /// Checks that every regex pattern compiles.
    public func validate() throws {
        for p in targets + excludes {
            guard case let .regex(body) = Form(p) else { continue }
            if (try? NSRegularExpression(pattern: body)) == nil {
                throw LoRAError.invalidConfig("target pattern '\(p)' is not a valid regular expression")
            }
        }
    }
}
