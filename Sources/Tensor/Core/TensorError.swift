/// Errors from the tensor engine's throwing API (creation from user data, conversions, files).
///
/// Shape errors inside model code are programmer errors and stop with a `precondition` whose
/// message names both shapes; anything that comes from user input throws one of these instead.
public enum TensorError: Error, Equatable, CustomStringConvertible {
    /// The number of values does not match the product of the shape.
    case countMismatch(shape: [Int], expected: Int, got: Int)
    /// Two shapes that must agree (or broadcast) do not.
    case shapeMismatch(operation: String, lhs: [Int], rhs: [Int])
    /// A shape has a negative dimension or cannot be reshaped.
    case invalidShape(operation: String, shape: [Int], reason: String)
    /// An index lies outside its dimension.
    case indexOutOfRange(operation: String, index: Int, bound: Int)
    /// The operation needs another element type.
    case unsupportedDType(operation: String, dtype: DType)
    /// A kernel library call failed.
    case backend(operation: String, status: String)

    public var description: String {
        switch self {
        case let .countMismatch(shape, expected, got):
            return "shape \(shape) needs \(expected) values, got \(got)"
        case let .shapeMismatch(op, lhs, rhs):
            return "\(op): shapes \(lhs) and \(rhs) do not match"
        case let .invalidShape(op, shape, reason):
            return "\(op): invalid shape \(shape): \(reason)"
        case let .indexOutOfRange(op, index, bound):
            return "\(op): index \(index) is out of range 0..<\(bound)"
        case let .unsupportedDType(op, dtype):
            return "\(op): element type \(dtype.rawValue) is not supported"
        case let .backend(op, status):
            return "\(op): oneDNN failed with \(status)"
        }
    }
}
