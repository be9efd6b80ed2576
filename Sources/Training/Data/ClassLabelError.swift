/// Why the labels of a classification file could not be turned into class indices. Each case
/// about a record names the file and the line it starts on; datasets map these onto their own
/// error types.
public enum ClassLabelError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A label that cannot be read as the requested kind (an empty name, a negative or
    /// fractional number, a name where integers were asked for, names mixed with numbers).
    case invalidLabel(path: String, line: Int, value: String, reason: String)
    /// An integer label outside `0 ..< classCount` of the explicit class names.
    case labelOutOfRange(path: String, line: Int, label: Int, classCount: Int)
    /// A label name that is not one of the explicit class names.
    case unknownLabel(path: String, line: Int, label: String, classNames: [String])
    /// The explicit class names are empty, or one is empty, or one repeats.
    case invalidClassNames(reason: String)

    public var description: String {
        switch self {
        case let .invalidLabel(path, line, value, reason):
            return "\(path):\(line): label '\(value)': \(reason)"
        case let .labelOutOfRange(path, line, label, classCount):
            return "\(path):\(line): label \(label) is outside the \(classCount) classes 0 ..< \(classCount)"
        case let .unknownLabel(path, line, label, classNames):
            return "\(path):\(line): label '\(label)' is not one of the class names "
                + classNames.map { "'\($0)'" }.joined(separator: ", ")
        case let .invalidClassNames(reason):
            return "invalid class names: \(reason)"
        }
    }
}
