import Foundation
import LoRA
import NN
import Recipes
import Tasks
import Training

/// A recipe made ready to run: loaded (with `extends` and overrides), its plugins registered, its
/// path options resolved, with the registry that gives meaning to its names. The commands of the
/// command line are thin wrappers around this type; a Swift program uses it directly:
///
///     let run = try RecipeRun(path: "recipes/retina/resnet34_lora.yaml", overrides: ["train.epochs=1"])
///     try run.validate(checkingData: true)
///     let result = try run.train()
///     let metrics = try run.evaluate()
///     let predictions = try run.predict(["photo.png"])
///
/// The recipe's task is looked up in the registry and opened once per operation: from there on
/// the task's session, model, items and batches have their concrete types.
public final class RecipeRun {
    /// The recipe as loaded (with `extends` and overrides applied, path options made absolute),
    /// with where each key was written.
    public let loaded: LoadedRecipe
    /// Everything the recipe can name: the standard modules, the built-ins and its plugins.
    public let registry: Registry
    /// Messages for the user (skipped files, the best checkpoint chosen); the command line prints
    /// them to standard error.
    public var log: (String) -> Void
    /// Where training progress goes (text with its own line ends; on a terminal a line redraws
    /// with a carriage return); nil, the default for programs: no progress display.
    public var progress: ((String) -> Void)?

    /// Loads the recipe at `path` with `overrides` and builds its registry: the standard modules,
    /// `builtIns`, and of `plugins` those the recipe lists.
    /// - Throws: `RecipeError` (exit 2 on the command line) naming file, line and key;
    ///   `RegistryError` for a plugin that is unknown or fails.
    public convenience init(path: String, overrides: [String] = [], builtIns: [LoRAKitPlugin.Type] = [],
                            plugins: [LoRAKitPlugin.Type] = [], log: @escaping (String) -> Void = { _ in }) throws {
        let loaded = try RecipeLoader().load(path: path, overrides: overrides)
        try self.init(loaded: loaded, registry: try Registry.standard(builtIns: builtIns, plugins: plugins), log: log)
    }

    /// A loaded recipe with a registry (its plugins are registered here).
    public init(loaded: LoadedRecipe, registry: Registry, log: @escaping (String) -> Void = { _ in }) throws {
        var registry = registry
        do { try registry.load(plugins: loaded.recipe.plugins) } catch {
            throw RecipeError.invalidValue(key: "plugins", location: loaded.location(of: "plugins"), message: "\(error)",
                                           suggestion: nil)
        }
        self.registry = registry
        var resolved = loaded
        if let task = registry.entry(Tasks.self, loaded.recipe.task) {
            resolved.recipe = Self.resolvingPathOptions(loaded, keys: task.validation(of: loaded.recipe, registry: registry).pathOptions)
        }
        self.loaded = resolved
        self.log = log
    }

    /// The decoded recipe.
    public var recipe: Recipe { loaded.recipe }
    /// The run's output directory (`output_dir`).
    public var output: URL { URL(fileURLWithPath: recipe.outputDirectory) }

    /// The recipe's task.
    /// - Throws: a `RecipeError` at `task` naming the tasks there are.
    public func task() throws -> any RecipeTask {
        guard let task = registry.entry(Tasks.self, recipe.task) else {
            let known = registry.names(Tasks.self)
            throw RecipeError.invalidValue(key: "task", location: loaded.location(of: "task"),
                                           message: "unknown task \"\(recipe.task)\" (known: \(known.joined(separator: ", ")))",
                                           suggestion: Suggestion.nearest(to: recipe.task, in: known))
        }
        return task
    }

    /// What a session of this run is given.
    func setup(weightsOverride: URL? = nil, training: Bool = false) -> RunSetup {
        RunSetup(loaded: loaded, registry: registry, weightsOverride: weightsOverride, training: training, log: log)
    }

    /// The names and checks the recipe is validated against.
    public var context: RecipeContext {
        var context = RecipeContext(tasks: RecipeNames(registry.names(Tasks.self)),
                                    plugins: RecipeNames(registry.availablePlugins.keys),
                                    hooks: RecipeNames(registry.names(Hooks.self)))
        if let task = registry.entry(Tasks.self, recipe.task) {
            let v = task.validation(of: recipe, registry: registry)
            context.architectures = v.architectures
            context.dataFormats = v.dataFormats
            context.metrics = v.metrics
            context.checks = v.checks
        }
        let hooks = registry
        context.checks.append { recipe in
            recipe.hooks.extra.enumerated().flatMap { i, hook -> [RecipeProblem] in
                guard let factory = hooks.entry(Hooks.self, hook.name) else { return [] }
                return Options(hook.parameters, owner: "hook \(hook.name)", keyPrefix: "hooks.extra[\(i)]",
                               specs: factory.options).problems()
            }
        }
        return context
    }

    /// `model.options`, `data.options` and transform options declared as paths, made absolute
    /// against the file (or override) that wrote them, so that the run and the resolved recipe it
    /// writes mean the same files wherever they are read from.
    static func resolvingPathOptions(_ loaded: LoadedRecipe, keys: [String]) -> Recipe {
        var recipe = loaded.recipe
        for key in keys {
            func resolve(_ values: inout [String: RecipeValue], _ name: String) {
                guard let text = values[name]?.string else { return }
                values[name] = .string(loaded.resolvePath(text, of: key))
            }
            if key.hasPrefix("model.options.") {
                resolve(&recipe.model.options, String(key.dropFirst("model.options.".count)))
            } else if key.hasPrefix("data.options.") {
                resolve(&recipe.data.options, String(key.dropFirst("data.options.".count)))
            } else if key.hasPrefix("data.transforms["), let close = key.firstIndex(of: "]"),
                      let index = Int(key[key.index(key.startIndex, offsetBy: "data.transforms[".count)..<close]),
                      recipe.data.transforms.indices.contains(index) {
                resolve(&recipe.data.transforms[index].parameters, String(key[key.index(close, offsetBy: 2)...]))
            }
        }
        return recipe
    }
}
