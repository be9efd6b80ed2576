import Recipes

/// Checks every task makes of the entries a recipe names, for tasks (and plugins' tasks) to share:
/// the options of the architecture, the data format and each transform against what they accept,
/// and that the model reads what the data yields.
public enum RecipeChecks {
    /// `model.options` against the architecture's specs.
    public static func modelOptions(_ recipe: Recipe, specs: [OptionSpec]) -> [RecipeProblem] {
        Options(recipe.model.options, owner: "architecture \(recipe.model.architecture)", keyPrefix: "model.options",
                specs: specs).problems()
    }

    /// `data.options` against the format's specs.
    public static func dataOptions(_ recipe: Recipe, specs: [OptionSpec]) -> [RecipeProblem] {
        Options(recipe.data.options, owner: "data format \(recipe.data.format)", keyPrefix: "data.options", specs: specs).problems()
    }

    /// The model's and the data's input kinds against each other and the task's (nil: any, as long
    /// as they agree).
    public static func inputKinds(_ recipe: Recipe, model: InputKind, data: InputKind, task: String,
                                  needs: InputKind?) -> [RecipeProblem] {
        if let needs {
            var list: [RecipeProblem] = []
            if model != needs {
                list.append(.invalid("model.architecture", "\(recipe.model.architecture) reads \(model); \(task) needs a model that reads \(needs)"))
            }
            if data != needs {
                list.append(.invalid("data.format", "\(recipe.data.format) yields \(data); \(task) needs data of \(needs)"))
            }
            return list
        }
        return model == data ? []
            : [.invalid("data.format", "\(recipe.data.format) yields \(data), but \(recipe.model.architecture) reads \(model)")]
    }

    /// Unknown transforms (with the nearest name) and the options and checks of known ones.
    public static func transforms(_ recipe: Recipe, accepted: [TransformDefinition]) -> [RecipeProblem] {
        var list: [RecipeProblem] = []
        let format = recipe.data.format
        let names = accepted.map(\.name)
        for (i, transform) in recipe.data.transforms.enumerated() {
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

    /// The recipe keys of path options among the architecture's, the format's and the
    /// transforms' specs (for `TaskValidation.pathOptions`).
    public static func pathOptions(_ recipe: Recipe, model: [OptionSpec], data: [OptionSpec],
                                   transforms: [TransformDefinition]) -> [String] {
        var keys = model.filter(\.isPath).map { "model.options.\($0.name)" } + data.filter(\.isPath).map { "data.options.\($0.name)" }
        for (i, t) in recipe.data.transforms.enumerated() {
            let specs = transforms.first { $0.name == t.name }?.options ?? []
            keys += specs.filter(\.isPath).map { "data.transforms[\(i)].\($0.name)" }
        }
        return keys
    }
}
