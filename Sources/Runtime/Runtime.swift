/// Runtime: recipes run from Swift code — `RecipeRun` loads a recipe with its overrides and
/// plugins, validates it, trains, evaluates, predicts and merges; `Registry.standard` composes
/// the built-in modalities. The command line (`LoRAKitCLI`) only parses arguments and prints.
@_exported import Tasks
@_exported import Recipes
