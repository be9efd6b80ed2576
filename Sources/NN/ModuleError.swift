import Tensor

/// Errors from building, loading and changing modules; each names the key and shapes involved.
public enum ModuleError: Error, Equatable, CustomStringConvertible {
    /// Keys the module has that the state dict lacks.
    case missingKeys([String])
    /// Keys the state dict has that the module lacks.
    case unexpectedKeys([String])
    /// A tensor whose shape differs from the module's.
    case shapeMismatch(key: String, expected: [Int], got: [Int])
    /// A module cannot be replaced at this path.
    case cannotReplace(key: String, reason: String)
    /// A value is not finite where it must be (e.g. a merged weight).
    case nonFinite(key: String)
    /// A configuration value is invalid.
    case invalidConfiguration(String)

    public var description: String {
        switch self {
        case let .missingKeys(keys):
            return "missing keys: \(keys.prefix(10).joined(separator: ", "))\(keys.count > 10 ? " (and \(keys.count - 10) more)" : "")"
        case let .unexpectedKeys(keys):
            return "unexpected keys: \(keys.prefix(10).joined(separator: ", "))\(keys.count > 10 ? " (and \(keys.count - 10) more)" : "")"
        case let .shapeMismatch(key, expected, got):
            return "\(key): the model expects shape \(expected), the weights have \(got)"
        case let .cannotReplace(key, reason):
            return "cannot replace module \(key): \(reason)"
        case let .nonFinite(key):
            return "\(key): result is not finite"
        case let .invalidConfiguration(message):
            return message
        }
    }
}
