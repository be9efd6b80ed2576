/// Errors of running a recipe that are about how it was asked (exit code 2 on the command line):
/// what is missing or wrong, and what to do.
public struct RunError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
