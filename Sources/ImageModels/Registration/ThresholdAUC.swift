import Tensor
import Training

/// ROC-AUC of "grade ≥ threshold" against the rest, scoring each image by the summed softmax
/// probability of those grades: referable diabetic retinopathy (grade ≥ 2) in retina grading.
public struct ThresholdAUC: Metric {
    public let name: String
    public let threshold: Int
    fileprivate var scores: [Double] = []
    fileprivate var positives: [Int] = []

    public init(threshold: Int) {
        self.threshold = threshold
        name = threshold == 2 ? "referable_auc" : "auc_ge\(threshold)"
    }

    public mutating func update(logits: Tensor, labels: [Int]) {
        let p = logits.softmax(axis: -1).scalars
        let c = logits.shape[logits.rank - 1]
        for (i, label) in labels.enumerated() {
            scores.append((threshold..<c).reduce(0.0) { $0 + Double(p[i * c + $1]) })
            positives.append(label >= threshold ? 1 : 0)
        }
    }

    public func value() -> Double? { Metrics.rocAUC(scores: scores, labels: positives) }

    public mutating func reset() {
        scores = []
        positives = []
    }
}

extension ThresholdAUC: ROCCurveProviding {
    /// The one curve of "grade ≥ threshold" against the rest.
    public func rocCurves() -> [(name: String, points: [(fpr: Double, tpr: Double)])] {
        Metrics.rocCurve(count: scores.count, score: { scores[$0] }, isPositive: { positives[$0] == 1 })
            .map { [(name: "grade ≥ \(threshold)", points: $0)] } ?? []
    }
}
