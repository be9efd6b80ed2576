import NN
import TestSupport
import XCTest

final class EmbeddingTests: XCTestCase {
    func testKeyShapeAndStandardNormalInitialisation() {
        var rng = RandomGenerator(seed: 1)
        let e = Embedding(50, 40, generator: &rng)
        XCTAssertEqual(e.stateDict().keys.sorted(), ["weight"])
        XCTAssertEqual(e.weight.shape, [50, 40])
        XCTAssertEqual(e.count, 50)
        XCTAssertEqual(e.dimension, 40)
        // N(0, 1) over 2000 values: the mean's standard error is 0.022, the std's about 0.016.
        let w = e.weight.scalars.map(Double.init)
        let mean = w.reduce(0, +) / Double(w.count)
        let std = (w.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(w.count)).squareRoot()
        XCTAssertEqual(mean, 0, accuracy: 0.1)
        XCTAssertEqual(std, 1, accuracy: 0.08)
        XCTAssertGreaterThan(w.map(abs).max()!, 2.5, "a standard normal sample of 2000 reaches past 2.5σ")
    }

    func testPaddingRowIsZeroAndNegativeIndexCountsFromTheEnd() {
        var rng = RandomGenerator(seed: 2)
        let e = Embedding(6, 3, paddingIndex: 2, generator: &rng)
        XCTAssertEqual(e.paddingIndex, 2)
        let w = e.weight.scalars
        XCTAssertEqual(Array(w[6..<9]), [0, 0, 0])
        XCTAssertTrue(w[0..<6].contains { $0 != 0 } && w[9...].contains { $0 != 0 })
        let last = Embedding(6, 3, paddingIndex: -1, generator: &rng)
        XCTAssertEqual(last.paddingIndex, 5)
        XCTAssertEqual(Array(last.weight.scalars[15..<18]), [0, 0, 0])
    }

    func testForwardPicksRows() throws {
        let weight = Tensor((0..<12).map(Float.init), shape: [4, 3])
        let e = Embedding(weight: weight)
        let ids = Tensor(indices: [3, 0, 3, 1, 2, 0], shape: [2, 3])
        let y = try e(ids)
        XCTAssertEqual(y.shape, [2, 3, 3])
        XCTAssertEqual(y.scalars, [9, 10, 11, 0, 1, 2, 9, 10, 11, 3, 4, 5, 6, 7, 8, 0, 1, 2])
        XCTAssertEqual(try e(Tensor(indices: [2], shape: [])).shape, [3])
    }

    func testOutOfRangeIdsThrow() {
        let e = Embedding(weight: Tensor.zeros([4, 2]))
        XCTAssertThrowsError(try e(Tensor(indices: [1, 4], shape: [2]))) { error in
            guard case .indexOutOfRange(_, index: 4, bound: 4)? = error as? TensorError else {
                return XCTFail("\(error)")
            }
        }
        XCTAssertThrowsError(try e(Tensor(indices: [-1], shape: [1])))
    }

    func testGradientAccumulatesRepeatedIdsAndSkipsPadding() throws {
        let e = Embedding(weight: Tensor((0..<8).map(Float.init), shape: [4, 2]), paddingIndex: 0)
        let ids = Tensor(indices: [1, 0, 1, 3], shape: [4])
        let g = Tensor([1, 2, 3, 4, 5, 6, 7, 8], shape: [4, 2])
        (try e(ids) * g).sum().backward()
        // Row 1 gets positions 0 and 2, row 3 position 3; row 0 is padding, row 2 unused.
        XCTAssertEqual(e.weight.grad?.scalars, [0, 0, 1 + 5, 2 + 6, 0, 0, 7, 8])
    }

    func testGradientCheck() throws {
        let ids = Tensor(indices: [2, 0, 2, 1, 3, 1], shape: [2, 3])
        checkGradients([randomTensor([4, 3], seed: 3)]) { xs in
            try! Embedding(weight: xs[0])(ids)   // ids are fixed and in range
        }
    }

    func testLoadStateDictAndFreezing() throws {
        var rng = RandomGenerator(seed: 4)
        let a = Embedding(5, 2, generator: &rng), b = Embedding(5, 2, generator: &rng)
        try b.load(a.stateDict())
        XCTAssertEqual(b.weight.scalars, a.weight.scalars)
        XCTAssertThrowsError(try b.load(["weight": Tensor.zeros([5, 3])])) { error in
            XCTAssertEqual(error as? ModuleError, .shapeMismatch(key: "weight", expected: [5, 2], got: [5, 3]))
        }
        b.freeze()
        XCTAssertFalse(try b(Tensor(indices: [1], shape: [1])).requiresGrad)
    }
}
