import Foundation
import TestSupport
import XCTest
@testable import Tensor

final class LossTests: XCTestCase {
    /// log-softmax of one row, in Double.
    private func logProbabilities(_ row: [Double]) -> [Double] {
        let m = row.max()!
        let lse = m + Foundation.log(row.map { Foundation.exp($0 - m) }.reduce(0, +))
        return row.map { $0 - lse }
    }

    /// PyTorch's cross-entropy with class indices, written out per row in Double: returns the
    /// per-row losses and the mean's divisor.
    private func naiveCrossEntropy(_ logits: [Float], rows: Int, classes: Int, targets: [Int], weights: [Float]?,
                                   ignoreIndex: Int, smoothing: Double) -> (losses: [Double], divisor: Double) {
        var losses: [Double] = [], divisor = 0.0
        for r in 0..<rows {
            let y = targets[r]
            if y == ignoreIndex { losses.append(0); continue }
            let lp = logProbabilities((0..<classes).map { Double(logits[r * classes + $0]) })
            let w = (0..<classes).map { Double(weights?[$0] ?? 1) }
            var smooth = 0.0
            for c in 0..<classes { smooth -= w[c] * lp[c] }
            losses.append((1 - smoothing) * w[y] * -lp[y] + smoothing / Double(classes) * smooth)
            divisor += w[y]
        }
        return (losses, divisor)
    }

    func testCrossEntropyMatchesNaiveForEveryOption() throws {
        let (n, c) = (5, 4)
        let logits = randomTensor([n, c], seed: 1, low: -3, high: 3)
        let labels = [2, -100, 0, 3, 1]
        let targets = try Tensor(shape: [n], indices: labels)
        let weights = Tensor([0.5, 1, 2, 1.5])
        for w in [nil, weights] {
            for eps in [0.0, 0.1] {
                let (losses, divisor) = naiveCrossEntropy(logits.scalars, rows: n, classes: c, targets: labels,
                                                          weights: w?.scalars, ignoreIndex: -100, smoothing: eps)
                let msg = "weights \(w != nil), smoothing \(eps)"
                let none = crossEntropy(logits: logits, targets: targets, weights: w, labelSmoothing: Float(eps),
                                        reduction: .none)
                assertClose(none, Tensor(losses.map { Float($0) }), atol: 1e-5, msg)
                let sum = crossEntropy(logits: logits, targets: targets, weights: w, labelSmoothing: Float(eps),
                                       reduction: .sum)
                XCTAssertEqual(Double(sum.item), losses.reduce(0, +), accuracy: 1e-4, msg)
                let mean = crossEntropy(logits: logits, targets: targets, weights: w, labelSmoothing: Float(eps))
                XCTAssertEqual(mean.shape, [])
                XCTAssertEqual(Double(mean.item), losses.reduce(0, +) / divisor, accuracy: 1e-5, msg)
            }
        }
    }

    func testCrossEntropyHandWorked() throws {
        // Logits [0, ln 3] with target 1: p = 3/4, loss = −ln(3/4).
        let logits = Tensor([0, Float(Foundation.log(3.0))], shape: [1, 2])
        let loss = crossEntropy(logits: logits, targets: try Tensor(shape: [1], indices: [1]))
        XCTAssertEqual(loss.item, Float(-Foundation.log(0.75)), accuracy: 1e-6)
    }

    func testCrossEntropyOverExtraDimensionsAndSingleSample() throws {
        // [N=2, C=3, d=2]: the class dimension is 1, as PyTorch.
        let logits = randomTensor([2, 3, 2], seed: 2, low: -2, high: 2)
        let labels = [0, 2, 1, -100]     // targets [2, 2] in row-major order (n, d)
        let x = logits.scalars
        var rowsFirst: [Float] = []      // the same logits as [(n, d), c]
        for n in 0..<2 { for d in 0..<2 { for c in 0..<3 { rowsFirst.append(x[(n * 3 + c) * 2 + d]) } } }
        let (losses, divisor) = naiveCrossEntropy(rowsFirst, rows: 4, classes: 3, targets: labels, weights: [1, 2, 3],
                                                  ignoreIndex: -100, smoothing: 0.2)
        let targets = try Tensor(shape: [2, 2], indices: labels)
        let none = crossEntropy(logits: logits, targets: targets, weights: Tensor([1, 2, 3]), labelSmoothing: 0.2,
                                reduction: .none)
        assertClose(none, Tensor(losses.map { Float($0) }, shape: [2, 2]), atol: 1e-5)
        let mean = crossEntropy(logits: logits, targets: targets, weights: Tensor([1, 2, 3]), labelSmoothing: 0.2)
        XCTAssertEqual(Double(mean.item), losses.reduce(0, +) / divisor, accuracy: 1e-5)

        let single = crossEntropy(logits: Tensor([1, 2, 3]), targets: try Tensor(shape: [], indices: [0]))
        XCTAssertEqual(single.item, Float(-logProbabilities([1, 2, 3])[0]), accuracy: 1e-5)
    }

    func testLargeLogitsStayFinite() throws {
        let logits = Tensor([1000, 0, -1000, 1000, 1000, 0], shape: [2, 3]).requiringGrad()
        let targets = try Tensor(shape: [2], indices: [2, 1])
        let none = crossEntropy(logits: logits, targets: targets, reduction: .none)
        XCTAssertEqual(none.scalars[0], 2000, accuracy: 1e-2)
        XCTAssertEqual(none.scalars[1], Float(Foundation.log(2.0)), accuracy: 1e-5)
        crossEntropy(logits: logits, targets: targets, labelSmoothing: 0.1).backward()
        XCTAssertTrue(logits.grad!.scalars.allSatisfy { $0.isFinite })
        let bce = binaryCrossEntropyWithLogits(logits: Tensor([1000, -1000, 1000]), targets: Tensor([0, 1, 1]),
                                               reduction: .none)
        XCTAssertEqual(bce.scalars, [1000, 1000, 0])
    }

    func testAllRowsIgnoredGivesZeroLossAndZeroGradient() throws {
        let logits = randomTensor([3, 4], seed: 3).requiringGrad()
        let targets = try Tensor(shape: [3], indices: [-100, -100, -100])
        let loss = crossEntropy(logits: logits, targets: targets, labelSmoothing: 0.1)
        XCTAssertEqual(loss.item, 0)
        loss.backward()
        XCTAssertEqual(logits.grad?.scalars, [Float](repeating: 0, count: 12))
        XCTAssertEqual(crossEntropy(logits: logits, targets: targets, reduction: .sum).item, 0)
        let custom = crossEntropy(logits: logits, targets: try Tensor(shape: [3], indices: [7, 1, 7]), ignoreIndex: 7)
        XCTAssertEqual(custom.item, Float(-logProbabilities(logits.scalars[4..<8].map { Double($0) })[1]),
                       accuracy: 1e-5)
    }

    func testValidateClassTargetsNamesTheBadIndex() throws {
        let bad = try Tensor(shape: [3], indices: [0, 5, -100])
        XCTAssertThrowsError(try validateClassTargets(bad, classCount: 4)) { error in
            XCTAssertEqual(error as? TensorError,
                           .indexOutOfRange(operation: "crossEntropy targets", index: 5, bound: 4))
        }
        XCTAssertNoThrow(try validateClassTargets(bad, classCount: 6))
        XCTAssertThrowsError(try validateClassTargets(try Tensor(shape: [1], indices: [-1]), classCount: 3))
    }

    func testCrossEntropyGradients() throws {
        let logits = randomTensor([4, 3], seed: 4, low: -2, high: 2)
        let targets = try Tensor(shape: [4], indices: [1, -100, 0, 2])
        for w in [nil, Tensor([0.5, 2, 1])] {
            for eps: Float in [0, 0.25] {
                for reduction in LossReduction.allCases {
                    checkGradients([logits]) { x in
                        crossEntropy(logits: x[0], targets: targets, weights: w, labelSmoothing: eps,
                                     reduction: reduction)
                    }
                }
            }
        }
        let spatial = randomTensor([2, 3, 2], seed: 5)
        let spatialTargets = try Tensor(shape: [2, 2], indices: [0, 2, -100, 1])
        checkGradients([spatial]) { x in
            crossEntropy(logits: x[0], targets: spatialTargets, weights: Tensor([1, 2, 0.5]), labelSmoothing: 0.1)
        }
    }

    func testSoftTargetsMatchNaiveAndGradients() {
        let logits = randomTensor([3, 4], seed: 6, low: -2, high: 2)
        let probabilities = randomTensor([3, 4], seed: 7, low: 0, high: 1).softmax()
        let w: [Double] = [1, 0.5, 2, 1]
        let eps = 0.1
        let x = logits.scalars, t = probabilities.scalars
        var losses: [Double] = []
        for r in 0..<3 {
            let lp = logProbabilities((0..<4).map { Double(x[r * 4 + $0]) })
            var l = 0.0
            for c in 0..<4 { l -= w[c] * ((1 - eps) * Double(t[r * 4 + c]) + eps / 4) * lp[c] }
            losses.append(l)
        }
        let weights = Tensor(w.map { Float($0) })
        assertClose(crossEntropy(logits: logits, probabilities: probabilities, weights: weights, labelSmoothing: 0.1,
                                 reduction: .none), Tensor(losses.map { Float($0) }), atol: 1e-5)
        // The mean divides by the number of rows, not by the weights.
        XCTAssertEqual(Double(crossEntropy(logits: logits, probabilities: probabilities, weights: weights,
                                           labelSmoothing: 0.1).item),
                       losses.reduce(0, +) / 3, accuracy: 1e-5)
        for wrt in [[0], [1], [0, 1]] {
            checkGradients([logits, probabilities], wrt: wrt) { v in
                crossEntropy(logits: v[0], probabilities: v[1], weights: weights, labelSmoothing: 0.2, reduction: .none)
            }
        }
        let spatial = randomTensor([2, 3, 2], seed: 8)
        let soft = randomTensor([2, 3, 2], seed: 9, low: 0, high: 1).softmax(axis: 1)
        checkGradients([spatial, soft]) { v in crossEntropy(logits: v[0], probabilities: v[1], reduction: .sum) }
    }

    func testBinaryCrossEntropyMatchesNaive() {
        let x = randomTensor([3, 4], seed: 10, low: -4, high: 4), y = randomTensor([3, 4], seed: 11, low: 0, high: 1)
        let weights = randomTensor([3, 1], seed: 12, low: 0.5, high: 2)
        let posWeight = randomTensor([4], seed: 13, low: 0.5, high: 3)
        let xs = x.scalars, ys = y.scalars, ws = weights.scalars, ps = posWeight.scalars
        var expected: [Float] = []
        for i in 0..<3 {
            for j in 0..<4 {
                let xv = Double(xs[i * 4 + j]), yv = Double(ys[i * 4 + j])
                let s = 1 / (1 + Foundation.exp(-xv))
                expected.append(Float(-Double(ws[i]) * (Double(ps[j]) * yv * Foundation.log(s) + (1 - yv) * Foundation.log(1 - s))))
            }
        }
        let none = binaryCrossEntropyWithLogits(logits: x, targets: y, weights: weights, posWeight: posWeight,
                                                reduction: .none)
        assertClose(none, Tensor(expected, shape: [3, 4]), atol: 1e-5)
        let mean = binaryCrossEntropyWithLogits(logits: x, targets: y, weights: weights, posWeight: posWeight)
        XCTAssertEqual(mean.item, expected.reduce(0, +) / 12, accuracy: 1e-5)
        let plain = binaryCrossEntropyWithLogits(logits: x, targets: y, reduction: .sum)
        var s = 0.0
        for i in 0..<12 {
            let p = 1 / (1 + Foundation.exp(-Double(xs[i])))
            s -= Double(ys[i]) * Foundation.log(p) + (1 - Double(ys[i])) * Foundation.log(1 - p)
        }
        XCTAssertEqual(Double(plain.item), s, accuracy: 1e-4)
    }

    func testBinaryCrossEntropyGradients() {
        let x = randomTensor([2, 3], seed: 14, low: -3, high: 3), y = randomTensor([2, 3], seed: 15, low: 0, high: 1)
        let weights = randomTensor([2, 1], seed: 16, low: 0.5, high: 2)
        let posWeight = randomTensor([3], seed: 17, low: 0.5, high: 3)
        checkGradients([x, y, weights, posWeight]) { v in
            binaryCrossEntropyWithLogits(logits: v[0], targets: v[1], weights: v[2], posWeight: v[3], reduction: .none)
        }
        checkGradients([x, y], wrt: [0]) { v in binaryCrossEntropyWithLogits(logits: v[0], targets: v[1]) }
        // Each input alone, and pairs: backward keeps only what the wanted gradients read.
        for wrt in [[1], [2], [3], [1, 2], [2, 3], [0, 3]] {
            checkGradients([x, y, weights, posWeight], wrt: wrt) { v in
                binaryCrossEntropyWithLogits(logits: v[0], targets: v[1], weights: v[2], posWeight: v[3],
                                             reduction: .none)
            }
        }
    }

    func testMSE() {
        let p = Tensor([1, 2, 3, 4], shape: [2, 2]), t = Tensor([0, 2, 5, 3], shape: [2, 2])
        XCTAssertEqual(mseLoss(predictions: p, targets: t).item, (1 + 0 + 4 + 1) / 4)
        XCTAssertEqual(mseLoss(predictions: p, targets: t, reduction: .sum).item, 6)
        XCTAssertEqual(mseLoss(predictions: p, targets: t, reduction: .none).scalars, [1, 0, 4, 1])
        checkGradients([randomTensor([2, 3], seed: 18), randomTensor([2, 3], seed: 19)]) { v in
            mseLoss(predictions: v[0], targets: v[1])
        }
    }

    func testManyClassesUseTheVectorPathAndItsTail() throws {
        let (n, c) = (4, 19)
        let logits = randomTensor([n, c], seed: 20, low: -5, high: 5)
        let labels = [18, 0, -100, 9]
        let targets = try Tensor(shape: [n], indices: labels)
        let weights = randomTensor([c], seed: 21, low: 0.5, high: 2)
        let (losses, _) = naiveCrossEntropy(logits.scalars, rows: n, classes: c, targets: labels,
                                            weights: weights.scalars, ignoreIndex: -100, smoothing: 0.3)
        assertClose(crossEntropy(logits: logits, targets: targets, weights: weights, labelSmoothing: 0.3,
                                 reduction: .none), Tensor(losses.map { Float($0) }), atol: 1e-5)
        let (plain, _) = naiveCrossEntropy(logits.scalars, rows: n, classes: c, targets: labels, weights: nil,
                                           ignoreIndex: -100, smoothing: 0.3)
        assertClose(crossEntropy(logits: logits, targets: targets, labelSmoothing: 0.3, reduction: .none),
                    Tensor(plain.map { Float($0) }), atol: 1e-5)
        let small = randomTensor([2, 11], seed: 22, low: -2, high: 2)
        let smallTargets = try Tensor(shape: [2], indices: [10, 3])
        checkGradients([small]) { x in
            crossEntropy(logits: x[0], targets: smallTargets, weights: Tensor((0..<11).map { 0.5 + Float($0) / 10 }),
                         labelSmoothing: 0.2)
        }
    }
}
