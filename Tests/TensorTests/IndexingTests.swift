import TestSupport
import XCTest
@testable import Tensor

/// A [2, 5, 3] tensor holding 0, 1, 2, … so that values name their own position.
private let counting = Tensor((0..<30).map(Float.init), shape: [2, 5, 3])

/// counting[i, j, k] = (i·5 + j)·3 + k.
private func position(_ i: Int, _ j: Int, _ k: Int) -> Float { Float((i * 5 + j) * 3 + k) }

final class IndexingTests: XCTestCase {
    // MARK: - slice

    func testSliceMatchesPythonSemantics() {
        func expected(rows: [Int]) -> [Float] {
            var v: [Float] = []
            for i in 0..<2 { for j in rows { for k in 0..<3 { v.append(position(i, j, k)) } } }
            return v
        }
        let s = counting.slice(axis: 1, start: 1, end: 5, step: 2)
        XCTAssertEqual(s.shape, [2, 2, 3])
        XCTAssertEqual(s.scalars, expected(rows: [1, 3]))
        XCTAssertEqual(counting.slice(axis: 1, start: -2).scalars, expected(rows: [3, 4]))
        XCTAssertEqual(counting.slice(axis: 1, start: 0, end: -3).scalars, expected(rows: [0, 1]))
        XCTAssertEqual(counting.slice(axis: 1, start: -100, end: 100, step: 3).scalars, expected(rows: [0, 3]),
                       "bounds are clamped, as in Python")
        XCTAssertEqual(counting.slice(axis: -1, start: 2).scalars,
                       (0..<10).map { Float($0 * 3 + 2) })
        XCTAssertEqual(counting.slice(axis: 0, start: 1).scalars, (15..<30).map(Float.init))
    }

    func testEmptySlices() {
        XCTAssertEqual(counting.slice(axis: 1, start: 3, end: 3).shape, [2, 0, 3])
        XCTAssertEqual(counting.slice(axis: 1, start: 4, end: 1).shape, [2, 0, 3])
        XCTAssertEqual(counting.slice(axis: 1, start: 7).shape, [2, 0, 3])
        XCTAssertEqual(counting.slice(axis: 2, 1..<1).shape, [2, 5, 0])
        // An empty slice still passes a (zero) gradient back.
        let leaf = counting.requiringGrad()
        (leaf.slice(axis: 1, start: 2, end: 2).sum() + leaf.slice(axis: 1, 0..<1).sum()).backward()
        XCTAssertEqual(leaf.grad!.scalars.reduce(0, +), 6)
    }

    func testRangeSlices() {
        XCTAssertEqual(counting.slice(axis: 1, 1..<3).scalars, counting.slice(axis: 1, start: 1, end: 3).scalars)
        XCTAssertEqual(counting.slice(axis: 1, 1...3).shape, [2, 3, 3])
        XCTAssertEqual(counting.slice(axis: 1, 3...).shape, [2, 2, 3])
        XCTAssertEqual(counting.slice(axis: -1, ..<1).scalars, (0..<10).map { Float($0 * 3) })
    }

    func testSliceOfIntegerTensor() throws {
        let labels = try Tensor(shape: [2, 4], indices: [10, 11, 12, 13, 20, 21, 22, 23])
        let s = labels.slice(axis: 1, start: 1, end: 4, step: 2)
        XCTAssertEqual(s.dtype, .int64)
        XCTAssertEqual(s.indexScalars, [11, 13, 21, 23])
    }

    func testSliceGradients() {
        let x = randomTensor([3, 5, 2], seed: 31)
        checkGradients([x]) { $0[0].slice(axis: 1, start: 1, end: 5, step: 2) }
        checkGradients([x]) { $0[0].slice(axis: -1, start: -1) }
        checkGradients([x]) { $0[0].slice(axis: 0, 1...) * $0[0].slice(axis: 0, ..<2) }
    }

    // MARK: - concat, stack, split

    func testConcatAndStackForward() {
        let a = Tensor([1, 2, 3, 4], shape: [2, 2]), b = Tensor([5, 6], shape: [2, 1])
        XCTAssertEqual(Tensor.concat([a, b], axis: 1).scalars, [1, 2, 5, 3, 4, 6])
        XCTAssertEqual(Tensor.concat([a, b.reshaped([1, 2])], axis: 0).scalars, [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(Tensor.concat([b, Tensor.zeros([2, 0]), a], axis: -1).scalars, [5, 1, 2, 6, 3, 4])
        let s0 = Tensor.stack([a, a * 10])
        XCTAssertEqual(s0.shape, [2, 2, 2])
        XCTAssertEqual(s0.scalars, [1, 2, 3, 4, 10, 20, 30, 40])
        let s2 = Tensor.stack([a, a * 10], axis: -1)
        XCTAssertEqual(s2.shape, [2, 2, 2])
        XCTAssertEqual(s2.scalars, [1, 10, 2, 20, 3, 30, 4, 40])
        XCTAssertEqual(Tensor.stack([a, a, a], axis: 1).shape, [2, 3, 2])
    }

    func testConcatGradients() {
        let a = randomTensor([2, 3], seed: 32), b = randomTensor([2, 1], seed: 33), c = randomTensor([2, 2], seed: 34)
        checkGradients([a, b, c]) { Tensor.concat($0, axis: 1) }
        checkGradients([a, b, c], wrt: [0, 2]) { Tensor.concat($0, axis: -1) * 2 }
        checkGradients([a, a]) { Tensor.stack($0, axis: 1) }
    }

    func testSplitAndChunk() {
        let x = Tensor((0..<10).map(Float.init), shape: [2, 5])
        let pieces = x.split(sizes: [2, 0, 3], axis: 1)
        XCTAssertEqual(pieces.map(\.shape), [[2, 2], [2, 0], [2, 3]])
        XCTAssertEqual(pieces[2].scalars, [2, 3, 4, 7, 8, 9])
        XCTAssertEqual(x.split(size: 2, axis: -1).map { $0.shape[1] }, [2, 2, 1])
        XCTAssertEqual(x.chunked(4, axis: 1).map { $0.shape[1] }, [2, 2, 1], "PyTorch's chunk: fewer pieces")
        XCTAssertEqual(x.chunked(2, axis: 0).map(\.scalars), [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]])
        checkGradients([randomTensor([2, 5], seed: 35)]) { x in
            let p = x[0].split(sizes: [1, 3, 1], axis: 1)
            return Tensor.concat([p[2] * 3, p[0].exp()], axis: 1)   // the middle piece is unused
        }
    }

    // MARK: - gather

    func testGatherMatchesTorchGather() throws {
        let x = Tensor((0..<12).map(Float.init), shape: [3, 4])
        // axis 1: out[i][j] = x[i][idx[i][j]]; index narrower than x in axis 0.
        let idx1 = try Tensor(shape: [2, 3], indices: [3, 0, 3, 1, 1, 2])
        XCTAssertEqual(try x.gather(axis: 1, indices: idx1).scalars, [3, 0, 3, 5, 5, 6])
        // axis 0: out[i][j] = x[idx[i][j]][j].
        let idx0 = try Tensor(shape: [2, 4], indices: [2, 0, 1, 2, 0, 0, 2, 1])
        XCTAssertEqual(try x.gather(axis: 0, indices: idx0).scalars, [8, 1, 6, 11, 0, 1, 10, 7])
        XCTAssertEqual(try x.gather(axis: -1, indices: idx1).shape, [2, 3])
        // 3-D, axis 1, against a naive loop.
        let idx = try Tensor(shape: [2, 2, 3], indices: [4, 0, 1, 2, 2, 2, 0, 1, 4, 3, 3, 0])
        let v = idx.indexScalars
        var expected: [Float] = []
        for i in 0..<2 { for j in 0..<2 { for k in 0..<3 { expected.append(position(i, v[(i * 2 + j) * 3 + k], k)) } } }
        XCTAssertEqual(try counting.gather(axis: 1, indices: idx).scalars, expected)
    }

    func testGatherGradientsWithRepeatedIndices() throws {
        let x = randomTensor([3, 4], seed: 36)
        let idx = try Tensor(shape: [3, 2], indices: [1, 1, 0, 3, 2, 2])
        checkGradients([x]) { try! $0[0].gather(axis: 1, indices: idx) }
        let leaf = x.requiringGrad()
        try leaf.gather(axis: 1, indices: idx).sum().backward()
        XCTAssertEqual(leaf.grad!.scalars, [0, 2, 0, 0, 1, 0, 0, 1, 0, 0, 2, 0])
    }

    func testGatherRejectsBadIndices() throws {
        let x = Tensor.zeros([3, 4])
        XCTAssertThrowsError(try x.gather(axis: 1, indices: Tensor(shape: [1, 2], indices: [0, 4]))) { error in
            XCTAssertEqual(error as? TensorError, .indexOutOfRange(operation: "gather", index: 4, bound: 4))
            XCTAssertEqual("\(error)", "gather: index 4 is out of range 0..<4")
        }
        XCTAssertThrowsError(try x.gather(axis: 0, indices: Tensor(shape: [1, 1], indices: [-1]))) { error in
            XCTAssertEqual(error as? TensorError, .indexOutOfRange(operation: "gather", index: -1, bound: 3))
        }
        XCTAssertThrowsError(try x.gather(axis: 0, indices: Tensor([0], shape: [1, 1]))) { error in
            XCTAssertEqual(error as? TensorError, .unsupportedDType(operation: "gather indices", dtype: .float32))
        }
    }

    // MARK: - index select

    func testIndexSelect() throws {
        let s = try counting.indexSelect(axis: 1, indices: [4, 0, 4])
        XCTAssertEqual(s.shape, [2, 3, 3])
        var expected: [Float] = []
        for i in 0..<2 { for j in [4, 0, 4] { for k in 0..<3 { expected.append(position(i, j, k)) } } }
        XCTAssertEqual(s.scalars, expected)
        let t = try counting.indexSelect(axis: -1, indices: Tensor(shape: [2], indices: [2, 1]))
        var pairs: [Float] = []
        for row in 0..<10 { pairs += [Float(row * 3 + 2), Float(row * 3 + 1)] }
        XCTAssertEqual(t.scalars, pairs)
        XCTAssertEqual(try counting.indexSelect(axis: 0, indices: []).shape, [0, 5, 3])
        let labels = try Tensor(shape: [3], indices: [7, 8, 9])
        XCTAssertEqual(try labels.indexSelect(axis: 0, indices: [2, 2, 0]).indexScalars, [9, 9, 7])
    }

    func testIndexSelectGradients() {
        let x = randomTensor([3, 4, 2], seed: 37)
        checkGradients([x]) { try! $0[0].indexSelect(axis: 1, indices: [3, 0, 3, 3]) }
        checkGradients([x]) { try! $0[0].indexSelect(axis: 0, indices: [2, 2]) }
    }

    func testIndexSelectRejectsBadIndices() {
        XCTAssertThrowsError(try counting.indexSelect(axis: 1, indices: [0, 5])) { error in
            XCTAssertEqual("\(error)", "indexSelect(axis: 1): index 5 is out of range 0..<5")
        }
        XCTAssertThrowsError(try counting.indexSelect(axis: 0, indices: Tensor(shape: [1], indices: [-3]))) { error in
            XCTAssertEqual(error as? TensorError, .indexOutOfRange(operation: "indexSelect(axis: 0)", index: -3, bound: 2))
        }
    }

    // MARK: - masked fill, where

    func testMaskedFill() throws {
        let x = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
        XCTAssertEqual(x.maskedFill(Tensor([1, 0, 0, 0, 0, 1], shape: [2, 3]), with: -9).scalars, [-9, 2, 3, 4, 5, -9])
        // An int64 attention-style mask, broadcast over rows.
        let mask = try Tensor(shape: [1, 3], indices: [0, 1, 1])
        XCTAssertEqual(x.maskedFill(mask, with: -.infinity).scalars, [1, -.infinity, -.infinity, 4, -.infinity, -.infinity])
        checkGradients([randomTensor([2, 3], seed: 38)]) { $0[0].maskedFill(mask, with: 100) }
    }

    func testWhere() {
        let c = Tensor([1, 0], shape: [2, 1])
        let a = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
        let b = Tensor([-1, -2, -3])
        XCTAssertEqual(Tensor.where(c, a, b).scalars, [1, 2, 3, -1, -2, -3])
        // A select, not a blend: infinities and NaN in the branch not taken do not leak.
        let inf = Tensor([.infinity, .nan, 1])
        XCTAssertEqual(Tensor.where(Tensor([0, 0, 1]), inf, Tensor(7)).scalars, [7, 7, 1])
        XCTAssertEqual(Tensor.where(Tensor(1), Tensor(2), Tensor(3)).shape, [])
        checkGradients([randomTensor([2, 3], seed: 39), randomTensor([3], seed: 40)]) { Tensor.where(c, $0[0], $0[1]) }
        checkGradients([randomTensor([1, 3], seed: 41), randomTensor([2, 1], seed: 42)], wrt: [1]) {
            Tensor.where(Tensor([1, 0, 1, 0, 0, 1], shape: [2, 3]), $0[0], $0[1])
        }
    }
}
