/// What a model reads and a data format yields, so that a recipe pairing a text format with an
/// image model is an error before anything runs. Modalities add their own (`.audio`).
public struct InputKind: Hashable, Sendable, CustomStringConvertible {
    public var name: String

    public init(_ name: String) { self.name = name }

    /// Images `[N, C, H, W]` (float).
    public static let image = InputKind("images")
    /// Token ids `[N, T]` (integer).
    public static let tokens = InputKind("token ids")

    public var description: String { name }
}
