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
}

/// One run of a task: what the runner asks of it. A class, so a session can remember what it
/// learned on the way (the training split's class names decide the validation split's indices).
public protocol TaskSession: AnyObject {
    /// The typed model (a classifier with its forward, a causal language model, …).
    associatedtype Model: TaskModel
    associatedtype Item
    associatedtype Batch
    /// The loss and metrics the trainer and the evaluator run.
    associatedtype Objective: TrainingTask where Objective.Batch == Batch

    /// The model the recipe names, with `weights` loaded.
    func makeModel(weights: ModelWeights) throws -> Model
    /// The dataset of a split, with its collation (see `DatasetSplits` for the usual rules).
    func dataset(_ role: DataRole) throws -> TaskDataset<Item, Batch>
    /// Whether the recipe has a validation split (given, held out from training, or generated).
    var hasValidationData: Bool { get }
    /// The training loss and evaluation metrics for `model`.
    func objective(for model: Model) throws -> Objective
    /// Predictions for user inputs (files or texts, as the data format reads them).
    func predict(_ inputs: [String], with model: Model) throws -> [Prediction]
    /// Files the run writes beside its outputs for later commands and other tools (class names).
    func writeRunFiles(to directory: URL) throws
}

extension TaskSession {
    public func writeRunFiles(to directory: URL) throws {}
}

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

/// Which weights a model starts from.
public enum ModelWeights: Equatable, Sendable {
    /// Random initialisation (the recipe names no weights).
    case none
    /// The recipe's pretrained weights (`model.weights`); the head is replaced when the recipe
    /// asks for a new one (`model.head: new`).
    case pretrained(URL)
    /// A complete trained model, head included (a run's `model.safetensors`, `--weights`), loaded
    /// strictly.
    case complete(URL)

    /// Whether these are a complete trained model.
    public var isComplete: Bool {
        if case .complete = self { return true }
        return false
    }

    /// The file, if any.
    public var url: URL? {
        switch self {
        case .none: return nil
        case let .pretrained(url), let .complete(url): return url
        }
    }
}

/// Which split of the data.
public enum DataRole: String, Sendable, CaseIterable {
    case train, validation, test
}
