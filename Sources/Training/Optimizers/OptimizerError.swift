/// Errors of optimizer construction and of restoring an optimizer's checkpointed state.
public enum OptimizerError: Error, Equatable, CustomStringConvertible {
    /// A hyperparameter is outside its valid range (a negative learning rate, β ∉ [0, 1), …).
    case invalidSetting(name: String, value: Double, reason: String)
    /// No group holds any parameter.
    case noParameters
    /// Two groups share a name, so their state keys would collide.
    case duplicateGroup(name: String)
    /// A parameter (the same slot, or the same storage) appears twice, in these groups.
    case duplicateParameter(key: String, firstGroup: String, secondGroup: String)
    /// A key pattern of a group rule matches no parameter (most likely a typo).
    case patternMatchesNothing(group: String, pattern: String)
    /// The state holds a key that belongs to no parameter of this optimizer (another model, another
    /// optimizer kind, or renamed groups).
    case unexpectedStateKey(String)
    /// The state holds part of a parameter's entries but not this one.
    case missingStateKey(String)
    /// A state tensor's shape differs from its parameter's.
    case stateShapeMismatch(key: String, expected: [Int], found: [Int])
    /// A state scalar is not a valid value (a step count that is negative or not an integer).
    case invalidStateValue(key: String, value: Double)

    public var description: String {
        switch self {
        case let .invalidSetting(name, value, reason):
            return "optimizer setting \(name) = \(value) is invalid: \(reason)"
        case .noParameters:
            return "the optimizer has no parameters (is anything trainable?)"
        case let .duplicateGroup(name):
            return "two parameter groups are named '\(name)'"
        case let .duplicateParameter(key, first, second):
            return "parameter '\(key)' appears in group '\(first)' and again in group '\(second)'"
        case let .patternMatchesNothing(group, pattern):
            return "pattern '\(pattern)' of parameter group '\(group)' matches no trainable parameter"
        case let .unexpectedStateKey(key):
            return "optimizer state key '\(key)' belongs to no parameter of this optimizer"
        case let .missingStateKey(key):
            return "optimizer state lacks '\(key)'"
        case let .stateShapeMismatch(key, expected, found):
            return "optimizer state '\(key)' has shape \(found), its parameter has shape \(expected)"
        case let .invalidStateValue(key, value):
            return "optimizer state '\(key)' = \(value) is not a valid value"
        }
    }
}
