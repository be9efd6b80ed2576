import NN
import Tensor

/// What one batch gives the trainer: the loss to minimise and, for metrics, the model's outputs.
public struct TaskOutput {
    /// The batch's mean loss (a scalar that requires a gradient in training).
    public var loss: Tensor
    /// Items in the batch (weights the mean loss across batches).
    public var count: Int
    /// Logits [N, C] for classification metrics, if the task has them.
    public var logits: Tensor?
    /// Class labels of the batch's items, for metrics.
    public var labels: [Int]?

    public init(loss: Tensor, count: Int, logits: Tensor? = nil, labels: [Int]? = nil) {
        self.loss = loss
        self.count = count
        self.logits = logits
        self.labels = labels
    }
}

/// How a modality drives the trainer: it turns a batch into a loss and predictions. The trainer
/// sets training or evaluation mode and the gradient scope; the task only runs the model.
public protocol TrainingTask {
    associatedtype Batch
    func run(_ model: Module, on batch: Batch) throws -> TaskOutput
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
