/// Per-class precision, recall and F1 with their macro averages, as
/// `sklearn.metrics.precision_recall_fscore_support(labels=range(C), zero_division=0)`.
///
/// For class `c`, with `tp` its true positives, `predicted` how often it was predicted and
/// `support` how often it is the label:
///
///     precision = tp / predicted      recall = tp / support      F1 = 2·tp / (predicted + support)
///
/// Each is 0 where its denominator is 0 (scikit-learn's `zero_division=0`). F1 is the harmonic
/// mean of precision and recall wherever both are defined, and scikit-learn's current formula
/// where one is not. Macro averages are plain means over all `C` classes, INCLUDING a class that
/// never occurs in the labels nor the predictions (it contributes 0) — scikit-learn's macro when
/// it is given `labels=range(C)`. So a perfect classifier on data missing one of 5 classes has
/// macro F1 0.8: evaluate with the class count the model was built for, on data that covers it.
public struct PrecisionRecallF1: Equatable, Sendable {
    /// Precision of each class, `[C]`.
    public var precision: [Double]
    /// Recall of each class, `[C]`.
    public var recall: [Double]
    /// F1 of each class, `[C]`.
    public var f1: [Double]
    /// How often each class is the true label, `[C]`.
    public var support: [Int]

    public init(precision: [Double], recall: [Double], f1: [Double], support: [Int]) {
        self.precision = precision
        self.recall = recall
        self.f1 = f1
        self.support = support
    }

    /// The mean of `precision` over all classes.
    public var macroPrecision: Double { Self.mean(precision) }
    /// The mean of `recall` over all classes.
    public var macroRecall: Double { Self.mean(recall) }
    /// The mean of the per-class F1 (not the F1 of the macro precision and recall, as in
    /// scikit-learn).
    public var macroF1: Double { Self.mean(f1) }

    /// The scores from per-class counts: true positives, predictions and labels of each class.
    init(truePositives: [Int], predicted: [Int], support: [Int]) {
        let c = support.count
        precision = [Double](repeating: 0, count: c)
        recall = [Double](repeating: 0, count: c)
        f1 = [Double](repeating: 0, count: c)
        self.support = support
        for k in 0..<c {
            let tp = Double(truePositives[k])
            if predicted[k] > 0 { precision[k] = tp / Double(predicted[k]) }
            if support[k] > 0 { recall[k] = tp / Double(support[k]) }
            if predicted[k] + support[k] > 0 { f1[k] = 2 * tp / Double(predicted[k] + support[k]) }
        }
    }

    private static func mean(_ values: [Double]) -> Double {
        values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
    }
}

extension Metrics {
    // MARK: - Precision, recall, F1

    /// Per-class and macro precision, recall and F1; see `PrecisionRecallF1`.
    public static func precisionRecallF1(predictions: [Int], labels: [Int], classCount: Int) -> PrecisionRecallF1 {
        var matrix = ConfusionMatrix(classCount: classCount)
        matrix.update(predictions: predictions, labels: labels)
        return precisionRecallF1(confusion: matrix)
    }

    /// Per-class and macro precision, recall and F1 of an accumulated confusion matrix.
    public static func precisionRecallF1(confusion m: ConfusionMatrix) -> PrecisionRecallF1 {
        let c = m.classCount ?? 0
        var truePositives = [Int](repeating: 0, count: c)
        var predicted = [Int](repeating: 0, count: c)
        var support = [Int](repeating: 0, count: c)
        for i in 0..<c {
            truePositives[i] = m[i, i]
            for j in 0..<c {
                support[i] += m[i, j]
                predicted[j] += m[i, j]
            }
        }
        return PrecisionRecallF1(truePositives: truePositives, predicted: predicted, support: support)
    }

    // MARK: - Quadratic weighted kappa

    /// Cohen's kappa with quadratic weights over the fixed classes `0 ..< classCount`
    /// (`sklearn.metrics.cohen_kappa_score(weights="quadratic", labels=range(C))`), the grading
    /// metric of diabetic retinopathy (grades 0–4).
    ///
    /// With `O` the confusion matrix, `aᵢ` its row sums, `bⱼ` its column sums, `N` the sample
    /// count, expected counts `Eᵢⱼ = aᵢ bⱼ / N` and weights `wᵢⱼ = (i − j)²`:
    ///
    ///     κ = 1 − Σ wᵢⱼ Oᵢⱼ / Σ wᵢⱼ Eᵢⱼ
    ///
    /// 1 is perfect agreement, 0 chance level, negative worse than chance. The class count must be
    /// fixed: a grade absent from both labels and predictions still keeps the grades around it
    /// apart (grades 2 and 4 differ by 2 even if no sample has grade 3), which scikit-learn does
    /// only when given `labels`. The weights' scale cancels, so unnormalised `(i − j)²` equals the
    /// `(i − j)² / (C − 1)²` of some write-ups.
    /// - Returns: `nil` when `Σ wᵢⱼ Eᵢⱼ = 0` (no samples, or labels and predictions all one class),
    ///   where kappa is undefined (scikit-learn: NaN).
    public static func quadraticWeightedKappa(predictions: [Int], labels: [Int], classCount: Int) -> Double? {
        var matrix = ConfusionMatrix(classCount: classCount)
        matrix.update(predictions: predictions, labels: labels)
        return quadraticWeightedKappa(confusion: matrix)
    }

    /// Quadratic weighted kappa of an accumulated confusion matrix; see
    /// `quadraticWeightedKappa(predictions:labels:classCount:)`.
    public static func quadraticWeightedKappa(confusion m: ConfusionMatrix) -> Double? {
        let c = m.classCount ?? 0
        let n = Double(m.total)
        guard n > 0 else { return nil }
        var rowSums = [Double](repeating: 0, count: c)
        var columnSums = [Double](repeating: 0, count: c)
        for i in 0..<c {
            for j in 0..<c {
                rowSums[i] += Double(m[i, j])
                columnSums[j] += Double(m[i, j])
            }
        }
        var observed = 0.0, expected = 0.0
        for i in 0..<c {
            for j in 0..<c {
                let w = Double((i - j) * (i - j))
                observed += w * Double(m[i, j])
                expected += w * rowSums[i] * columnSums[j] / n
            }
        }
        guard expected > 0 else { return nil }
        return 1 - observed / expected
    }
}
