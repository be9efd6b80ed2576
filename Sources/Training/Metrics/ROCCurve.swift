/// A metric that can show the ROC curves behind its value (for reports): `ROCAUC` per class
/// (class 1 for two classes), a threshold AUC its one curve.
public protocol ROCCurveProviding: Metric {
    /// Named curves, each the points (false positive rate, true positive rate) from (0, 0) to (1, 1).
    func rocCurves() -> [(name: String, points: [(fpr: Double, tpr: Double)])]
}

extension Metrics {
    /// The ROC curve of binary scores: one point per distinct score threshold, from (0, 0) to
    /// (1, 1), as `sklearn.metrics.roc_curve(drop_intermediate=False)` gives them (ties form one
    /// step). A NaN score ranks lowest. Nil without positives or without negatives.
    public static func rocCurve(count: Int, score: (Int) -> Double, isPositive: (Int) -> Bool) -> [(fpr: Double, tpr: Double)]? {
        let positives = (0..<count).filter(isPositive).count, negatives = count - positives
        guard positives > 0, negatives > 0 else { return nil }
        let keys = (0..<count).map { i -> Double in let s = score(i); return s.isNaN ? -.infinity : s }
        let key = { (i: Int) in keys[i] }
        let order = (0..<count).sorted { keys[$0] > keys[$1] }
        var points: [(fpr: Double, tpr: Double)] = [(0, 0)]
        var tp = 0, fp = 0, i = 0
        while i < order.count {
            let threshold = key(order[i])
            while i < order.count && key(order[i]) == threshold {
                if isPositive(order[i]) { tp += 1 } else { fp += 1 }
                i += 1
            }
            points.append((Double(fp) / Double(negatives), Double(tp) / Double(positives)))
        }
        return points
    }
}

extension ROCAUC: ROCCurveProviding {
    public func rocCurves() -> [(name: String, points: [(fpr: Double, tpr: Double)])] {
        let scores = classProbabilities()
        guard let c = scores.first?.count else { return [] }
        let classes = c == 2 ? [1] : Array(0..<c)
        return classes.compactMap { k in
            Metrics.rocCurve(count: scores.count, score: { scores[$0][k] }, isPositive: { labelsSeen[$0] == k })
                .map { (name: c == 2 ? "class 1" : "class \(k)", points: $0) }
        }
    }
}
