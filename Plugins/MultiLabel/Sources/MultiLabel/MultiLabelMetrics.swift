import Foundation
import LoRAKit

/// Multi-label metrics as pure functions of predicted and true label sets (one row of `C` flags
/// per example), with scikit-learn's definitions:
///
/// - `f1(label)`: `2·TP / (2·TP + FP + FN)` of that label's column (`f1_score(average=None)`);
///   0 when the label is never predicted nor true (scikit-learn's `zero_division=0`).
/// - `micro_f1`: the same over the pooled counts of every label (`average="micro"`).
/// - `macro_f1`: the mean of the per-label F1 (`average="macro"`).
/// - `subset_accuracy`: the fraction of examples whose predicted set equals the true set
///   (`accuracy_score` on label indicator rows).
/// - `hamming_loss`: the fraction of wrong flags (`hamming_loss`).
public enum MultiLabelMetrics {
    /// The metric names recipes use; `per_label_f1` reports `f1_<label>` for every label.
    public static let names = ["micro_f1", "macro_f1", "subset_accuracy", "hamming_loss", "per_label_f1"]

    public struct Counts: Equatable {
        public var truePositives: [Int]
        public var falsePositives: [Int]
        public var falseNegatives: [Int]
        public var exactRows = 0
        public var wrongFlags = 0
        public var rows = 0

        public init(labels: Int) {
            truePositives = [Int](repeating: 0, count: labels)
            falsePositives = truePositives
            falseNegatives = truePositives
        }

        /// Adds rows of predicted and true flags, both `rows × labels` in row-major order.
        public mutating func add(predicted: [Bool], truth: [Bool]) {
            let c = truePositives.count
            precondition(predicted.count == truth.count && predicted.count % c == 0,
                         "MultiLabelMetrics: \(predicted.count) predictions and \(truth.count) truths for \(c) labels")
            for r in 0..<(predicted.count / c) {
                var exact = true
                for j in 0..<c {
                    let p = predicted[r * c + j], t = truth[r * c + j]
                    if p && t { truePositives[j] += 1 }
                    if p && !t { falsePositives[j] += 1 }
                    if !p && t { falseNegatives[j] += 1 }
                    if p != t { exact = false; wrongFlags += 1 }
                }
                if exact { exactRows += 1 }
                rows += 1
            }
        }

        public func f1(_ label: Int) -> Double {
            let denominator = 2 * truePositives[label] + falsePositives[label] + falseNegatives[label]
            return denominator == 0 ? 0 : Double(2 * truePositives[label]) / Double(denominator)
        }

        public var microF1: Double {
            let tp = truePositives.reduce(0, +), fp = falsePositives.reduce(0, +), fn = falseNegatives.reduce(0, +)
            return 2 * tp + fp + fn == 0 ? 0 : Double(2 * tp) / Double(2 * tp + fp + fn)
        }

        public var macroF1: Double {
            truePositives.isEmpty ? 0 : truePositives.indices.map(f1).reduce(0, +) / Double(truePositives.count)
        }

        public var subsetAccuracy: Double? { rows == 0 ? nil : Double(exactRows) / Double(rows) }

        public var hammingLoss: Double? { rows == 0 ? nil : Double(wrongFlags) / Double(rows * truePositives.count) }
    }
}

/// The evaluation of a multi-label task: logits thresholded at 0 (a sigmoid probability above 0.5)
/// against the targets, accumulated over the pass.
public struct MultiLabelEvaluation: TaskEvaluation {
    public let labelNames: [String]
    public let metrics: [String]
    public private(set) var counts: MultiLabelMetrics.Counts

    public init(labelNames: [String], metrics: [String]) {
        self.labelNames = labelNames
        self.metrics = metrics
        counts = MultiLabelMetrics.Counts(labels: labelNames.count)
    }

    public mutating func add(_ predictions: MultiLabelPredictions) {
        counts.add(predicted: predictions.logits.scalars.map { $0 > 0 }, truth: predictions.targets.scalars.map { $0 > 0.5 })
    }

    public func values() -> [String: Double] {
        var result: [String: Double] = [:]
        for name in metrics {
            switch name {
            case "micro_f1": result[name] = counts.microF1
            case "macro_f1": result[name] = counts.macroF1
            case "subset_accuracy": result[name] = counts.subsetAccuracy
            case "hamming_loss": result[name] = counts.hammingLoss
            case "per_label_f1": for (j, label) in labelNames.enumerated() { result["f1_\(label)"] = counts.f1(j) }
            default: break
            }
        }
        return result
    }
}

/// What multi-label metrics read from a batch: logits and targets, both `[N, labels]`.
public struct MultiLabelPredictions {
    public var logits: Tensor
    public var targets: Tensor

    public init(logits: Tensor, targets: Tensor) {
        self.logits = logits
        self.targets = targets
    }
}
