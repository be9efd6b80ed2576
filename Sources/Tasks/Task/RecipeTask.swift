import Foundation
import Recipes
import Training

/// A task as recipes name it (`task: image_classification`): what is learned, from what data,
/// judged by which metrics, and what `eval` reports and `predict` prints.
///
/// A task is registered once (`Registry.registerTask`) and stored type-erased (`any RecipeTask`);
/// the runner opens it and works with its session's concrete types from there on, so model,
/// item and batch types stay typed end to end (no casts). A task owns the recipe keys only it
/// needs (a classifier's `model.classes`) and checks them in `validation`.
public protocol RecipeTask: Sendable {
    associatedtype Session: TaskSession
    /// The name recipes use.
    var name: String { get }
    /// One line for listings.
    var summary: String { get }
    /// The names and checks a recipe with this task is validated against: the architectures and
    /// data formats the task can use, their transforms and metrics, and checks of the keys the
    /// task owns and of the options the recipe gives its architecture, format and transforms.
    func validation(of recipe: Recipe, registry: Registry) -> TaskValidation
    /// Starts a run of the recipe in `setup`: the session builds the model, the datasets and the
    /// training objective, and predicts.
    func makeSession(_ setup: RunSetup) throws -> Session
    /// What recipes with this task can name (architectures, data formats with their options and
    /// transforms, metrics), as lines for `lorakit list`; empty by default.
    func listing(in registry: Registry) -> [String]
}

extension RecipeTask {
    public func listing(in registry: Registry) -> [String] { [] }
}

/// Lines listing options, as `lorakit list` prints them under their entry.
public func optionListing(_ specs: [OptionSpec], indent: String = "    ") -> [String] {
    specs.map { "\(indent)\($0.name): \($0.help) (\($0.expectation)" + ($0.defaultText.map { "; default \($0)" } ?? "") + ")" }
}
