import Foundation
import Recipes
import Training

/// Classification as recipes name it: one class per example, cross-entropy (with label
/// smoothing), the classification metrics, a head sized by `model.classes` or by the classes the
/// training data names; `predict` prints each input's class, probabilities and logits.
///
/// Registered once per input kind by the modality that reads it: `image_classification` by
/// `ImageModels`, `text_classification` by `TextModels`. The architecture (`Classifiers`) and
/// data format (`ClassificationFormats`) must read and yield that kind.
public struct ClassificationRecipeTask: RecipeTask {
    public let name: String
    public let summary: String
    /// What the models and data of this task read and yield.
    public let input: InputKind

    public init(name: String, input: InputKind, summary: String) {
        self.name = name
        self.input = input
        self.summary = summary
    }

    public func makeSession(_ setup: RunSetup) throws -> ClassificationSession {
        try ClassificationSession(task: self, setup: setup)
    }

    public func validation(of recipe: Recipe, registry: Registry) -> TaskValidation {
        let metrics = registry.metrics
        return TaskValidation(
            architectures: RecipeNames(registry.names(Classifiers.self)),
            dataFormats: RecipeNames(registry.names(ClassificationFormats.self)),
            metrics: RecipeNames(metrics.names, families: metrics.patternDescriptions.map { description in
                RecipeNames.Family(description) { metrics.contains($0) }
            }),
            checks: [{ recipe in self.problems(in: recipe, registry: registry) }],
            pathOptions: Self.pathOptions(recipe, architecture: registry.entry(Classifiers.self, recipe.model.architecture)?.options,
                                          format: registry.entry(ClassificationFormats.self, recipe.data.format),
                                          registry: registry))
    }

    /// The recipe keys of path options of the architecture, the format and the transforms.
    static func pathOptions(_ recipe: Recipe, architecture: [OptionSpec]?, format: ClassificationFormat?,
                            registry: Registry) -> [String] {
        var keys = (architecture ?? []).filter(\.isPath).map { "model.options.\($0.name)" }
        guard let format else { return keys }
        keys += format.options.filter(\.isPath).map { "data.options.\($0.name)" }
        let transforms = format.transforms(registry)
        for (i, t) in recipe.data.transforms.enumerated() {
            let specs = transforms.first { $0.name == t.name }?.options ?? []
            keys += specs.filter(\.isPath).map { "data.transforms[\(i)].\($0.name)" }
        }
        return keys
    }

    /// The keys classification owns and the options given to its architecture, format and
    /// transforms.
    func problems(in recipe: Recipe, registry: Registry) -> [RecipeProblem] {
        var list: [RecipeProblem] = []
        let model = recipe.model
        if let classes = model.classes, classes < 1 { list.append(.invalid("model.classes", "must be ≥ 1, got \(classes)")) }
        if let names = model.classNames {
            if let classes = model.classes, classes != names.count {
                list.append(.invalid("model.class_names", "\(names.count) names for \(classes) classes (model.classes)"))
            }
            for (i, name) in names.enumerated() where names[..<i].contains(name) {
                list.append(.invalid("model.class_names[\(i)]", "class name \"\(name)\" is listed twice"))
            }
        }
        if let architecture = registry.entry(Classifiers.self, model.architecture) {
            if architecture.input != input {
                list.append(.invalid("model.architecture", "\(model.architecture) reads \(architecture.input); \(name) needs a model that reads \(input)"))
            }
            list += Options(model.options, owner: "architecture \(model.architecture)", keyPrefix: "model.options",
                            specs: architecture.options).problems()
        }
        if let format = registry.entry(ClassificationFormats.self, recipe.data.format) {
            if format.input != input {
                list.append(.invalid("data.format", "\(recipe.data.format) yields \(format.input); \(name) needs data of \(input)"))
            }
            list += Options(recipe.data.options, owner: "data format \(recipe.data.format)", keyPrefix: "data.options",
                            specs: format.options).problems()
            list += Self.transformProblems(recipe, accepted: format.transforms(registry))
            if model.classes == nil && model.classNames == nil && !format.readsFiles {
                list.append(RecipeProblem(key: "model.classes", kind: .missingKey(
                    reason: "\(recipe.data.format) generates its data and names no classes; set model.classes or model.class_names")))
            }
        }
        return list
    }

    /// Unknown transforms (with the nearest name) and the options of known ones.
    public static func transformProblems(_ recipe: Recipe, accepted: [TransformDefinition]) -> [RecipeProblem] {
        var list: [RecipeProblem] = []
        let format = recipe.data.format
        let transforms = recipe.data.transforms
        let names = accepted.map(\.name)
        for (i, transform) in transforms.enumerated() {
            guard let definition = accepted.first(where: { $0.name == transform.name }) else {
                let known = names.isEmpty ? "\(format) takes no transforms" : "known: \(names.joined(separator: ", "))"
                list.append(.invalid("data.transforms[\(i)].name", "unknown transform \"\(transform.name)\" for \(format) (\(known))",
                                     suggestion: Suggestion.nearest(to: transform.name, in: names)))
                continue
            }
            let options = Options(transform.parameters, owner: "transform \(transform.name)", keyPrefix: "data.transforms[\(i)]",
                                  specs: definition.options)
            let found = options.problems()
            list += found
            if found.isEmpty { list += definition.check(options, recipe) }
        }
        return list
    }
}
