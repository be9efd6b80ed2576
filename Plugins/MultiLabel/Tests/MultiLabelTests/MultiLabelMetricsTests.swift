import LoRAKit
import MultiLabel
import XCTest

/// The metrics on a hand-worked example, counted in the comments (scikit-learn's definitions:
/// f1_score with average=None/"micro"/"macro", accuracy_score and hamming_loss on indicator rows).
///
///     truth      predicted
///     1 0 0      1 0 0      exact
///     1 1 0      1 0 0      misses label 1
///     0 1 0      1 1 0      extra label 0
///     1 0 0      1 0 1      extra label 2
final class MultiLabelMetricsTests: XCTestCase {
    func testHandWorkedCounts() {
        let truth: [[Bool]] = [[true, false, false], [true, true, false], [false, true, false], [true, false, false]]
        let predicted: [[Bool]] = [[true, false, false], [true, false, false], [true, true, false], [true, false, true]]
        var counts = MultiLabelMetrics.Counts(labels: 3)
        counts.add(predicted: predicted.flatMap { $0 }, truth: truth.flatMap { $0 })
        // Label 0: predicted on rows 0–3, true on rows 0, 1, 3 → TP 3, FP 1, FN 0 → 6/7.
        // Label 1: predicted on row 2, true on rows 1, 2 → TP 1, FP 0, FN 1 → 2/3.
        // Label 2: predicted on row 3, never true → TP 0, FP 1, FN 0 → 0.
        XCTAssertEqual(counts.truePositives, [3, 1, 0])
        XCTAssertEqual(counts.falsePositives, [1, 0, 1])
        XCTAssertEqual(counts.falseNegatives, [0, 1, 0])
        XCTAssertEqual(counts.f1(0), 6.0 / 7, accuracy: 1e-12)
        XCTAssertEqual(counts.f1(1), 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(counts.f1(2), 0)
        // Micro: TP 4, FP 2, FN 1 → 8 / 11.
        XCTAssertEqual(counts.microF1, 8.0 / 11, accuracy: 1e-12)
        XCTAssertEqual(counts.macroF1, (6.0 / 7 + 2.0 / 3) / 3, accuracy: 1e-12)
        // One of four rows exact; 3 wrong flags of 12.
        XCTAssertEqual(counts.subsetAccuracy, 0.25)
        XCTAssertEqual(counts.hammingLoss, 0.25)
    }

    func testEvaluationThresholdsLogitsAtZeroAndNamesPerLabelF1() {
        var evaluation = MultiLabelEvaluation(labelNames: ["a", "b"], metrics: ["micro_f1", "per_label_f1", "subset_accuracy"])
        // Logits > 0 ⇔ sigmoid > 0.5: row 0 predicts {a}, row 1 predicts {a, b}.
        evaluation.add(MultiLabelPredictions(logits: Tensor([2, -1, 0.5, 3], shape: [2, 2]), targets: Tensor([1, 0, 0, 1], shape: [2, 2])))
        let values = evaluation.values()
        XCTAssertEqual(Set(values.keys), ["micro_f1", "f1_a", "f1_b", "subset_accuracy"])
        // a: TP 1, FP 1 → 2/3; b: TP 1 → 1; micro: TP 2, FP 1 → 4/5.
        XCTAssertEqual(values["f1_a"]!, 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(values["f1_b"]!, 1)
        XCTAssertEqual(values["micro_f1"]!, 0.8, accuracy: 1e-12)
        XCTAssertEqual(values["subset_accuracy"]!, 0.5)
    }
}
