import Tensor

// Accumulating classification metrics. Each keeps only the counts its value needs (O(1) for
// accuracy, O(C) for the macro scores, O(C²) for kappa), so token-level accuracy over a 32k
// vocabulary costs nothing extra. Predictions are each row's argmax (first maximum).

/// Accuracy of the argmax predictions (`Metrics.accuracy`). Registry name `"accuracy"`.
public struct Accuracy: Metric {
    public let ignoreIndex: Int
    public private(set) var correct = 0
    public private(set) var total = 0
    private var classCount: Int?

    public init(ignoreIndex: Int = -100) { self.ignoreIndex = ignoreIndex }

    public var name: String { "accuracy" }

    public mutating func update(logits: Tensor, labels: [Int]) {
        let rows = LogitRows(logits, labelCount: labels.count, metric: name)
        if let classCount { rows.checkClassCount(classCount, metric: name) } else { classCount = rows.classCount }
        rows.forEach(labels: labels, ignoreIndex: ignoreIndex, metric: name) { row, label in
            if Metrics.argmax(row) == label { correct += 1 }
            total += 1
        }
    }

    public func value() -> Double? { total == 0 ? nil : Double(correct) / Double(total) }

    public mutating func reset() { correct = 0; total = 0 }
}

/// Top-k accuracy (`Metrics.topKAccuracy`): the label is among the `k` highest logits, ties
/// ranked as scikit-learn does (the larger class index first — so `TopKAccuracy(k: 1)` can differ
/// from `Accuracy`, which takes the first maximum, when logits tie exactly). Ranking logits is
/// ranking softmax probabilities, without their rounding. Registry name `"top<k>_accuracy"`.
public struct TopKAccuracy: Metric {
    public let k: Int
    public let ignoreIndex: Int
    public private(set) var hits = 0
    public private(set) var total = 0
    private var classCount: Int?

    public init(k: Int, ignoreIndex: Int = -100) {
        precondition(k >= 1, "TopKAccuracy: k must be at least 1, got \(k)")
        self.k = k
        self.ignoreIndex = ignoreIndex
    }

    public var name: String { "top\(k)_accuracy" }

    public mutating func update(logits: Tensor, labels: [Int]) {
        let rows = LogitRows(logits, labelCount: labels.count, metric: name)
        if let classCount { rows.checkClassCount(classCount, metric: name) } else { classCount = rows.classCount }
        rows.forEach(labels: labels, ignoreIndex: ignoreIndex, metric: name) { row, label in
            if Metrics.isTopK(label: label, in: row, k: k) { hits += 1 }
            total += 1
        }
    }

    public func value() -> Double? { total == 0 ? nil : Double(hits) / Double(total) }

    public mutating func reset() { hits = 0; total = 0 }
}

/// Per-class counts of true positives, predictions and labels: what precision, recall and F1
/// need, in O(C).
struct PerClassCounts {
    let ignoreIndex: Int
    var truePositives: [Int] = []
    var predicted: [Int] = []
    var support: [Int] = []

    init(ignoreIndex: Int) { self.ignoreIndex = ignoreIndex }

    mutating func update(logits: Tensor, labels: [Int], metric: String) {
        let rows = LogitRows(logits, labelCount: labels.count, metric: metric)
        if support.isEmpty {
            truePositives = [Int](repeating: 0, count: rows.classCount)
            predicted = truePositives
            support = truePositives
        } else {
            rows.checkClassCount(support.count, metric: metric)
        }
        rows.forEach(labels: labels, ignoreIndex: ignoreIndex, metric: metric) { row, label in
            let prediction = Metrics.argmax(row)
            predicted[prediction] += 1
            support[label] += 1
            if prediction == label { truePositives[label] += 1 }
        }
    }

    /// `nil` before any sample.
    var scores: PrecisionRecallF1? {
        guard support.contains(where: { $0 > 0 }) else { return nil }
        return PrecisionRecallF1(truePositives: truePositives, predicted: predicted, support: support)
    }

    mutating func reset() {
        truePositives = truePositives.map { _ in 0 }
        predicted = truePositives
        support = truePositives
    }
}

/// Macro precision over all classes of the logits (`PrecisionRecallF1.macroPrecision`, absent
/// classes counting 0). Registry name `"macro_precision"`.
public struct MacroPrecision: Metric {
    private var counts: PerClassCounts
    public init(ignoreIndex: Int = -100) { counts = PerClassCounts(ignoreIndex: ignoreIndex) }
    public var name: String { "macro_precision" }
    /// Every per-class score so far (`nil` before any sample).
    public var scores: PrecisionRecallF1? { counts.scores }
    public mutating func update(logits: Tensor, labels: [Int]) { counts.update(logits: logits, labels: labels, metric: name) }
    public func value() -> Double? { counts.scores?.macroPrecision }
    public mutating func reset() { counts.reset() }
}

/// Macro recall over all classes of the logits (`PrecisionRecallF1.macroRecall`, absent classes
/// counting 0). Registry name `"macro_recall"`.
public struct MacroRecall: Metric {
    private var counts: PerClassCounts
    public init(ignoreIndex: Int = -100) { counts = PerClassCounts(ignoreIndex: ignoreIndex) }
    public var name: String { "macro_recall" }
    /// Every per-class score so far (`nil` before any sample).
    public var scores: PrecisionRecallF1? { counts.scores }
    public mutating func update(logits: Tensor, labels: [Int]) { counts.update(logits: logits, labels: labels, metric: name) }
    public func value() -> Double? { counts.scores?.macroRecall }
    public mutating func reset() { counts.reset() }
}

/// Macro F1 over all classes of the logits (`PrecisionRecallF1.macroF1`, absent classes counting
/// 0). Registry name `"macro_f1"`.
public struct MacroF1: Metric {
    private var counts: PerClassCounts
    public init(ignoreIndex: Int = -100) { counts = PerClassCounts(ignoreIndex: ignoreIndex) }
    public var name: String { "macro_f1" }
    /// Every per-class score so far (`nil` before any sample).
    public var scores: PrecisionRecallF1? { counts.scores }
    public mutating func update(logits: Tensor, labels: [Int]) { counts.update(logits: logits, labels: labels, metric: name) }
    public func value() -> Double? { counts.scores?.macroF1 }
    public mutating func reset() { counts.reset() }
}

/// Quadratic weighted kappa of the argmax predictions over the logits' classes
/// (`Metrics.quadraticWeightedKappa`), the retinopathy grading metric: the class count comes from
/// the model's head, so grades absent from the data still count. Keeps the `C × C` confusion
/// matrix. Registry name `"qwk"`.
public struct QuadraticWeightedKappa: Metric {
    public private(set) var confusion: ConfusionMatrix
    public init(ignoreIndex: Int = -100) { confusion = ConfusionMatrix(ignoreIndex: ignoreIndex) }
    public var name: String { "qwk" }
    public mutating func update(logits: Tensor, labels: [Int]) { confusion.update(logits: logits, labels: labels) }
    public func value() -> Double? { Metrics.quadraticWeightedKappa(confusion: confusion) }
    public mutating func reset() { confusion.reset() }
}
