import Foundation
import LoRA
import NN
import Recipes
import SafeTensors
import Tensor
import Training

/// A recipe made ready to run: loaded (with `extends` and overrides), its plugins registered,
/// validated against the registry and the model it builds, with everything the commands need.
final class RecipeRun {
    let loaded: LoadedRecipe
    let recipe: Recipe
    let registry: Registry
    var output: URL { URL(fileURLWithPath: recipe.outputDirectory) }

    /// - Throws: `RecipeError`s (exit 2) naming file, line and key; registry errors for plugins.
    init(path: String, overrides: [String], plugins: [LoRAKitPlugin.Type]) throws {
        loaded = try RecipeLoader().load(path: path, overrides: overrides)
        recipe = loaded.recipe
        var registry = try Registry.builtIn(plugins: plugins)
        do { try registry.load(plugins: recipe.plugins) } catch {
            throw UsageError("\(loaded.location(of: "plugins")): \(error)")
        }
        self.registry = registry
    }

    /// Names the registry knows, for validation.
    var context: RecipeContext {
        RecipeContext(tasks: RecipeNames(["image_classification", "text_classification", "classification"]),
                      architectures: RecipeNames(registry.architectures.keys),
                      dataFormats: RecipeNames(registry.datasets.keys),
                      transforms: RecipeNames(registry.transformNames),
                      metrics: RecipeNames(registry.metrics.names,
                                           families: [RecipeNames.Family("top<k>_accuracy") { self.registry.metrics.contains($0) }]),
                      plugins: RecipeNames(registry.availablePlugins.keys))
    }

    /// Checks the recipe, including that every LoRA target matches a layer of the built model.
    /// - Parameter unused: keys whose files the command does not read (predict reads no data
    ///   split, nor the recipe's weights under `--weights`); their absence is not an error.
    func validate(ignoringMissingFilesOf unused: Set<String> = []) throws {
        let errors = loaded.recipe.problems(in: context, modelCheck: modelCheck).filter { problem in
            if case .missingFile = problem.kind, unused.contains(problem.key) { return false }
            return true
        }.map(loaded.error(for:))
        if errors.count == 1 { throw errors[0] }
        if errors.count > 1 { throw RecipeError.several(errors) }
    }

    /// Whether every LoRA target matches a layer of the built model.
    private func modelCheck(_ recipe: Recipe) -> [RecipeProblem] {
        do {
            guard let lora = recipe.lora, recipe.train.mode == .lora else { return [] }
            // Classes counted from training data that is missing (an error reported already): the
            // targets do not depend on the head's size, so any count checks them.
            let uncounted = recipe.model.classes == nil && recipe.model.classNames == nil
                && recipe.data.train.map { !FileManager.default.fileExists(atPath: $0) } == true
            let built = try buildBareModel(classes: uncounted ? 2 : nil)
            _ = try LoRAModel(wrapping: built.module).dryRun(lora)
            return []
        } catch let error as LoRAError {
            return [.invalid("lora.target_modules", "\(error)")]
        } catch {
            return [.invalid("model.architecture", "\(error)")]
        }
    }

    // MARK: - Model

    /// Classes of the head: the recipe's, else the training data's class names.
    var classCount: Int {
        get throws {
            if let c = recipe.model.classes { return c }
            if let names = recipe.model.classNames { return names.count }
            let names: [String]?
            do { names = try dataset(.train).classNames } catch {
                throw UsageError("\(loaded.location(of: "model")): model.classes is not set and the training data cannot count the classes: \(error)")
            }
            if let names { return names.count }
            throw UsageError("\(loaded.location(of: "model")): model.classes is needed (the data does not name its classes)")
        }
    }

    var classNames: [String]? {
        recipe.model.classNames ?? (try? dataset(.train))?.classNames
    }

    /// - Parameter classes: the head's size; nil: `classCount`.
    func modelRequest(classes: Int? = nil) throws -> ModelRequest {
        var request = ModelRequest(architecture: recipe.model.architecture, classes: try classes ?? classCount,
                                   inputSize: recipe.model.inputSize, options: recipe.model.options.mapValues(Self.text),
                                   seed: recipe.train.seed)
        request.weights = recipe.model.weights.map { URL(fileURLWithPath: $0) }
        request.newHead = recipe.model.head == .new
        return request
    }

    /// The architecture with fresh weights (`classes`: the head's size; nil: `classCount`).
    func buildBareModel(classes: Int? = nil) throws -> BuiltModel {
        try registry.architecture(recipe.model.architecture)(try modelRequest(classes: classes))
    }

    /// The model with its pretrained weights: the recipe's (the head replaced if the recipe asks for
    /// a new one), or `override` — a complete trained model, head included, loaded strictly.
    func buildModel(weights override: String? = nil) throws -> BuiltModel {
        let built = try buildBareModel()
        if let override {
            do { try built.module.loadSafeTensors(path: override) } catch { throw UsageError("\(override): \(error)") }
            return built
        }
        if let path = recipe.model.weights, !built.loadedWeights {
            var values: [String: Tensor]
            do { values = try SafeTensorsFile(path: path).tensors() } catch {
                throw UsageError("\(loaded.location(of: "model.weights")): model.weights: \(error)")
            }
            let head = built.headKey + "."
            if recipe.model.head == .new { values = values.filter { !$0.key.hasPrefix(head) } }
            do {
                if recipe.model.head == .new {
                    let expected = Set(built.module.stateDict().keys.filter { !$0.hasPrefix(head) })
                    let missing = expected.subtracting(values.keys).sorted()
                    guard missing.isEmpty else { throw ModuleError.missingKeys(missing) }
                    let unexpected = Set(values.keys).subtracting(expected).sorted()
                    guard unexpected.isEmpty else { throw ModuleError.unexpectedKeys(unexpected) }
                    try built.module.load(values, strict: false)
                } else {
                    try built.module.load(values, strict: true)
                }
            } catch {
                throw UsageError("\(path): \(error)")
            }
        }
        return built
    }

    /// Sets which parameters train for the recipe's mode; returns the LoRA wrapper in LoRA mode.
    func prepareForTraining(_ built: BuiltModel) throws -> LoRAModel? {
        let model = built.module
        switch recipe.train.mode {
        case .full:
            model.unfreeze()
            return nil
        case .linearProbe:
            model.freeze()
            model.unfreeze(keys: [built.headKey + "."])
            return nil
        case .lora:
            guard let settings = recipe.lora else { throw UsageError("train.mode lora needs a lora section") }
            var config = settings
            if recipe.model.head == .new && !config.modulesToSave.contains(built.headKey) {
                config.modulesToSave.append(built.headKey)
            }
            let lora = LoRAModel(wrapping: model)
            var rng = RandomGenerator(seed: recipe.train.seed &+ 17)
            try lora.addAdapter("default", config: config, generator: &rng)
            return lora
        }
    }

    // MARK: - Data

    func dataRequest(_ role: DataRole) -> DataRequest {
        let d = recipe.data
        let path: String? = role == .train ? d.train : role == .validation ? d.validation : d.test
        var request = DataRequest(format: d.format, role: role, path: path.map { URL(fileURLWithPath: $0) },
                                  options: d.options.mapValues(Self.text), inputSize: recipe.model.inputSize,
                                  seed: recipe.train.seed)
        request.transforms = d.transforms.map { ($0.name, $0.parameters.mapValues(Self.text)) }
        request.badFiles = d.badFiles.rawValue
        request.imageDirectory = d.imageDirectory.map { URL(fileURLWithPath: $0) }
        request.imageColumn = d.imageColumn
        request.labelColumn = d.labelColumn
        request.textColumn = d.textColumn
        request.modelWeights = recipe.model.weights.map { URL(fileURLWithPath: $0) }
        return request
    }

    private var cache: [DataRole: AnyClassificationDataset] = [:]

    /// The dataset of a role; without a validation path, a stratified split of the training data
    /// by `data.validation_fraction`.
    func dataset(_ role: DataRole) throws -> AnyClassificationDataset {
        if let d = cache[role] { return d }
        let d = recipe.data
        let result: AnyClassificationDataset
        if role != .test, d.validation == nil, let fraction = d.validationFraction, d.train != nil {
            let full = try registry.dataset(d.format)(dataRequest(.train))
            guard let labels = full.labels else {
                throw UsageError("data.validation_fraction needs a format that knows its labels (\(d.format) does not)")
            }
            let split = try DatasetSplit.trainValidation(labels: labels, validationFraction: fraction, seed: recipe.train.seed)
            let indices = role == .train ? split.train : split.validation
            result = AnyClassificationDataset(try Subset(full, indices: indices), classNames: full.classNames,
                                              labels: indices.map { labels[$0] }, collate: full.collate,
                                              lengths: full.lengths.map { all in indices.map { all[$0] } })
        } else {
            var request = dataRequest(role)
            if role != .train {
                request.classNames = try recipe.model.classNames ?? (d.train != nil ? dataset(.train).classNames : nil)
            } else {
                request.classNames = recipe.model.classNames
            }
            result = try registry.dataset(d.format)(request)
        }
        cache[role] = result
        return result
    }

    func loader(_ role: DataRole) throws -> DataLoader<AnyClassificationDataset, ClassificationBatch> {
        let d = recipe.data
        let data = try dataset(role)
        return DataLoader(dataset: data, batchSize: role == .train ? d.batchSize : d.evalBatchSize,
                          shuffle: role == .train, seed: recipe.train.seed, prefetch: d.prefetch,
                          readThreads: d.readThreads, lengths: data.lengths, collate: data.collate)
    }

    // MARK: - Helpers

    static func text(_ v: RecipeValue) -> String {
        switch v {
        case let .string(s): return s
        case let .int(i): return String(i)
        case let .double(x): return String(x)
        case let .bool(b): return String(b)
        default: return v.description
        }
    }
}
