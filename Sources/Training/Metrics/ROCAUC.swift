import Tensor

/// ROC-AUC of softmax probabilities, accumulated over an evaluation. Registry name `"roc_auc"`.
///
/// - Two classes (`[N, 2]` logits, or one binary logit): `Metrics.rocAUC` of class 1's
///   probability, `nil` while the labels seen lack positives or negatives.
/// - More classes: `Metrics.macroROCAUC`, one-vs-rest per class on its probability, averaged
///   over the classes that have both positives and negatives (scikit-learn returns NaN as soon as
///   one class is absent; see `macroROCAUC`); `perClass()` shows which classes counted.
///
/// Probabilities are a Double softmax of each Float logit row. AUC depends on the ranking of all
/// samples together, so this keeps every probability: O(N·C) memory over the evaluation.
public struct ROCAUC: Metric {
    public let ignoreIndex: Int
    private var classCount: Int?
    /// Row-major `[N, C]` softmax probabilities of the samples kept.
    private var probabilities: [Double] = []
    private var labels: [Int] = []

    public init(ignoreIndex: Int = -100) { self.ignoreIndex = ignoreIndex }

    public var name: String { "roc_auc" }

    public mutating func update(logits: Tensor, labels batchLabels: [Int]) {
        let rows = LogitRows(logits, labelCount: batchLabels.count, metric: name)
        if let classCount { rows.checkClassCount(classCount, metric: name) } else { classCount = rows.classCount }
        rows.forEach(labels: batchLabels, ignoreIndex: ignoreIndex, metric: name) { row, label in
            LogitRows.appendSoftmax(of: row, to: &probabilities)
            labels.append(label)
        }
    }

    public func value() -> Double? {
        guard let c = classCount else { return nil }
        if c == 2 {
            return Metrics.rocAUC(count: labels.count, score: { probabilities[2 * $0 + 1] },
                                  isPositive: { labels[$0] == 1 })
        }
        let defined = perClass().compactMap { $0 }
        return defined.isEmpty ? nil : defined.reduce(0, +) / Double(defined.count)
    }

    /// The one-vs-rest AUC of each class (`nil` where undefined); for two classes, class 1's
    /// entry is the binary AUC. Empty before any batch.
    public func perClass() -> [Double?] {
        guard let c = classCount else { return [] }
        return (0..<c).map { k in
            Metrics.rocAUC(count: labels.count, score: { probabilities[c * $0 + k] },
                           isPositive: { labels[$0] == k })
        }
    }

    /// The probability rows kept, `[N][C]`, and their labels (for curves).
    func classProbabilities() -> [[Double]] {
        guard let c = classCount else { return [] }
        return (0..<labels.count).map { Array(probabilities[(c * $0)..<(c * $0 + c)]) }
    }

    var labelsSeen: [Int] { labels }

    public mutating func reset() {
        probabilities.removeAll(keepingCapacity: true)
        labels.removeAll(keepingCapacity: true)
    }
}
