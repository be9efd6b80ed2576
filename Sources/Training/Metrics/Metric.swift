import Foundation
import Tensor

/// A metric accumulated over the batches of an evaluation: the trainer calls `update` with each
/// batch's logits and labels, reads `value()` at the end, and calls `reset()` before the next
/// evaluation. Values are exact functions of everything seen since the last reset — never
/// averages of per-batch values — so they equal the pure `Metrics` functions on the whole set.
///
/// Logits are read as rows of class scores:
/// - `[N, C]` (`C ≥ 2`): one row per sample; `[..., C]` (e.g. `[B, T, C]` for tokens) is
///   flattened to rows, and labels are given in the same row-major order;
/// - `[N]` or `[N, 1]`: one binary logit `z` per sample (`binaryCrossEntropyWithLogits`), read
///   as the two-class row `[0, z]`, so that class 1's softmax probability is `sigmoid(z)` and
///   the prediction is 1 exactly when `z > 0`.
///
/// Labels equal to the metric's `ignoreIndex` (−100 by default, as in `crossEntropy`) are
/// skipped; every other label must be a class in `0 ..< C` (a precondition, as in
/// `crossEntropy`: check user labels early with `validateClassTargets`). The class count is fixed
/// by the first update; later batches must have the same.
///
/// Conformers are value types: copying a metric copies its state.
public protocol Metric {
    /// The name recipes and reports use (`"accuracy"`, `"top5_accuracy"`, …).
    var name: String { get }
    /// Whether larger values are better (true for every metric here except perplexity), so that
    /// early stopping and best-checkpoint selection can compare values without knowing the metric.
    var higherIsBetter: Bool { get }
    /// Adds one batch: `logits` as described on `Metric`, one label per logit row.
    mutating func update(logits: Tensor, labels: [Int])
    /// The value over everything since the last reset; `nil` while undefined (no samples yet,
    /// or a metric-specific case such as ROC-AUC without negatives).
    func value() -> Double?
    /// Forgets every sample.
    mutating func reset()
}

extension Metric {
    public var higherIsBetter: Bool { true }

    /// Adds one batch whose labels are an integer tensor (`Tensor(shape:indices:)`), one per
    /// logit row.
    public mutating func update(logits: Tensor, labels: Tensor) {
        update(logits: logits, labels: labels.indexScalars)
    }
}

/// The rows of a logits tensor as metrics read them (see `Metric`): plain F32 rows of `columns`
/// scores, a single column standing for the binary row `[0, z]`.
struct LogitRows {
    let values: Tensor
    let rowCount: Int
    let columns: Int

    /// The number of classes: the column count, or 2 for a single binary logit.
    var classCount: Int { columns == 1 ? 2 : columns }

    init(_ logits: Tensor, labelCount: Int, metric: String) {
        precondition(logits.rank >= 1, "\(metric): logits need rank ≥ 1, shape is \(logits.shape)")
        columns = logits.rank == 1 ? 1 : logits.shape[logits.rank - 1]
        precondition(columns >= 1, "\(metric): logits of shape \(logits.shape) have no class scores")
        rowCount = logits.count / columns
        precondition(rowCount == labelCount,
                     "\(metric): logits of shape \(logits.shape) have \(rowCount) rows but there are \(labelCount) labels")
        values = logits.detached().toFloat32().plain()
    }

    func checkClassCount(_ known: Int, metric: String) {
        precondition(classCount == known,
                     "\(metric): logits have \(classCount) classes but earlier batches had \(known)")
    }

    /// Calls `body` with each row's class scores and its label, skipping ignored labels.
    func forEach(labels: [Int], ignoreIndex: Int, metric: String,
                 _ body: (UnsafeBufferPointer<Float>, Int) -> Void) {
        let classes = classCount
        values.withUnsafeBytes { raw in
            let all = raw.bindMemory(to: Float.self)
            var pair: [Float] = [0, 0]
            for (r, label) in labels.enumerated() where label != ignoreIndex {
                Metrics.checkLabel(label, classCount: classes, in: metric)
                if columns == 1 {
                    pair[1] = all[r]
                    pair.withUnsafeBufferPointer { body($0, label) }
                } else {
                    body(UnsafeBufferPointer(rebasing: all[(r * columns)..<(r * columns + columns)]), label)
                }
            }
        }
    }

    /// The softmax of a row in Double, appended to `out`: `exp(xᵢ − m) / Σⱼ exp(xⱼ − m)` with `m`
    /// the row's maximum.
    static func appendSoftmax(of row: UnsafeBufferPointer<Float>, to out: inout [Double]) {
        let m = Double(row.max() ?? 0)
        let start = out.count
        var sum = 0.0
        for x in row {
            let e = Foundation.exp(Double(x) - m)
            out.append(e)
            sum += e
        }
        for i in start..<out.count { out[i] /= sum }
    }

    /// `−log softmax(row)[label]` in Double: `m + log Σⱼ exp(xⱼ − m) − x_label`.
    static func negativeLogLikelihood(of row: UnsafeBufferPointer<Float>, label: Int) -> Double {
        let m = Double(row.max() ?? 0)
        var sum = 0.0
        for x in row { sum += Foundation.exp(Double(x) - m) }
        return m + Foundation.log(sum) - Double(row[label])
    }
}
