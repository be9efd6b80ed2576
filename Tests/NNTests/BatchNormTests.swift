import NN
import TestSupport
import XCTest

final class BatchNormTests: XCTestCase {
    func testKeysShapesDTypesAndInitialisation() {
        let bn = BatchNorm2d(3)
        let state = bn.stateDict()
        XCTAssertEqual(state.mapValues(\.shape), [
            "weight": [3], "bias": [3], "running_mean": [3], "running_var": [3], "num_batches_tracked": [],
        ])
        XCTAssertEqual(state["num_batches_tracked"]?.dtype, .int64)
        XCTAssertEqual(state["weight"]?.scalars, [1, 1, 1])
        XCTAssertEqual(state["bias"]?.scalars, [0, 0, 0])
        XCTAssertEqual(state["running_mean"]?.scalars, [0, 0, 0])
        XCTAssertEqual(state["running_var"]?.scalars, [1, 1, 1])
        XCTAssertEqual(bn.momentum, 0.1)
        XCTAssertEqual(bn.epsilon, 1e-5)
        XCTAssertEqual(bn.namedParameters().map(\.key), ["weight", "bias"], "buffers are not parameters")
        XCTAssertEqual(BatchNorm1d(2, affine: false).stateDict().keys.sorted(),
                       ["num_batches_tracked", "running_mean", "running_var"])
    }

    func testTrainingUsesBatchStatisticsAndUpdatesBuffersWithUnbiasedVariance() {
        let bn = BatchNorm1d(2)
        // Channel 0: [1, 2, 3, 4], mean 2.5, biased variance 1.25, unbiased 5/3.
        // Channel 1: [0, 0, 4, 4], mean 2, biased variance 4, unbiased 16/3.
        let x = Tensor([1, 0, 2, 0, 3, 4, 4, 4], shape: [4, 2])
        let y = bn(x)
        let s0 = 1 / (1.25 + 1e-5).squareRoot(), s1 = 1 / (4 + 1e-5).squareRoot()
        assertClose(y, Tensor([-1.5 * s0, -2 * s1, -0.5 * s0, -2 * s1, 0.5 * s0, 2 * s1, 1.5 * s0, 2 * s1].map { Float($0) },
                              shape: [4, 2]), atol: 1e-5)
        assertClose(bn.runningMean, Tensor([0.25, 0.2]), atol: 1e-6)
        assertClose(bn.runningVar, Tensor([0.9 + 0.1 * 5 / 3, 0.9 + 0.1 * 16 / 3]), atol: 1e-6)
        XCTAssertEqual(bn.batchesTracked.indexScalars, [1])
        XCTAssertEqual(bn.batchesTracked.dtype, .int64)

        // A second step compounds: mean ← 0.9·0.25 + 0.1·2.5.
        _ = bn(x)
        assertClose(bn.runningMean, Tensor([0.9 * 0.25 + 0.25, 0.9 * 0.2 + 0.2]), atol: 1e-6)
        XCTAssertEqual(bn.batchesTracked.indexScalars, [2])
    }

    func testEvaluationUsesRunningStatisticsAndChangesNothing() throws {
        let bn = BatchNorm1d(2)
        try bn.load([
            "weight": Tensor([2, 1]), "bias": Tensor([0, 1]),
            "running_mean": Tensor([1, -1]), "running_var": Tensor([4, 0.25]),
            "num_batches_tracked": Tensor(indices: [7], shape: []),
        ])
        bn.eval()
        let x = Tensor([3, 0, 1, -1, 5, 1], shape: [3, 2])
        let y = bn(x)
        // y₀ = (x − 1)/√(4 + ε)·2, y₁ = (x + 1)/√(0.25 + ε) + 1.
        let s0 = 2 / (4 + 1e-5).squareRoot(), s1 = 1 / (0.25 + 1e-5).squareRoot()
        assertClose(y, Tensor([2 * s0, 1 * s1 + 1, 0, 1, 4 * s0, 2 * s1 + 1].map { Float($0) }, shape: [3, 2]), atol: 1e-5)
        XCTAssertEqual(bn.runningMean.scalars, [1, -1])
        XCTAssertEqual(bn.runningVar.scalars, [4, 0.25])
        XCTAssertEqual(bn.batchesTracked.indexScalars, [7])
    }

    func testCumulativeAverageWithoutMomentum() {
        let bn = BatchNorm1d(1, momentum: nil)
        _ = bn(Tensor([1, 3], shape: [2, 1]))     // mean 2, unbiased variance 2
        assertClose(bn.runningMean, Tensor([2]))
        assertClose(bn.runningVar, Tensor([2]))
        _ = bn(Tensor([5, 5, 8], shape: [3, 1]))  // mean 6, unbiased variance 3
        assertClose(bn.runningMean, Tensor([4]), atol: 1e-6)
        assertClose(bn.runningVar, Tensor([2.5]), atol: 1e-6)
    }

    func testBatchNorm2dAgainstPerChannelStatistics() {
        let bn = BatchNorm2d(3, momentum: 0.3)
        let x = randomTensor([2, 3, 2, 3], seed: 1)
        let xs = x.scalars.map(Double.init)
        var expected = [Float](repeating: 0, count: xs.count)
        var mean = [Float](), variance = [Float]()
        for c in 0..<3 {
            let idx = (0..<2).flatMap { n in (0..<6).map { (n * 3 + c) * 6 + $0 } }
            let m = idx.map { xs[$0] }.reduce(0, +) / 12
            let v = idx.map { (xs[$0] - m) * (xs[$0] - m) }.reduce(0, +) / 12
            for i in idx { expected[i] = Float((xs[i] - m) / (v + 1e-5).squareRoot()) }
            mean.append(Float(0.3 * m))
            variance.append(Float(0.7 + 0.3 * v * 12 / 11))
        }
        assertClose(bn(x).plain(), Tensor(expected, shape: x.shape), atol: 1e-5)
        assertClose(bn.runningMean, Tensor(mean), atol: 1e-6)
        assertClose(bn.runningVar, Tensor(variance), atol: 1e-6)
    }

    func testGradientsInBothModes() {
        let bn = BatchNorm2d(2)
        checkGradients([randomTensor([2, 2, 2, 2], seed: 2), randomTensor([2], seed: 3), randomTensor([2], seed: 4)]) { xs in
            bn.weight = xs[1]
            bn.bias = xs[2]
            return bn(xs[0]).plain()
        }
        bn.eval()
        checkGradients([randomTensor([2, 2, 2, 2], seed: 5), randomTensor([2], seed: 6), randomTensor([2], seed: 7)]) { xs in
            bn.weight = xs[1]
            bn.bias = xs[2]
            return bn(xs[0]).plain()
        }
    }

    func testLoadKeepsTheIntegerCounterAndRejectsWrongShapes() throws {
        let a = BatchNorm2d(2)
        _ = a(randomTensor([2, 2, 2, 2], seed: 8))
        let b = BatchNorm2d(2)
        try b.load(a.stateDict())
        XCTAssertEqual(b.runningMean.scalars, a.runningMean.scalars)
        XCTAssertEqual(b.batchesTracked.dtype, .int64)
        XCTAssertEqual(b.batchesTracked.indexScalars, [1])
        var bad = a.stateDict()
        bad["running_var"] = Tensor.ones([3])
        XCTAssertThrowsError(try b.load(bad)) { error in
            XCTAssertEqual(error as? ModuleError, .shapeMismatch(key: "running_var", expected: [2], got: [3]))
        }
    }
}
