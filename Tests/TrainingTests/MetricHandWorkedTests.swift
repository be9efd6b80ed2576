import Foundation
import Tensor
import Training
import XCTest

/// Small cases worked by hand (in the comments), for the rules the fixtures do not isolate: tie
/// rules, NaN scores, undefined values, single-logit input, ignored labels, and the registry.
final class MetricHandWorkedTests: XCTestCase {
    func testQuadraticWeightedKappaOfThreeClasses() throws {
        // labels      0 0 1 1 2 2        O (rows = label)   a (row sums)   b (column sums)
        // predictions 0 1 1 2 2 2        [1 1 0]            2              1
        //                                [0 1 1]            2              2
        //                                [0 0 2]            2              3
        // w = (i − j)²: [[0 1 4] [1 0 1] [4 1 0]]; N = 6.
        // Σ w·O = O₀₁·1 + O₁₂·1 = 2.
        // E = a bᵀ / N: every row is [1/3, 2/3, 1].
        // Σ w·E = (2/3 + 4) + (1/3 + 1) + (4/3 + 2/3) = 14/3 + 4/3 + 2 = 8.
        // κ = 1 − 2/8 = 0.75.
        let kappa = try XCTUnwrap(Metrics.quadraticWeightedKappa(predictions: [0, 1, 1, 2, 2, 2],
                                                                 labels: [0, 0, 1, 1, 2, 2], classCount: 3))
        XCTAssertEqual(kappa, 0.75, accuracy: 1e-15)

        // Perfect agreement is 1; complete reversal of 0 and 2 is κ = 1 − 8/4 = −1
        // (O = [[0 0 1] [0 0 0] [1 0 0]], Σ w·O = 8, a = b = [1 0 1], E = [[.5 0 .5] [0 0 0] [.5 0 .5]],
        // Σ w·E = 4·0.5 + 4·0.5 = 4).
        XCTAssertEqual(Metrics.quadraticWeightedKappa(predictions: [0, 1, 2], labels: [0, 1, 2], classCount: 3), 1)
        XCTAssertEqual(Metrics.quadraticWeightedKappa(predictions: [2, 0], labels: [0, 2], classCount: 3), -1)

        // Everything one class: no expected disagreement, kappa undefined.
        XCTAssertNil(Metrics.quadraticWeightedKappa(predictions: [1, 1], labels: [1, 1], classCount: 3))
        XCTAssertNil(Metrics.quadraticWeightedKappa(predictions: [], labels: [], classCount: 3))
    }

    func testPrecisionRecallF1WithAnAbsentClass() {
        // labels [0 1 1], predictions [0 0 1], classes 0..<3:
        // class 0: tp 1, predicted 2, support 1 → P 1/2, R 1,   F1 2·1/(2+1) = 2/3
        // class 1: tp 1, predicted 1, support 2 → P 1,   R 1/2, F1 2/3
        // class 2: never seen                  → 0, 0, 0 (zero_division = 0), still in the macro.
        let s = Metrics.precisionRecallF1(predictions: [0, 0, 1], labels: [0, 1, 1], classCount: 3)
        XCTAssertEqual(s.precision, [0.5, 1, 0])
        XCTAssertEqual(s.recall, [1, 0.5, 0])
        XCTAssertEqual(s.f1[0], 2.0 / 3, accuracy: 1e-15)
        XCTAssertEqual(s.f1[1], 2.0 / 3, accuracy: 1e-15)
        XCTAssertEqual(s.f1[2], 0)
        XCTAssertEqual(s.support, [1, 2, 0])
        XCTAssertEqual(s.macroPrecision, 0.5, accuracy: 1e-15)
        XCTAssertEqual(s.macroRecall, 0.5, accuracy: 1e-15)
        XCTAssertEqual(s.macroF1, 4.0 / 9, accuracy: 1e-15)
    }

    func testConfusionMatrixRowsAreTrueLabels() {
        XCTAssertEqual(Metrics.confusionMatrix(predictions: [1, 1, 1], labels: [0, 0, 1], classCount: 2), [[0, 2], [0, 1]])
        var m = ConfusionMatrix(classCount: 3)
        m.add(prediction: 2, label: 0)
        m.update(predictions: [0, 0], labels: [0, 1])
        XCTAssertEqual(m[0, 2], 1)
        XCTAssertEqual(m[1, 0], 1)
        XCTAssertEqual(m.total, 3)
        XCTAssertEqual(m.correct, 1)
        m.reset()
        XCTAssertEqual(m.rows, [[0, 0, 0], [0, 0, 0], [0, 0, 0]])
        XCTAssertNil(m.accuracy)
    }

    func testROCAUCCountsTiedPairsAsHalf() throws {
        // scikit-learn's docstring example: positives 0.35, 0.8; negatives 0.1, 0.4.
        // Ordered pairs: (0.35 > 0.1), (0.8 > 0.1), (0.8 > 0.4); (0.35 < 0.4) → 3/4.
        XCTAssertEqual(try XCTUnwrap(Metrics.rocAUC(scores: [0.1, 0.4, 0.35, 0.8], labels: [0, 0, 1, 1])), 0.75)
        // Positives 0.5, 0.9; negatives 0.5, 0.2: (0.5 = 0.5) counts ½, the other three pairs 1
        // each → 3.5/4 (one threshold at 0.5 moves the curve diagonally).
        XCTAssertEqual(try XCTUnwrap(Metrics.rocAUC(scores: [0.5, 0.5, 0.2, 0.9], labels: [1, 0, 0, 1])), 0.875)
        // Every score equal: the diagonal, ½.
        XCTAssertEqual(try XCTUnwrap(Metrics.rocAUC(scores: [Float](repeating: 3, count: 5), labels: [0, 1, 1, 0, 1])), 0.5)
        // A NaN score ranks as −∞: a NaN positive lies below the negative.
        XCTAssertEqual(try XCTUnwrap(Metrics.rocAUC(scores: [.nan, 0.3], labels: [1, 0])), 0)
        // Another positive class.
        XCTAssertEqual(try XCTUnwrap(Metrics.rocAUC(scores: [0.9, 0.1], labels: [7, 3], positiveClass: 7)), 1)
        // Undefined without negatives or without positives.
        XCTAssertNil(Metrics.rocAUC(scores: [0.2, 0.7], labels: [1, 1]))
        XCTAssertNil(Metrics.rocAUC(scores: [0.2, 0.7], labels: [0, 0]))
        XCTAssertNil(Metrics.rocAUC(scores: [Double](), labels: []))
    }

    func testMacroROCAUCSkipsClassesWithoutPositives() throws {
        // Class 2 never occurs: its AUC is undefined and the macro averages classes 0 and 1.
        // Class 0 (positive: sample 0): 0.7 vs 0.2, 0.1 → 1. Class 1 (positives: 1, 2): scores
        // 0.6, 0.3 vs negative 0.2 → 1.
        let scores: [[Double]] = [[0.7, 0.2, 0.1], [0.2, 0.6, 0.2], [0.1, 0.3, 0.6]]
        let perClass = Metrics.rocAUCPerClass(scores: scores, labels: [0, 1, 1])
        XCTAssertEqual(perClass.count, 3)
        XCTAssertEqual(perClass[0], 1)
        XCTAssertEqual(perClass[1], 1)
        XCTAssertNil(perClass[2])
        XCTAssertEqual(Metrics.macroROCAUC(scores: scores, labels: [0, 1, 1]), 1)
        XCTAssertNil(Metrics.macroROCAUC(scores: [[0.5, 0.5]], labels: [1]))
    }

    func testTopKTiesFavourTheLargerClassIndexAsScikitLearn() {
        // Row [0.5, 0.5, 0]: class 1 outranks class 0 (larger index wins a tie).
        let row: [[Float]] = [[0.5, 0.5, 0]]
        XCTAssertEqual(Metrics.topKAccuracy(scores: row, labels: [0], k: 1), 0)
        XCTAssertEqual(Metrics.topKAccuracy(scores: row, labels: [1], k: 1), 1)
        XCTAssertEqual(Metrics.topKAccuracy(scores: row, labels: [0], k: 2), 1)
        XCTAssertEqual(Metrics.topKAccuracy(scores: row, labels: [2], k: 2), 0)
        XCTAssertEqual(Metrics.topKAccuracy(scores: row, labels: [2], k: 3), 1)
        // NaN ranks last.
        XCTAssertEqual(Metrics.topKAccuracy(scores: [[Float.nan, -5, -6]], labels: [0], k: 2), 0)
        XCTAssertNil(Metrics.topKAccuracy(scores: [[Double]](), labels: [], k: 1))
        // Argmax accuracy takes the first maximum instead.
        var accuracy = Accuracy()
        accuracy.update(logits: Tensor([1, 1, 0], shape: [1, 3]), labels: [0])
        XCTAssertEqual(accuracy.value(), 1)
        var top1 = TopKAccuracy(k: 1)
        top1.update(logits: Tensor([1, 1, 0], shape: [1, 3]), labels: [0])
        XCTAssertEqual(top1.value(), 0)
    }

    func testAccuracyAndLosses() {
        XCTAssertEqual(Metrics.accuracy(predictions: [1, 2, 3, 0], labels: [1, 2, 0, 0]), 0.75)
        XCTAssertNil(Metrics.accuracy(predictions: [], labels: []))
        // (1·2 + 4·6) / (2 + 6) = 26/8.
        XCTAssertEqual(Metrics.meanLoss([1, 4], batchSizes: [2, 6]), 3.25)
        XCTAssertNil(Metrics.meanLoss([1], batchSizes: [0]))
        XCTAssertEqual(try XCTUnwrap(Metrics.perplexity(tokenNegativeLogLikelihoods: [log(2), log(8)])), 4, accuracy: 1e-12)
        XCTAssertNil(Metrics.perplexity(tokenNegativeLogLikelihoods: []))
    }

    func testSingleBinaryLogitIsTheRowZeroZ() throws {
        // z = [2, −1, 0] read as rows [0, z]: predictions [1, 0, 0] (z = 0 ties, first maximum is
        // class 0); labels [1, 0, 1] → accuracy 2/3. P(class 1) = sigmoid(z) orders the samples
        // 2 > 0 > −1; the negative (−1) is below both positives → AUC 1.
        let logits = Tensor([2, -1, 0])
        var accuracy = Accuracy()
        var auc = ROCAUC()
        var confusion = ConfusionMatrix()
        accuracy.update(logits: logits, labels: [1, 0, 1])
        auc.update(logits: logits.reshaped([3, 1]), labels: [1, 0, 1])
        confusion.update(logits: logits, labels: [1, 0, 1])
        XCTAssertEqual(try XCTUnwrap(accuracy.value()), 2.0 / 3, accuracy: 1e-15)
        XCTAssertEqual(auc.value(), 1)
        XCTAssertEqual(confusion.classCount, 2)
        XCTAssertEqual(confusion.rows, [[1, 0], [1, 1]])
    }

    func testIgnoredLabelsAndIntegerLabelTensors() throws {
        // Uniform logits over 4 classes: every token's NLL is log 4, perplexity 4; the ignored
        // token (label −100, with a confident row) changes nothing.
        let logits = Tensor([0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0], shape: [1, 3, 4])
        var ppl = Perplexity()
        ppl.update(logits: logits, labels: Tensor(indices: [1, 3, -100], shape: [1, 3]))
        XCTAssertEqual(try XCTUnwrap(ppl.value()), 4, accuracy: 1e-12)
        XCTAssertEqual(ppl.tokenCount, 2)
        var accuracy = Accuracy()
        accuracy.update(logits: logits, labels: [0, 1, -100])
        XCTAssertEqual(accuracy.total, 2)
        XCTAssertEqual(accuracy.value(), 0.5)
        var custom = Accuracy(ignoreIndex: 0)
        custom.update(logits: logits, labels: [0, 1, 0])
        XCTAssertEqual(custom.total, 1)
        XCTAssertNil(Accuracy().value())
    }

    // MARK: - Registry

    struct CountSamples: Metric {
        var seen = 0
        var name: String { "count_samples" }
        mutating func update(logits: Tensor, labels: [Int]) { seen += labels.count }
        func value() -> Double? { Double(seen) }
        mutating func reset() { seen = 0 }
    }

    func testRegistryNamesAndFamilies() throws {
        let registry = MetricRegistry.builtIn
        XCTAssertEqual(registry.names, ["accuracy", "macro_f1", "macro_precision", "macro_recall", "perplexity", "qwk", "roc_auc"])
        XCTAssertEqual(registry.patternDescriptions, ["top<k>_accuracy"])
        for name in registry.names { XCTAssertEqual(try registry.make(name).name, name) }
        let top5 = try registry.make("top5_accuracy")
        XCTAssertEqual(top5.name, "top5_accuracy")
        XCTAssertEqual((top5 as? TopKAccuracy)?.k, 5)
        XCTAssertTrue(registry.contains("top12_accuracy"))
        for bad in ["top0_accuracy", "top05_accuracy", "top-1_accuracy", "top_accuracy", "topk_accuracy"] {
            XCTAssertFalse(registry.contains(bad), bad)
        }
        XCTAssertThrowsError(try registry.make("acurracy")) { error in
            guard case let MetricError.unknownName(name, suggestion, known) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "acurracy")
            XCTAssertEqual(suggestion, "accuracy")
            XCTAssertTrue(known.contains("qwk"))
            XCTAssertTrue("\(error)".contains("Did you mean 'accuracy'?"))
        }
        XCTAssertThrowsError(try registry.make("completely_unrelated_name")) { error in
            guard case MetricError.unknownName(_, nil, _) = error else { return XCTFail("\(error)") }
        }
    }

    func testPluginsRegisterIntoTheirOwnRegistryValue() throws {
        let base = MetricRegistry.builtIn
        var run = base
        try run.register("count_samples") { CountSamples() }
        XCTAssertThrowsError(try run.register("accuracy") { CountSamples() }) {
            XCTAssertEqual($0 as? MetricError, .duplicateName("accuracy"))
        }
        XCTAssertThrowsError(try run.register("two words") { CountSamples() }) {
            XCTAssertEqual($0 as? MetricError, .invalidName("two words"))
        }
        try run.register("accuracy", replacing: true) { Accuracy(ignoreIndex: -1) }
        run.register(pattern: "recall_at_<k>") { name in name.hasPrefix("recall_at_") ? CountSamples() : nil }

        var metric = try run.make("count_samples")
        metric.update(logits: Tensor([0, 1, 2, 3], shape: [2, 2]), labels: [0, 1])
        XCTAssertEqual(metric.value(), 2)
        XCTAssertEqual((try run.make("accuracy") as? Accuracy)?.ignoreIndex, -1)
        XCTAssertNotNil(try? run.make("recall_at_3"))
        // The original value is untouched: registries are values, not globals.
        XCTAssertFalse(base.contains("count_samples"))
        XCTAssertFalse(base.contains("recall_at_3"))
        XCTAssertEqual((try base.make("accuracy") as? Accuracy)?.ignoreIndex, -100)
    }
}
