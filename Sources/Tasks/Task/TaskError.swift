/// Errors of tasks and sessions, each naming the recipe key, the architecture or the shapes
/// involved.
public enum TaskError: Error, CustomStringConvertible, Equatable {
    /// A batch does not fit the model: `expected` says what the architecture reads.
    case inputMismatch(architecture: String, expected: String, got: String)
    /// The recipe has no file for a split a command needs.
    case missingSplit(role: DataRole, key: String)
    /// A setting the task needs is missing or wrong.
    case invalid(key: String, message: String)

    public var description: String {
        switch self {
        case let .inputMismatch(architecture, expected, got):
            return "\(architecture) reads \(expected), but the data gives \(got)"
        case let .missingSplit(role, key):
            return "no \(role.rawValue) data: set \(key)"
        case let .invalid(key, message):
            return "\(key): \(message)"
        }
    }
}
