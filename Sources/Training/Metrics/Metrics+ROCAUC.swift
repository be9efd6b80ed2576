extension Metrics {
    // MARK: - ROC-AUC

    /// The area under the ROC curve of a binary problem (`sklearn.metrics.roc_auc_score`).
    ///
    /// Samples are sorted by score, highest first; each DISTINCT score is one threshold, so a group
    /// of tied samples moves the curve diagonally, by all its positives and negatives at once, and
    /// the trapezoid under that step counts each tied positive–negative pair as half a correctly
    /// ordered pair. The area is therefore the Mann–Whitney statistic
    ///
    ///     AUC = (#{(p, n) : s_p > s_n} + ½ #{(p, n) : s_p = s_n}) / (P · N)
    ///
    /// over positive samples `p` and negative samples `n`, computed here exactly from integer
    /// counts (one division at the end). A NaN score ranks as −∞.
    ///
    /// - Parameters:
    ///   - scores: one score per sample, higher meaning more likely positive (a probability, a
    ///     logit, any monotone score).
    ///   - labels: one label per sample; `positiveClass` is positive, every other value negative.
    ///   - positiveClass: the label of the positive class (1 by default).
    /// - Returns: `nil` when there are no positives or no negatives: the curve, and so the area,
    ///   is undefined (scikit-learn warns and returns NaN).
    /// - Complexity: O(N log N).
    public static func rocAUC<Score: BinaryFloatingPoint>(scores: [Score], labels: [Int], positiveClass: Int = 1) -> Double? {
        precondition(scores.count == labels.count, "rocAUC: \(scores.count) scores but \(labels.count) labels")
        return rocAUC(count: scores.count, score: { scores[$0] }, isPositive: { labels[$0] == positiveClass })
    }

    /// The one-vs-rest ROC-AUC of each class of a multi-class problem: class `c`'s scores
    /// (column `c`) against "label is `c`", as `rocAUC(scores:labels:)`.
    /// - Returns: `[C]` areas, `nil` for a class that is every label or no label.
    /// - Complexity: O(C · N log N).
    public static func rocAUCPerClass<Score: BinaryFloatingPoint>(scores: [[Score]], labels: [Int]) -> [Double?] {
        precondition(scores.count == labels.count, "rocAUCPerClass: \(scores.count) score rows but \(labels.count) labels")
        guard let classCount = scores.first?.count else { return [] }
        for (row, label) in zip(scores, labels) {
            precondition(row.count == classCount, "rocAUCPerClass: rows of \(classCount) and \(row.count) scores")
            checkLabel(label, classCount: classCount, in: "rocAUCPerClass")
        }
        return (0..<classCount).map { c in
            rocAUC(count: labels.count, score: { scores[$0][c] }, isPositive: { labels[$0] == c })
        }
    }

    /// Macro one-vs-rest ROC-AUC of a multi-class problem: the mean of `rocAUCPerClass` over the
    /// classes where it is defined.
    ///
    /// This equals `sklearn.metrics.roc_auc_score(multi_class="ovr", average="macro")` whenever
    /// every class occurs and not every sample has one class. Where scikit-learn returns NaN for
    /// the whole average (a class absent from the labels, common in a small validation set),
    /// this averages the remaining classes instead, so the metric stays usable while training;
    /// call `rocAUCPerClass` to see which classes were skipped. Unlike scikit-learn it does not
    /// require the rows to sum to 1: any per-class scores work.
    /// - Returns: `nil` when no class has both positives and negatives.
    public static func macroROCAUC<Score: BinaryFloatingPoint>(scores: [[Score]], labels: [Int]) -> Double? {
        let defined = rocAUCPerClass(scores: scores, labels: labels).compactMap { $0 }
        guard !defined.isEmpty else { return nil }
        return defined.reduce(0, +) / Double(defined.count)
    }

    /// The binary AUC over samples `0 ..< count`, reading scores and labels through closures so
    /// that one column of a row-major matrix needs no copy.
    static func rocAUC<Score: BinaryFloatingPoint>(count: Int, score: (Int) -> Score,
                                                  isPositive: (Int) -> Bool) -> Double? {
        let keys = (0..<count).map { rankKey(score($0)) }
        let order = (0..<count).sorted { keys[$0] > keys[$1] }
        var positives = 0.0, negatives = 0.0
        // Twice the count of correctly ordered pairs (ties count 1 instead of 2), kept integral
        // in Double so that the only rounding is the final division.
        var twiceArea = 0.0
        var start = 0
        while start < count {
            var end = start
            var groupPositives = 0.0, groupNegatives = 0.0
            while end < count && keys[order[end]] == keys[order[start]] {
                if isPositive(order[end]) { groupPositives += 1 } else { groupNegatives += 1 }
                end += 1
            }
            // Each negative of this group sits below every positive seen at higher scores and
            // ties with the positives of its own group.
            twiceArea += groupNegatives * (2 * positives + groupPositives)
            positives += groupPositives
            negatives += groupNegatives
            start = end
        }
        guard positives > 0 && negatives > 0 else { return nil }
        return twiceArea / (2 * positives * negatives)
    }
}
