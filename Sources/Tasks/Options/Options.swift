import Foundation
import Recipes

/// Options as a recipe wrote them (`model.options`, `data.options`, a transform's parameters, a
/// hook's settings), read typed against the entry's `OptionSpec`s.
///
/// `problems()` lists everything wrong with them at once, for validation (file, line and column
/// come from the keys); the typed readers throw `RegistryError.invalidOption` naming the key, for
/// code that runs without validation first.
public struct Options: Sendable {
    /// The values, by option name.
    public let values: [String: RecipeValue]
    /// What the options belong to, e.g. `architecture bert`, `transform resize`.
    public let owner: String
    /// Where they are written in the recipe: `model.options`, `data.transforms[1]`.
    public let keyPrefix: String
    /// The options the owner accepts.
    public let specs: [OptionSpec]

    public init(_ values: [String: RecipeValue], owner: String, keyPrefix: String, specs: [OptionSpec]) {
        self.values = values
        self.owner = owner
        self.keyPrefix = keyPrefix
        self.specs = specs
    }

    /// The recipe key of option `name`.
    public func key(_ name: String) -> String { KeyPath.appending(name, to: keyPrefix) }

    // MARK: - Validation

    /// Unknown keys (with the nearest known one), missing required ones, wrong types and values out
    /// of range, in key order.
    public func problems() -> [RecipeProblem] {
        var list: [RecipeProblem] = []
        let known = specs.map(\.name)
        for name in values.keys.sorted() where !known.contains(name) {
            let accepted = known.isEmpty ? "it takes no options" : "known: \(known.joined(separator: ", "))"
            list.append(.invalid(key(name), "unknown option of \(owner) (\(accepted))",
                                 suggestion: Suggestion.nearest(to: name, in: known)))
        }
        for spec in specs {
            guard let value = values[spec.name] else {
                if spec.required { list.append(RecipeProblem(key: key(spec.name), kind: .missingKey(reason: "\(owner) needs it: \(spec.help)"))) }
                continue
            }
            if let problem = check(value, against: spec) { list.append(problem) }
        }
        return list
    }

    private func check(_ value: RecipeValue, against spec: OptionSpec) -> RecipeProblem? {
        let bad = RecipeProblem.invalid(key(spec.name), "expected \(spec.expectation), got \(value)")
        switch spec.kind {
        case let .integer(min, max):
            guard let v = value.int else { return bad }
            if let min, v < min { return bad }
            if let max, v > max { return bad }
        case let .number(min, max, minExclusive, maxExclusive, nonZero):
            guard let v = value.double, v.isFinite else { return bad }
            if let min, minExclusive ? v <= min : v < min { return bad }
            if let max, maxExclusive ? v >= max : v > max { return bad }
            if nonZero && v == 0 { return bad }
        case let .string(choices):
            guard let v = value.string ?? scalarText(value) else { return bad }
            if let choices, !choices.contains(v) {
                return .invalid(key(spec.name), "expected \(spec.expectation), got \(value)",
                                suggestion: Suggestion.nearest(to: v, in: choices))
            }
        case .boolean:
            guard value.bool != nil else { return bad }
        case let .path(mustExist):
            guard let v = value.string else { return bad }
            if mustExist && !FileManager.default.fileExists(atPath: v) {
                return RecipeProblem(key: key(spec.name), kind: .missingFile(path: v, expected: "file or directory"))
            }
        case let .numbers(count, min, minExclusive, nonZero):
            guard let items = value.list else { return bad }
            let numbers = items.compactMap(\.double)
            guard numbers.count == items.count, count.map({ $0 == numbers.count }) ?? true else { return bad }
            for v in numbers {
                if !v.isFinite { return bad }
                if let min, minExclusive ? v <= min : v < min { return bad }
                if nonZero && v == 0 { return bad }
            }
        }
        return nil
    }

    /// A scalar written without quotes that YAML typed as a number or boolean, as text (a string
    /// option given `128` reads "128").
    private func scalarText(_ value: RecipeValue) -> String? {
        switch value {
        case let .int(v): return String(v)
        case let .double(v): return String(v)
        case let .bool(v): return String(v)
        default: return nil
        }
    }

    // MARK: - Typed reading

    private func spec(_ name: String) -> OptionSpec? { specs.first { $0.name == name } }

    private func fail(_ name: String, _ value: RecipeValue) -> RegistryError {
        .invalidOption(key: key(name), reason: "expected \(spec(name)?.expectation ?? "another value"), got \(value)")
    }

    /// Validates the option against its spec (when it has one) before it is read.
    private func checked(_ name: String) throws -> RecipeValue? {
        guard let value = values[name] else { return nil }
        if let spec = spec(name), let problem = check(value, against: spec) {
            switch problem.kind {
            case let .invalid(message): throw RegistryError.invalidOption(key: problem.key, reason: message)
            case let .missingFile(path, expected): throw RegistryError.invalidOption(key: problem.key, reason: "no such \(expected): \(path)")
            case .missingKey: break
            }
        }
        return value
    }

    public func int(_ name: String) throws -> Int? {
        guard let value = try checked(name) else { return nil }
        guard let v = value.int else { throw fail(name, value) }
        return v
    }

    public func int(_ name: String, default fallback: Int) throws -> Int { try int(name) ?? fallback }

    public func double(_ name: String) throws -> Double? {
        guard let value = try checked(name) else { return nil }
        guard let v = value.double else { throw fail(name, value) }
        return v
    }

    public func double(_ name: String, default fallback: Double) throws -> Double { try double(name) ?? fallback }

    public func float(_ name: String, default fallback: Float) throws -> Float { Float(try double(name) ?? Double(fallback)) }

    public func string(_ name: String) throws -> String? {
        guard let value = try checked(name) else { return nil }
        guard let v = value.string ?? scalarText(value) else { throw fail(name, value) }
        return v
    }

    public func string(_ name: String, default fallback: String) throws -> String { try string(name) ?? fallback }

    public func bool(_ name: String, default fallback: Bool) throws -> Bool {
        guard let value = try checked(name) else { return fallback }
        guard let v = value.bool else { throw fail(name, value) }
        return v
    }

    /// A path option (already resolved against the recipe file by the runner).
    public func path(_ name: String) throws -> URL? {
        guard let value = try checked(name) else { return nil }
        guard let v = value.string else { throw fail(name, value) }
        return URL(fileURLWithPath: v)
    }

    public func numbers(_ name: String) throws -> [Double]? {
        guard let value = try checked(name) else { return nil }
        guard let items = value.list else { throw fail(name, value) }
        let numbers = items.compactMap(\.double)
        guard numbers.count == items.count else { throw fail(name, value) }
        return numbers
    }
}
