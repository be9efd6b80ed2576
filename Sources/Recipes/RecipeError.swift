/// An error in a recipe: its text, its keys, its values or the files it names.
///
/// Every case carries the dotted key (`lora.rank`, `data.transforms[0].name`) and the location a
/// user must edit; `description` reads like a compiler diagnostic:
///
///     recipes/x.yaml:12:5: lora.rnak: unknown key (did you mean "rank"?)
///     recipes/x.yaml:7:9: lora.rank: expected an integer, found the string "eight"
///     override 'train.epochs=two': train.epochs: expected an integer, found the string "two"
///     recipes/x.yaml:3:1: model.architecture: missing required key
public enum RecipeError: Error, Equatable, CustomStringConvertible {
    /// A file could not be read: the recipe itself (`location` nil) or a file named by `extends`.
    case unreadableFile(path: String, reason: String, location: SourceLocation?)
    /// The text is not YAML, or is YAML a recipe cannot be (duplicate keys, a non-string key).
    case syntax(location: SourceLocation, message: String)
    /// A key the schema does not have; `suggestion` is the nearest valid key, `validKeys` all of them.
    case unknownKey(key: String, location: SourceLocation, suggestion: String?, validKeys: [String])
    /// A value of the wrong kind: `expected` and `found` are phrases (`an integer`, `the string "x"`).
    case typeMismatch(key: String, location: SourceLocation, expected: String, found: String)
    /// A required key is absent; `location` is the section that should hold it, `reason` says why
    /// when the key is required only in some cases.
    case missingKey(key: String, location: SourceLocation, reason: String? = nil)
    /// A value of the right kind that is not allowed (`rank` 0, an unknown metric, `init: kaimin`).
    case invalidValue(key: String, location: SourceLocation, message: String, suggestion: String?)
    /// A file or directory named by `key` does not exist; `path` is the resolved path and
    /// `expected` says what should be there (`file`, `directory`, `file or directory`).
    case missingFile(key: String, location: SourceLocation, path: String, expected: String)
    /// `extends` goes round in a circle; `files` is the chain, ending with the repeated file.
    case extendsCycle(files: [String], location: SourceLocation)
    /// A command-line override that is not `dotted.key=value`, or cannot be applied.
    case invalidOverride(String, reason: String)
    /// Several errors, from validation, in the order of the recipe's keys.
    case several([RecipeError])

    /// The dotted key the error is about, if any.
    public var key: String? {
        switch self {
        case let .unknownKey(key, _, _, _), let .typeMismatch(key, _, _, _), let .missingKey(key, _, _),
             let .invalidValue(key, _, _, _), let .missingFile(key, _, _, _):
            return key
        case .extendsCycle: return "extends"
        case .unreadableFile, .syntax, .invalidOverride, .several: return nil
        }
    }

    /// Where to look, if known.
    public var location: SourceLocation? {
        switch self {
        case let .unknownKey(_, location, _, _), let .typeMismatch(_, location, _, _), let .missingKey(_, location, _),
             let .invalidValue(_, location, _, _), let .missingFile(_, location, _, _), let .extendsCycle(_, location),
             let .syntax(location, _):
            return location
        case let .unreadableFile(_, _, location): return location
        case let .invalidOverride(text, _): return .override(text)
        case .several: return nil
        }
    }

    /// The nearest valid key or name, if one is close.
    public var suggestion: String? {
        switch self {
        case let .unknownKey(_, _, suggestion, _), let .invalidValue(_, _, _, suggestion): return suggestion
        default: return nil
        }
    }

    /// The errors this one stands for: itself, or the members of `.several`.
    public var all: [RecipeError] {
        if case let .several(errors) = self { return errors.flatMap(\.all) }
        return [self]
    }

    public var description: String {
        switch self {
        case let .unreadableFile(path, reason, location):
            if let location { return "\(location): extends: cannot read \(path): \(reason)" }
            return "\(path): cannot read recipe: \(reason)"
        case let .syntax(location, message):
            return "\(location): invalid YAML: \(message)"
        case let .unknownKey(key, location, suggestion, validKeys):
            if let suggestion { return "\(location): \(key): unknown key (did you mean \"\(suggestion)\"?)" }
            if validKeys.isEmpty { return "\(location): \(key): unknown key" }
            return "\(location): \(key): unknown key (valid keys: \(validKeys.joined(separator: ", ")))"
        case let .typeMismatch(key, location, expected, found):
            return "\(location): \(key): expected \(expected), found \(found)"
        case let .missingKey(key, location, reason):
            return "\(location): \(key): missing required key" + (reason.map { " (\($0))" } ?? "")
        case let .invalidValue(key, location, message, suggestion):
            return "\(location): \(key): \(message)" + (suggestion.map { " (did you mean \"\($0)\"?)" } ?? "")
        case let .missingFile(key, location, path, expected):
            return "\(location): \(key): no such \(expected): \(path)"
        case let .extendsCycle(files, location):
            return "\(location): extends: cycle: \(files.joined(separator: " -> "))"
        case let .invalidOverride(text, reason):
            return "override '\(text)': \(reason)"
        case let .several(errors):
            return errors.map(\.description).joined(separator: "\n")
        }
    }
}
