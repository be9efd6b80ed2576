import NN
import Tensor

/// What one batch gives the trainer: the loss to minimise and, for evaluation, what the task's
/// metrics read (`Predictions`: logits and labels for classification, token counts for a
/// language model, …).
public struct TaskOutput<Predictions> {
    /// The batch's mean loss (a scalar that requires a gradient in training).
    public var loss: Tensor
    /// Items in the batch (weights the mean loss across batches).
    public var count: Int
    /// What the task's evaluation accumulates; nil when the task has nothing to add.
    public var predictions: Predictions?

    public init(loss: Tensor, count: Int, predictions: Predictions? = nil) {
        self.loss = loss
        self.count = count
        self.predictions = predictions
    }
}

/// Accumulates a task's predictions over one evaluation pass and reports metric values. A value
/// type: each pass starts from a fresh one (`TrainingTask.makeEvaluation()`), so values are exact
/// functions of the whole pass, never averages of per-batch values.
public protocol TaskEvaluation {
    associatedtype Predictions
    /// Adds one batch's predictions.
    mutating func add(_ predictions: Predictions)
    /// Metric values by name over everything added; a metric that is undefined (no samples, a
    /// ROC-AUC without negatives) is left out. The mean loss is added by the evaluator.
    func values() -> [String: Double]
}

/// An evaluation with no metrics (the loss alone).
public struct NoMetrics<Predictions>: TaskEvaluation {
    public init() {}
    public mutating func add(_ predictions: Predictions) {}
    public func values() -> [String: Double] { [:] }
}

/// How a task drives the trainer: it turns a batch into a loss and predictions, and makes the
/// accumulator its metrics read. The trainer sets training or evaluation mode and the gradient
/// scope; the task only runs the model.
public protocol TrainingTask {
    associatedtype Batch
    associatedtype Evaluation: TaskEvaluation
    func run(_ model: Module, on batch: Batch) throws -> TaskOutput<Evaluation.Predictions>
    /// A fresh accumulator of the task's metrics, for one evaluation pass.
    func makeEvaluation() -> Evaluation
}

/// A source of batches per epoch that can start anywhere, so that a resumed run sees exactly the
/// batches the interrupted one would have.
public protocol BatchSource {
    associatedtype Batch
    var batchesPerEpoch: Int { get }
    /// The batches of `epoch` starting at index `start`; each call of `next()` may throw the error
    /// of reading that batch.
    func batches(epoch: Int, startingAt start: Int) -> AnyBatchIterator<Batch>
}

/// An iterator of batches whose `next()` throws a batch's reading error.
public struct AnyBatchIterator<Batch> {
    private let nextBatch: () throws -> Batch?
    private let stop: () -> Void

    public init(next: @escaping () throws -> Batch?, stop: @escaping () -> Void = {}) {
        self.nextBatch = next
        self.stop = stop
    }

    /// The next batch, nil at the end of the epoch.
    public func next() throws -> Batch? { try nextBatch() }
    /// Abandons the epoch (stops background work).
    public func cancel() { stop() }
}
