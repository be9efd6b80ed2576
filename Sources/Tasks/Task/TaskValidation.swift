import Recipes

/// What a recipe is validated against for one task.
public struct TaskValidation {
    public var architectures: RecipeNames
    public var dataFormats: RecipeNames
    public var metrics: RecipeNames
    /// Checks of the keys the task owns and of the options given to the named entries.
    public var checks: [RecipeCheck]
    /// Recipe keys of options that are paths (`data.options.tokenizer`): the runner makes them
    /// absolute against the file that wrote them.
    public var pathOptions: [String]

    public init(architectures: RecipeNames = .any, dataFormats: RecipeNames = .any, metrics: RecipeNames = .any,
                checks: [RecipeCheck] = [], pathOptions: [String] = []) {
        self.pathOptions = pathOptions
        self.architectures = architectures
        self.dataFormats = dataFormats
        self.metrics = metrics
        self.checks = checks
    }
}
