import Foundation
import NN

/// Matches layer keys against target and exclude patterns: an exact key, a `.suffix` (a bare
/// name such as `query` matches any key ending in `.query`), a glob with `*`/`?`, or a regular
/// expression written `re:…` that must match the whole key (PEFT's string form).
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

    public static func matches(pattern: String, key: String) -> Bool {
        if pattern.hasPrefix("re:") {
            let body = String(pattern.dropFirst(3))
            guard let re = try? NSRegularExpression(pattern: "^(?:\(body))$") else { return false }
            return re.firstMatch(in: key, range: NSRange(key.startIndex..., in: key)) != nil
        }
        if pattern.contains("*") || pattern.contains("?") { return KeyPattern.glob(Array(pattern), Array(key)) }
        return key == pattern || key.hasSuffix("." + pattern)
    }

    /// Checks that every regex pattern compiles.
    public func validate() throws {
        for p in targets + excludes where p.hasPrefix("re:") {
            if (try? NSRegularExpression(pattern: String(p.dropFirst(3)))) == nil {
                throw LoRAError.invalidConfig("target pattern '\(p)' is not a valid regular expression")
            }
        }
    }
}
