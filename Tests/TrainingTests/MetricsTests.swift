import Foundation
import Tensor
import Training
import XCTest

/// The metrics against values scikit-learn computed (`scripts/make_metric_fixtures.py`): the pure
/// `Metrics` functions on predictions and scores, and the accumulating `Metric`s on logits fed
/// whole and in batches. Every value is an exact formula, so the tolerance is 1e-9.
final class MetricsTests: XCTestCase {
    let tolerance = 1e-9

    // MARK: - Fixtures

    struct Expected: Decodable {
        let accuracy: Double
        let confusion: [[Int]]
        let precision: [Double]
        let recall: [Double]
        let f1: [Double]
        let support: [Int]
        let macroPrecision: Double
        let macroRecall: Double
        let macroF1: Double
        let qwk: Double?
        let rocAuc: Double?
        let rocAucPerClass: [Double?]?
        let rocAucMacro: Double?
        let topK: [String: Double]?
        let perplexity: Double?
    }

    struct ClassificationCase: Decodable {
        let name: String
        let classes: Int
        let labels: [Int]
        let predictions: [Int]
        let binaryScores: [Double]?
        let scores: [[Double]]?
        let expected: Expected
    }

    struct LogitsCase: Decodable {
        let name: String
        let shape: [Int]
        let logits: [Double]
        let labels: [Int]
        let expected: Expected
    }

    struct LossCase: Decodable {
        let name: String
        let losses: [Double]
        let sizes: [Int]
        let mean: Double
        let perplexity: Double
    }

    struct Fixture<Case: Decodable>: Decodable { let cases: [Case] }

    func load<Case: Decodable>(_ name: String, as: Case.Type) throws -> [Case] {
        let url = try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures"),
                                "missing fixture \(name).json: run scripts/make_metric_fixtures.py")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let cases = try decoder.decode(Fixture<Case>.self, from: Data(contentsOf: url)).cases
        XCTAssertFalse(cases.isEmpty)
        return cases
    }

    func assertNear(_ actual: Double?, _ expected: Double?, _ what: String,
                    file: StaticString = #filePath, line: UInt = #line) {
        switch (actual, expected) {
        case (nil, nil): return
        case let (a?, e?):
            XCTAssertEqual(a, e, accuracy: tolerance, what, file: file, line: line)
        default:
            XCTFail("\(what): got \(String(describing: actual)), expected \(String(describing: expected))",
                    file: file, line: line)
        }
    }

    func assertNear(_ actual: [Double], _ expected: [Double], _ what: String,
                    file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, what, file: file, line: line)
        for (i, (a, e)) in zip(actual, expected).enumerated() {
            assertNear(a, e, "\(what)[\(i)]", file: file, line: line)
        }
    }

    // MARK: - Pure functions

    func testPureFunctionsMatchScikitLearn() throws {
        for c in try load("metrics_classification", as: ClassificationCase.self) {
            let e = c.expected
            assertNear(Metrics.accuracy(predictions: c.predictions, labels: c.labels), e.accuracy, "\(c.name) accuracy")
            XCTAssertEqual(Metrics.confusionMatrix(predictions: c.predictions, labels: c.labels, classCount: c.classes),
                           e.confusion, "\(c.name) confusion matrix")

            let prf = Metrics.precisionRecallF1(predictions: c.predictions, labels: c.labels, classCount: c.classes)
            assertNear(prf.precision, e.precision, "\(c.name) precision")
            assertNear(prf.recall, e.recall, "\(c.name) recall")
            assertNear(prf.f1, e.f1, "\(c.name) f1")
            XCTAssertEqual(prf.support, e.support, "\(c.name) support")
            assertNear(prf.macroPrecision, e.macroPrecision, "\(c.name) macro precision")
            assertNear(prf.macroRecall, e.macroRecall, "\(c.name) macro recall")
            assertNear(prf.macroF1, e.macroF1, "\(c.name) macro F1")

            assertNear(Metrics.quadraticWeightedKappa(predictions: c.predictions, labels: c.labels, classCount: c.classes),
                       e.qwk, "\(c.name) QWK")

            if let scores = c.binaryScores {
                assertNear(Metrics.rocAUC(scores: scores, labels: c.labels), e.rocAuc, "\(c.name) ROC-AUC")
                // The scores are multiples of 1/8, exact in Float: same ties, same area.
                assertNear(Metrics.rocAUC(scores: scores.map(Float.init), labels: c.labels), e.rocAuc,
                           "\(c.name) ROC-AUC (Float)")
            }
            if let scores = c.scores {
                let perClass = Metrics.rocAUCPerClass(scores: scores, labels: c.labels)
                let expected = try XCTUnwrap(e.rocAucPerClass)
                XCTAssertEqual(perClass.count, expected.count)
                for (k, (a, x)) in zip(perClass, expected).enumerated() { assertNear(a, x, "\(c.name) AUC class \(k)") }
                assertNear(Metrics.macroROCAUC(scores: scores, labels: c.labels), e.rocAucMacro, "\(c.name) macro AUC")
                for (k, value) in try XCTUnwrap(e.topK) {
                    let k = try XCTUnwrap(Int(k))
                    assertNear(Metrics.topKAccuracy(scores: scores, labels: c.labels, k: k), value, "\(c.name) top-\(k)")
                    assertNear(Metrics.topKAccuracy(scores: scores.map { $0.map(Float.init) }, labels: c.labels, k: k),
                               value, "\(c.name) top-\(k) (Float)")
                }
            }
        }
    }

    func testMeanLossAndPerplexityMatchNumPy() throws {
        for c in try load("metrics_loss", as: LossCase.self) {
            assertNear(Metrics.meanLoss(c.losses, batchSizes: c.sizes), c.mean, "\(c.name) mean loss")
            // Relative: perplexity can be large.
            let ppl = try XCTUnwrap(Metrics.perplexity(c.losses, tokenCounts: c.sizes))
            XCTAssertEqual(ppl / c.perplexity, 1, accuracy: tolerance, "\(c.name) perplexity")
            var accumulator = MeanLoss()
            for (loss, size) in zip(c.losses, c.sizes) { accumulator.add(loss, count: size) }
            assertNear(accumulator.mean, c.mean, "\(c.name) MeanLoss")
            XCTAssertEqual(try XCTUnwrap(accumulator.perplexity) / c.perplexity, 1, accuracy: tolerance)
        }
    }

    // MARK: - Accumulating metrics on logits

    /// Feeds every built-in metric the fixture's logits, either whole (in the fixture's shape) or
    /// as `[rows, C]` batches of at most `batch` rows, and checks the values.
    func checkLogitMetrics(batch: Int?) throws {
        for c in try load("metrics_logits", as: LogitsCase.self) {
            let e = c.expected
            let registry = MetricRegistry.builtIn
            var names = ["accuracy", "macro_precision", "macro_recall", "macro_f1", "qwk", "roc_auc", "perplexity"]
            names += (e.topK ?? [:]).keys.sorted().map { "top\($0)_accuracy" }
            var metrics = try registry.make(names)
            var confusion = ConfusionMatrix()

            let floats = c.logits.map(Float.init)
            let columns = c.shape.count == 1 ? 1 : c.shape.last!
            let batches: [(Tensor, [Int])]
            if let batch {
                batches = stride(from: 0, to: c.labels.count, by: batch).map { start in
                    let end = min(start + batch, c.labels.count)
                    return (Tensor(Array(floats[(start * columns)..<(end * columns)]), shape: [end - start, columns]),
                            Array(c.labels[start..<end]))
                }
            } else {
                batches = [(Tensor(floats, shape: c.shape), c.labels)]
            }
            for (logits, labels) in batches {
                for i in metrics.indices { metrics[i].update(logits: logits, labels: labels) }
                confusion.update(logits: logits, labels: labels)
            }

            let where_ = "\(c.name) (batch \(batch.map(String.init) ?? "whole"))"
            XCTAssertEqual(confusion.rows, e.confusion, "\(where_) confusion")
            for metric in metrics {
                let expected: Double?
                switch metric.name {
                case "accuracy": expected = e.accuracy
                case "macro_precision": expected = e.macroPrecision
                case "macro_recall": expected = e.macroRecall
                case "macro_f1": expected = e.macroF1
                case "qwk": expected = e.qwk
                case "roc_auc": expected = e.rocAuc
                case "perplexity":
                    XCTAssertEqual(try XCTUnwrap(metric.value()) / XCTUnwrap(e.perplexity), 1, accuracy: tolerance,
                                   "\(where_) perplexity")
                    XCTAssertFalse(metric.higherIsBetter)
                    continue
                default:
                    let k = String(metric.name.dropFirst(3).prefix { $0.isNumber })
                    expected = try XCTUnwrap(e.topK?[k], metric.name)
                }
                XCTAssertTrue(metric.higherIsBetter, metric.name)
                assertNear(metric.value(), expected, "\(where_) \(metric.name)")
            }
        }
    }

    func testMetricsOnWholeLogitsMatchScikitLearn() throws { try checkLogitMetrics(batch: nil) }

    func testMetricsAccumulatedOverBatchesMatchScikitLearn() throws { try checkLogitMetrics(batch: 5) }

    func testResetForgetsEverySample() throws {
        let c = try XCTUnwrap(load("metrics_logits", as: LogitsCase.self).first)
        let logits = Tensor(c.logits.map(Float.init), shape: c.shape)
        var metrics = try MetricRegistry.builtIn.make(["accuracy", "top2_accuracy", "macro_f1", "qwk", "roc_auc", "perplexity"])
        for i in metrics.indices {
            metrics[i].update(logits: Tensor([9, 0, 0, 0], shape: [1, 4]), labels: [3])  // an extra, wrong sample
            metrics[i].reset()
            XCTAssertNil(metrics[i].value(), "\(metrics[i].name) after reset")
            metrics[i].update(logits: logits, labels: c.labels)
        }
        assertNear(metrics[0].value(), c.expected.accuracy, "accuracy after reset")
        assertNear(metrics[1].value(), c.expected.topK?["2"], "top-2 after reset")
        assertNear(metrics[2].value(), c.expected.macroF1, "macro F1 after reset")
        assertNear(metrics[3].value(), c.expected.qwk, "QWK after reset")
        assertNear(metrics[4].value(), c.expected.rocAuc, "ROC-AUC after reset")
    }
}
