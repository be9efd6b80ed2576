
/// An error in how the command was used or in the recipe it was given (exit code 2).
public struct UsageError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
