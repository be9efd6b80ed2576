import Tensor

/// A `C × C` confusion matrix accumulated batch by batch: `self[i, j]` counts samples whose
/// true label is `i` and whose prediction is `j` (rows = true labels, as scikit-learn's
/// `confusion_matrix`).
///
/// Accuracy, precision, recall, F1 and quadratic weighted kappa are functions of this matrix
/// (`Metrics.precisionRecallF1(confusion:)`, `Metrics.quadraticWeightedKappa(confusion:)`), so
/// their accumulating metrics keep one and nothing else: O(C²) memory, whatever the data size.
///
/// The class count is either given, or taken from the first logits seen (their last dimension;
/// a single logit column means 2 classes, see `Metric`).
public struct ConfusionMatrix: Equatable, Sendable {
    /// The number of classes, `nil` until given or seen in logits.
    public private(set) var classCount: Int?
    /// Labels equal to this are skipped by `update(logits:labels:)` (PyTorch's −100 by default,
    /// as in `crossEntropy`): padding tokens, unlabeled samples.
    public var ignoreIndex: Int
    /// Row-major `[C, C]` counts.
    private var counts: [Int]

    /// - Parameters:
    ///   - classCount: the number of classes, or `nil` to take it from the first logits.
    ///   - ignoreIndex: the label that marks samples to skip in `update(logits:labels:)`.
    public init(classCount: Int? = nil, ignoreIndex: Int = -100) {
        precondition(classCount.map { $0 >= 1 } ?? true, "ConfusionMatrix: classCount must be positive, got \(classCount!)")
        self.classCount = classCount
        self.ignoreIndex = ignoreIndex
        self.counts = [Int](repeating: 0, count: (classCount ?? 0) * (classCount ?? 0))
    }

    /// The count of samples of true class `label` predicted as `prediction`.
    public subscript(label: Int, prediction: Int) -> Int {
        let c = classCount ?? 0
        precondition((0..<c).contains(label) && (0..<c).contains(prediction),
                     "ConfusionMatrix[\(label), \(prediction)] is outside \(c) × \(c)")
        return counts[label * c + prediction]
    }

    /// The matrix as rows, `[C][C]`, row = true label (empty before the class count is known).
    public var rows: [[Int]] {
        let c = classCount ?? 0
        return (0..<c).map { Array(counts[($0 * c)..<($0 * c + c)]) }
    }

    /// The number of samples counted.
    public var total: Int { counts.reduce(0, +) }

    /// The number of samples predicted correctly (the trace).
    public var correct: Int {
        let c = classCount ?? 0
        return (0..<c).reduce(0) { $0 + counts[$1 * c + $1] }
    }

    /// `correct / total`, `nil` before any sample.
    public var accuracy: Double? { total == 0 ? nil : Double(correct) / Double(total) }

    /// Counts one sample.
    public mutating func add(prediction: Int, label: Int) {
        guard let c = classCount else {
            preconditionFailure("ConfusionMatrix: the class count is unknown; give it to init or update with logits first")
        }
        Metrics.checkLabel(label, classCount: c, in: "ConfusionMatrix")
        precondition((0..<c).contains(prediction), "ConfusionMatrix: prediction \(prediction) is outside the classes 0..<\(c)")
        counts[label * c + prediction] += 1
    }

    /// Counts predicted classes against their labels (no label is ignored here: every one must
    /// be a class).
    public mutating func update(predictions: [Int], labels: [Int]) {
        precondition(predictions.count == labels.count,
                     "ConfusionMatrix: \(predictions.count) predictions but \(labels.count) labels")
        for (prediction, label) in zip(predictions, labels) { add(prediction: prediction, label: label) }
    }

    /// Counts the argmax of each row of `logits` (first maximum, as NumPy and PyTorch) against
    /// its label, skipping labels equal to `ignoreIndex`.
    /// - Parameters:
    ///   - logits: `[N, C]`, `[..., C]` (rows flattened) or `[N]` / `[N, 1]` (one binary logit).
    ///   - labels: one per row.
    public mutating func update(logits: Tensor, labels: [Int]) {
        let rows = LogitRows(logits, labelCount: labels.count, metric: "ConfusionMatrix")
        if let classCount {
            rows.checkClassCount(classCount, metric: "ConfusionMatrix")
        } else {
            classCount = rows.classCount
            counts = [Int](repeating: 0, count: rows.classCount * rows.classCount)
        }
        let c = rows.classCount
        rows.forEach(labels: labels, ignoreIndex: ignoreIndex, metric: "ConfusionMatrix") { row, label in
            counts[label * c + Metrics.argmax(row)] += 1
        }
    }

    /// Clears the counts; keeps the class count.
    public mutating func reset() {
        counts = [Int](repeating: 0, count: counts.count)
    }
}
