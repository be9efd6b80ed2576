import NN
import Tensor

/// A batch of inputs with one class label each.
public struct ClassificationBatch {
    /// Inputs, batch first (e.g. images [N, C, H, W]).
    public var inputs: Tensor
    public var labels: [Int]

    public init(inputs: Tensor, labels: [Int]) {
        self.inputs = inputs
        self.labels = labels
    }

    /// Stacks items `(input, label)` with equal input shapes into a batch.
    public static func collate(_ items: [(input: Tensor, label: Int)]) throws -> ClassificationBatch {
        guard let first = items.first else {
            throw TrainingError.invalidConfiguration("cannot collate an empty batch")
        }
        for (i, item) in items.enumerated() where item.input.shape != first.input.shape {
            throw TensorError.shapeMismatch(operation: "collate item \(i)", lhs: first.input.shape, rhs: item.input.shape)
        }
        return ClassificationBatch(inputs: Tensor.stack(items.map(\.input), axis: 0), labels: items.map(\.label))
    }
}

/// What classification metrics read from a batch: logits [N, C] and the class labels.
public struct ClassificationPredictions: Codable {
    public var logits: Tensor
    public var labels: [Int]

    public init(logits: Tensor, labels: [Int]) {
        self.logits = logits
        self.labels = labels
    }

    // Codable, so that data-parallel ranks can exchange them: the logits as shape and values.
    enum CodingKeys: String, CodingKey { case shape, logits, labels }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let shape = try c.decode([Int].self, forKey: .shape), values = try c.decode([Float].self, forKey: .logits)
        guard shape.reduce(1, *) == values.count else {
            throw DecodingError.dataCorruptedError(forKey: .logits, in: c, debugDescription: "\(values.count) logits for shape \(shape)")
        }
        logits = Tensor(values, shape: shape)
        labels = try c.decode([Int].self, forKey: .labels)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(logits.shape, forKey: .shape)
        try c.encode(logits.detached().scalars, forKey: .logits)
        try c.encode(labels, forKey: .labels)
    }
}

/// Classification metrics (`Metric`s reading logits and class labels) accumulated together.
public struct MetricSet: TaskEvaluation {
    public private(set) var metrics: [any Metric]

    public init(_ metrics: [any Metric]) { self.metrics = metrics }

    public mutating func add(_ predictions: ClassificationPredictions) {
        for i in metrics.indices { metrics[i].update(logits: predictions.logits, labels: predictions.labels) }
    }

    public func values() -> [String: Double] {
        var result: [String: Double] = [:]
        for m in metrics { if let v = m.value() { result[m.name] = v } }
        return result
    }
}

/// Classification with cross-entropy: the model maps inputs to logits [N, C].
public struct ClassificationTask: TrainingTask {
    public var classCount: Int
    public var labelSmoothing: Float
    public var classWeights: Tensor?
    /// Runs the model on a batch's inputs; defaults to calling it as a `UnaryLayer`.
    public var forward: (Module, Tensor) throws -> Tensor
    /// The metrics of an evaluation pass (fresh ones each time).
    public var metrics: () -> [any Metric]

    public init(classCount: Int, labelSmoothing: Float = 0, classWeights: Tensor? = nil,
                metrics: @escaping () -> [any Metric] = { [] },
                forward: ((Module, Tensor) throws -> Tensor)? = nil) {
        self.classCount = classCount
        self.labelSmoothing = labelSmoothing
        self.classWeights = classWeights
        self.metrics = metrics
        self.forward = forward ?? { model, x in
            guard let layer = model as? UnaryLayer else {
                throw TrainingError.invalidConfiguration("\(type(of: model)) is not a UnaryLayer; give the task a forward")
            }
            return layer(x)
        }
    }

    public func makeEvaluation() -> MetricSet { MetricSet(metrics()) }

    public func run(_ model: Module, on batch: ClassificationBatch) throws -> TaskOutput<ClassificationPredictions> {
        let logits = try forward(model, batch.inputs)
        guard logits.rank == 2, logits.shape[1] == classCount, logits.shape[0] == batch.labels.count else {
            throw TensorError.shapeMismatch(operation: "classification logits vs [batch, classes]", lhs: logits.shape,
                                            rhs: [batch.labels.count, classCount])
        }
        let targets = try Tensor(shape: [batch.labels.count], indices: batch.labels)
        try validateClassTargets(targets, classCount: classCount)
        let loss = crossEntropy(logits: logits, targets: targets, weights: classWeights, labelSmoothing: labelSmoothing)
        return TaskOutput(loss: loss, count: batch.labels.count,
                          predictions: ClassificationPredictions(logits: logits.detached(), labels: batch.labels))
    }
}
