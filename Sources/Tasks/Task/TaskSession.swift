import Foundation
import LoRA
import Tensor
import Training

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
    /// Writes the trained adapter in the task's other formats beside the PEFT files in
    /// `directory` (a decoder's llama.cpp GGUF adapter); nothing by default.
    func exportAdapter(_ lora: LoRAModel, of model: Model, to directory: URL) throws
    /// Writes `model` with `lora`'s active adapters merged into its weights to `file`, and returns
    /// lines for people (what was written, and the error a quantisation added). By default: plain
    /// safetensors of `lora.mergedStateDict()` under the base model's keys; `quantize` (a format
    /// the task names, for a decoder's GGUF) is refused, as is any output the task cannot write.
    func writeMerged(_ lora: LoRAModel, of model: Model, to file: URL, quantize: String?) throws -> [String]
    /// What a report shows for this task, from `model` (the run's trained model) on the
    /// validation split: a confusion matrix, curves, sample inputs with predictions, generations.
    func reportSections(for model: Model) throws -> [ReportSection]
    /// What `lorakit serve` needs to answer requests with `model`: inputs read one at a time and
    /// predictions for a batch of them; nil when the task cannot be served (the default).
    func servingPredictor(for model: Model) throws -> ServingPredictor?
}

/// A task's predictions for a server: `read` turns one input (an image file, a text) into the
/// model's input item; `predict` gives the predictions of items of one shape run as one batch,
/// in order (under `LoRARouting`, each row with its own adapter).
public struct ServingPredictor {
    public var read: (String) throws -> Tensor
    public var predict: (_ items: [Tensor], _ inputs: [String]) throws -> [Prediction]
    /// Whether inputs are texts (else files: images).
    public var textInputs: Bool

    public init(textInputs: Bool, read: @escaping (String) throws -> Tensor,
                predict: @escaping (_ items: [Tensor], _ inputs: [String]) throws -> [Prediction]) {
        self.textInputs = textInputs
        self.read = read
        self.predict = predict
    }
}

extension TaskSession {
    public func writeRunFiles(to directory: URL) throws {}
    public func exportAdapter(_ lora: LoRAModel, of model: Model, to directory: URL) throws {}
    public func reportSections(for model: Model) throws -> [ReportSection] { [] }
    public func servingPredictor(for model: Model) throws -> ServingPredictor? { nil }

    public func writeMerged(_ lora: LoRAModel, of model: Model, to file: URL, quantize: String?) throws -> [String] {
        if let quantize {
            throw TaskError.invalid(key: "--quantize \(quantize)", message: "this task writes merged weights as Float32 safetensors only")
        }
        try lora.saveMerged(to: file.path)
        return ["wrote \(file.path): the adapter merged into Float32 weights under the base model's keys"]
    }
}
