import TestSupport
import XCTest
@testable import Tensor

final class EmbeddingTests: XCTestCase {
    /// Row r of this [5, 3] table is [10r, 10r + 1, 10r + 2].
    let table = Tensor((0..<5).flatMap { r in (0..<3).map { Float(10 * r + $0) } }, shape: [5, 3])

    func testLookupPicksRowsForAnyIndexShape() throws {
        let ids = try Tensor(shape: [2, 2], indices: [4, 0, 2, 4])
        let out = try Tensor.embedding(table, indices: ids)
        XCTAssertEqual(out.shape, [2, 2, 3])
        XCTAssertEqual(out.scalars, [40, 41, 42, 0, 1, 2, 20, 21, 22, 40, 41, 42])
        XCTAssertEqual(try Tensor.embedding(table, indices: Tensor(shape: [], indices: [3])).scalars, [30, 31, 32])
        XCTAssertEqual(try Tensor.embedding(table, indices: Tensor(shape: [0], indices: [])).shape, [0, 3])
        let int32 = try [Int32(1), 3].withUnsafeBytes { try Tensor(shape: [2], dtype: .int32, bytes: $0) }
        XCTAssertEqual(try Tensor.embedding(table, indices: int32).scalars, [10, 11, 12, 30, 31, 32])
    }

    func testGradientScatterAddsRepeatedIds() throws {
        let ids = try Tensor(shape: [2, 3], indices: [1, 3, 1, 0, 1, 4])
        checkGradients([randomTensor([5, 3], seed: 51)]) { try! Tensor.embedding($0[0], indices: ids) }
        let w = table.requiringGrad()
        try Tensor.embedding(w, indices: ids).sum().backward()
        XCTAssertEqual(w.grad!.scalars, [1, 1, 1, 3, 3, 3, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    }

    func testPaddingRowGetsNoGradient() throws {
        let ids = try Tensor(shape: [4], indices: [0, 2, 0, 1])
        for padding in [0, -5] {
            let w = table.requiringGrad()
            let out = try Tensor.embedding(w, indices: ids, paddingIndex: padding)
            XCTAssertEqual(out.scalars.prefix(3), [0, 1, 2], "the padding row is still looked up")
            (out * 2).sum().backward()
            XCTAssertEqual(w.grad!.scalars, [0, 0, 0, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0])
        }
        // Finite differences see the padding row's influence, which the gradient ignores on
        // purpose; with the padding id absent the rule must not disturb the other rows.
        checkGradients([randomTensor([5, 3], seed: 52)]) { try! Tensor.embedding($0[0], indices: ids, paddingIndex: 3) }
    }

    func testFrozenWeightRecordsNothing() throws {
        let ids = try Tensor(shape: [2], indices: [1, 2])
        XCTAssertFalse(try Tensor.embedding(table, indices: ids).requiresGrad)
    }

    func testBadIdsThrowWithIndexAndBound() throws {
        let ids = try Tensor(shape: [3], indices: [1, 7, 2])
        XCTAssertThrowsError(try Tensor.embedding(table, indices: ids)) { error in
            XCTAssertEqual(error as? TensorError, .indexOutOfRange(operation: "embedding", index: 7, bound: 5))
            XCTAssertEqual("\(error)", "embedding: index 7 is out of range 0..<5")
        }
        XCTAssertThrowsError(try Tensor.embedding(table, indices: Tensor(shape: [1], indices: [-1])))
        XCTAssertThrowsError(try Tensor.embedding(table, indices: Tensor([1, 2]))) { error in
            XCTAssertEqual(error as? TensorError, .unsupportedDType(operation: "embedding indices", dtype: .float32))
        }
        XCTAssertThrowsError(try Tensor.embedding(table, indices: Tensor(shape: [1], indices: [1]), paddingIndex: 5)) { error in
            XCTAssertEqual(error as? TensorError, .indexOutOfRange(operation: "embedding paddingIndex", index: 5, bound: 5))
        }
    }
}
