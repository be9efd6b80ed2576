import Foundation
import Recipes

/// What a task session is given: the recipe (and where each key was written), the registry, the
/// weights a command puts in place of the recipe's, and where to report progress.
public final class RunSetup {
    public let loaded: LoadedRecipe
    public let registry: Registry
    /// A complete trained model replacing the recipe's weights (`eval`/`predict --weights`).
    public let weightsOverride: URL?
    /// Messages for the user (skipped files, …); the command line prints them to standard error.
    public let log: (String) -> Void
    /// Whether this run trains a new model: files an earlier run left in the output directory
    /// (its class names) describe that run's model and must not decide this one's.
    public let training: Bool

    public init(loaded: LoadedRecipe, registry: Registry, weightsOverride: URL? = nil, training: Bool = false,
                log: @escaping (String) -> Void = { _ in }) {
        self.training = training
        self.loaded = loaded
        self.registry = registry
        self.weightsOverride = weightsOverride
        self.log = log
    }

    public var recipe: Recipe { loaded.recipe }

    /// Where `key` was written (file, line and column, or the override).
    public func location(of key: String) -> SourceLocation { loaded.location(of: key) }

    /// An error about `key`, located where the recipe wrote it.
    public func error(_ key: String, _ message: String) -> RecipeError {
        .invalidValue(key: key, location: location(of: key), message: message, suggestion: nil)
    }

    /// `model.options` read against `specs`.
    public func modelOptions(owner: String, specs: [OptionSpec]) -> Options {
        Options(recipe.model.options, owner: owner, keyPrefix: "model.options", specs: specs)
    }

    /// `data.options` read against `specs`.
    public func dataOptions(owner: String, specs: [OptionSpec]) -> Options {
        Options(recipe.data.options, owner: owner, keyPrefix: "data.options", specs: specs)
    }

    /// What a data format is asked for one split: the recipe's data section, the format's options
    /// and the transforms listed (read against `transforms`), the model's input size, and the
    /// weights the model is built from (a tokenizer may live beside them).
    /// - Parameter classNames: the classes (labels) decided so far, for evaluation splits.
    public func dataRequest(_ role: DataRole, path: URL?, formatOptions: [OptionSpec], transforms: [TransformDefinition],
                            classNames: [String]?) -> DataRequest {
        let d = recipe.data
        let requests = d.transforms.enumerated().map { i, t in
            TransformRequest(name: t.name, options: Options(t.parameters, owner: "transform \(t.name)", keyPrefix: "data.transforms[\(i)]",
                                                            specs: transforms.first { $0.name == t.name }?.options ?? []))
        }
        var weights: [URL] = []
        if let weightsOverride { weights.append(weightsOverride) }
        if let own = recipe.model.weights { weights.append(URL(fileURLWithPath: own)) }
        return DataRequest(format: d.format, role: role, path: path,
                           options: dataOptions(owner: "data format \(d.format)", specs: formatOptions),
                           transforms: requests, inputSize: recipe.model.inputSize, badFiles: d.badFiles,
                           imageDirectory: d.imageDirectory.map { URL(fileURLWithPath: $0) }, imageColumn: d.imageColumn,
                           labelColumn: d.labelColumn, textColumn: d.textColumn, modelWeights: weights, classNames: classNames,
                           seed: recipe.train.seed, registry: registry, log: log)
    }
}
