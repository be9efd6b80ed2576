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
        let architecture = registry.entry(Classifiers.self, recipe.model.architecture)
        let format = registry.entry(ClassificationFormats.self, recipe.data.format)
        return TaskValidation(
            architectures: RecipeNames(registry.names(Classifiers.self)),
            dataFormats: RecipeNames(registry.names(ClassificationFormats.self)),
            metrics: RecipeNames(metrics.names, families: metrics.patternDescriptions.map { description in
                RecipeNames.Family(description) { metrics.contains($0) }
            }),
            checks: [{ recipe in self.problems(in: recipe, registry: registry) }],
            pathOptions: RecipeChecks.pathOptions(recipe, model: architecture?.options ?? [], data: format?.options ?? [],
                                                  transforms: format?.transforms(registry) ?? []))
    }

    public func listing(in registry: Registry) -> [String] {
        var lines = ["architectures (model.architecture; model.options):"]
        for (name, a) in registry.entries(Classifiers.self) where a.input == input {
            lines.append("  \(name): \(a.summary)")
            lines += optionListing(a.options)
        }
        lines.append("data formats (data.format; data.options):")
        var transforms: [TransformDefinition] = []
        for (name, f) in registry.entries(ClassificationFormats.self) where f.input == input {
            lines.append("  \(name): \(f.summary)")
            lines += optionListing(f.options)
            let accepted = f.transforms(registry)
            if !accepted.isEmpty { lines.append("    transforms: \(accepted.map(\.name).joined(separator: ", "))") }
            for t in accepted where !transforms.contains(where: { $0.name == t.name }) { transforms.append(t) }
        }
        if !transforms.isEmpty {
            lines.append("transforms (data.transforms: [{name: …, options…}]):")
            for t in transforms {
                lines.append("  \(t.name): \(t.summary)")
                lines += optionListing(t.options)
            }
        }
        lines.append("metrics (eval.metrics): " + (registry.metrics.names + registry.metrics.patternDescriptions).joined(separator: ", "))
        return lines
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
        let architecture = registry.entry(Classifiers.self, model.architecture)
        let format = registry.entry(ClassificationFormats.self, recipe.data.format)
        if let architecture { list += RecipeChecks.modelOptions(recipe, specs: architecture.options) }
        if let format {
            list += RecipeChecks.dataOptions(recipe, specs: format.options)
            list += RecipeChecks.transforms(recipe, accepted: format.transforms(registry))
            if model.classes == nil && model.classNames == nil && !format.readsFiles {
                list.append(RecipeProblem(key: "model.classes", kind: .missingKey(
                    reason: "\(recipe.data.format) generates its data and names no classes; set model.classes or model.class_names")))
            }
        }
        list += RecipeChecks.inputKinds(recipe, model: architecture?.input ?? input, data: format?.input ?? input, task: name, needs: input)
        return list
    }
}
