import Recipes

/// A transform a data format accepts: its name, options and checks, for validation. How it is
/// built is the modality's business (an image transform, an audio augmentation).
public struct TransformDefinition: Sendable {
    public var name: String
    public var summary: String
    public var options: [OptionSpec]
    /// Checks across options and against the rest of the recipe (`resize` takes `size` or
    /// `shorter_side`, not both; a size defaults to `model.input_size`, which must then be set).
    public var check: @Sendable (Options, Recipe) -> [RecipeProblem]

    public init(name: String, summary: String, options: [OptionSpec],
                check: @escaping @Sendable (Options, Recipe) -> [RecipeProblem] = { _, _ in [] }) {
        self.name = name
        self.summary = summary
        self.options = options
        self.check = check
    }
}
