import Foundation

/// Evaluation metrics as pure functions of predictions, scores and labels, all in `Double`.
///
/// Each function matches scikit-learn's definition (named in its documentation) and is tested
/// against values that scikit-learn computed (`scripts/make_metric_fixtures.py`). Classes are
/// `0 ..< classCount`; labels outside that range, or inputs of different lengths, are programmer
/// errors (`precondition`), as they are for `crossEntropy`. A function returns `nil` exactly where
/// the metric is undefined for valid input (no samples, a ROC curve without positives or without
/// negatives, a kappa without expected disagreement), where scikit-learn returns NaN.
///
/// Scores may be any floating-point type. A NaN score ranks as −∞: a NaN prediction never helps.
///
/// The accumulating forms that the trainer feeds batch by batch (`Accuracy`, `MacroF1`,
/// `ROCAUC`, …) conform to `Metric`; `MetricRegistry` names them for recipes.
public enum Metrics {
    // MARK: - Accuracy

    /// The fraction of predictions equal to their label (`sklearn.metrics.accuracy_score`):
    /// `(1/N) Σᵢ [predictionᵢ = labelᵢ]`.
    /// - Returns: `nil` when there are no samples.
    public static func accuracy(predictions: [Int], labels: [Int]) -> Double? {
        precondition(predictions.count == labels.count,
                     "accuracy: \(predictions.count) predictions but \(labels.count) labels")
        guard !labels.isEmpty else { return nil }
        let correct = zip(predictions, labels).reduce(0) { $0 + ($1.0 == $1.1 ? 1 : 0) }
        return Double(correct) / Double(labels.count)
    }

    /// The fraction of samples whose label is among the `k` highest-ranked classes
    /// (`sklearn.metrics.top_k_accuracy_score` with `labels=range(C)`).
    ///
    /// Ties follow scikit-learn, which ranks with a stable ascending sort and reverses it: among
    /// equal scores the class with the LARGER index ranks higher. So label `l` is a hit when fewer
    /// than `k` classes `j` have `sⱼ > sₗ`, or `sⱼ = sₗ` and `j > l`. Note that this differs from
    /// `argmax` (first maximum, as in NumPy and PyTorch), so with tied scores top-1 accuracy can
    /// differ from `accuracy` of the argmax predictions. `k ≥ C` gives 1.
    ///
    /// - Parameters:
    ///   - scores: `N` rows of `C` scores (logits or probabilities; only their order matters).
    ///   - labels: `N` classes in `0 ..< C`.
    ///   - k: how many top classes count, `k ≥ 1`.
    /// - Returns: `nil` when there are no samples.
    /// - Complexity: O(N·C).
    public static func topKAccuracy<Score: BinaryFloatingPoint>(scores: [[Score]], labels: [Int], k: Int) -> Double? {
        precondition(k >= 1, "topKAccuracy: k must be at least 1, got \(k)")
        precondition(scores.count == labels.count, "topKAccuracy: \(scores.count) score rows but \(labels.count) labels")
        guard !labels.isEmpty else { return nil }
        var hits = 0
        for (row, label) in zip(scores, labels) {
            precondition(row.count == scores[0].count, "topKAccuracy: rows of \(scores[0].count) and \(row.count) scores")
            checkLabel(label, classCount: row.count, in: "topKAccuracy")
            if row.withUnsafeBufferPointer({ isTopK(label: label, in: $0, k: k) }) { hits += 1 }
        }
        return Double(hits) / Double(labels.count)
    }

    // MARK: - Confusion matrix

    /// The `C × C` confusion matrix (`sklearn.metrics.confusion_matrix` with `labels=range(C)`):
    /// row = true label, column = prediction, so `m[i][j]` counts samples of class `i` predicted
    /// as `j`.
    public static func confusionMatrix(predictions: [Int], labels: [Int], classCount: Int) -> [[Int]] {
        var matrix = ConfusionMatrix(classCount: classCount)
        matrix.update(predictions: predictions, labels: labels)
        return matrix.rows
    }

    // MARK: - Losses

    /// The mean of per-batch mean losses weighted by batch size, `Σ lᵢ nᵢ / Σ nᵢ`: the loss of
    /// the whole set when each `lᵢ` is a batch mean over `nᵢ` samples (or tokens).
    /// - Returns: `nil` when the sizes sum to 0.
    public static func meanLoss(_ batchLosses: [Double], batchSizes: [Int]) -> Double? {
        precondition(batchLosses.count == batchSizes.count,
                     "meanLoss: \(batchLosses.count) losses but \(batchSizes.count) batch sizes")
        var accumulator = MeanLoss()
        for (loss, size) in zip(batchLosses, batchSizes) { accumulator.add(loss, count: size) }
        return accumulator.mean
    }

    /// Perplexity, `exp` of the mean negative log-likelihood per token, from batch-mean token
    /// losses (natural log) and each batch's token count: `exp(Σ lᵢ nᵢ / Σ nᵢ)`.
    /// - Returns: `nil` when there are no tokens.
    public static func perplexity(_ batchLosses: [Double], tokenCounts: [Int]) -> Double? {
        meanLoss(batchLosses, batchSizes: tokenCounts).map { Foundation.exp($0) }
    }

    /// Perplexity from each token's negative log-likelihood: `exp((1/T) Σₜ nllₜ)`.
    /// - Returns: `nil` when there are no tokens.
    public static func perplexity(tokenNegativeLogLikelihoods nll: [Double]) -> Double? {
        guard !nll.isEmpty else { return nil }
        return Foundation.exp(nll.reduce(0, +) / Double(nll.count))
    }

    // MARK: - Shared helpers

    static func checkLabel(_ label: Int, classCount: Int, in function: String) {
        precondition((0..<classCount).contains(label),
                     "\(function): label \(label) is outside the classes 0..<\(classCount)")
    }

    /// The score as it ranks: NaN counts as −∞.
    @inline(__always)
    static func rankKey<Score: BinaryFloatingPoint>(_ x: Score) -> Score { x.isNaN ? -.infinity : x }

    /// Whether `label` is among the top `k` of `row` under scikit-learn's tie rule (larger index
    /// wins a tie).
    static func isTopK<Score: BinaryFloatingPoint>(label: Int, in row: UnsafeBufferPointer<Score>, k: Int) -> Bool {
        let own = rankKey(row[label])
        var above = 0
        for j in 0..<row.count where j != label {
            let s = rankKey(row[j])
            if s > own || (s == own && j > label) {
                above += 1
                if above >= k { return false }
            }
        }
        return true
    }

    /// The index of the first maximum (NumPy's and PyTorch's `argmax`), NaN counting as −∞.
    static func argmax<Score: BinaryFloatingPoint>(_ row: UnsafeBufferPointer<Score>) -> Int {
        precondition(!row.isEmpty, "argmax of an empty row")
        var best = 0
        var bestKey = rankKey(row[0])
        for j in 1..<row.count where rankKey(row[j]) > bestKey {
            best = j
            bestKey = rankKey(row[j])
        }
        return best
    }
}
