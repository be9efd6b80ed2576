@testable import Training
import Distributed
import Tensor
import XCTest

/// Data-parallel sharding and the predictions ranks exchange.
final class DataShardTests: XCTestCase {
    struct Numbers: Dataset {
        let count: Int
        func item(at index: Int, context: inout ItemContext) throws -> Int { index }
    }

    /// Batch k of every rank together are batch k of one process with ranks × the batch size,
    /// epoch after epoch; training pads so that every rank has as many batches.
    func testRanksTogetherVisitTheBatchesOfOneLargerBatch() throws {
        for (count, ranks, batch) in [(20, 2, 3), (17, 2, 4), (23, 3, 2)] {
            let whole = DataLoader(dataset: Numbers(count: count), batchSize: batch * ranks, seed: 9, prefetch: 0) { $0 }
            let shards = (0..<ranks).map { r -> DataLoader<Numbers, [Int]> in
                var l = DataLoader(dataset: Numbers(count: count), batchSize: batch, seed: 9, prefetch: 0) { $0 }
                l.shard = DataShard(rank: r, ranks: ranks, pad: true)
                return l
            }
            XCTAssertEqual(Set(shards.map(\.batchesPerEpoch)).count, 1, "every rank steps as often")
            for epoch in 0..<2 {
                let order = whole.order(epoch: epoch)
                var padded = order
                while padded.count % ranks != 0 { padded.append(order[padded.count - order.count]) }
                for k in 0..<shards[0].batchesPerEpoch {
                    let together = shards.flatMap { $0.indices(at: LoaderPosition(epoch: epoch, batch: k)) }.sorted()
                    let expected = Array(padded[(k * batch * ranks)..<min(padded.count, (k + 1) * batch * ranks)]).sorted()
                    XCTAssertEqual(together, expected, "count \(count), ranks \(ranks), epoch \(epoch), batch \(k)")
                }
            }
        }
    }

    /// Evaluation does not pad: every item once, over all ranks.
    func testEvaluationShardsCoverEveryItemOnce() {
        let order = Array((0..<11).reversed())
        let parts = (0..<3).map { DataShard(rank: $0, ranks: 3, pad: false) }
        XCTAssertEqual(parts.map { $0.count(of: 11) }, [4, 4, 3])
        XCTAssertEqual(parts.flatMap { $0.deal(order) }.sorted(), Array(0..<11))
        XCTAssertEqual(DataShard(rank: 1, ranks: 2, pad: true).deal([5, 6, 7]), [6, 5])
        XCTAssertEqual(DataShard(rank: 2, ranks: 3, pad: false).deal([1]), [])
    }

    func testPredictionsRoundTripBetweenRanks() throws {
        let p = [ClassificationPredictions(logits: Tensor([1, -2.5, .infinity, 0.125], shape: [2, 2]), labels: [1, 0])]
        let back = try PredictionCoding.decode(try PredictionCoding.encode(p), as: ClassificationPredictions.self)
        XCTAssertEqual(back.count, 1)
        XCTAssertEqual(back[0].logits.shape, [2, 2])
        XCTAssertEqual(back[0].logits.scalars, [1, -2.5, .infinity, 0.125])
        XCTAssertEqual(back[0].labels, [1, 0])
        XCTAssertTrue(evaluationIsShardable(ClassificationTask.self))
        // A single process reduces nothing.
        let one = SingleProcess()
        XCTAssertEqual(try one.allreduceSum([1, 2]), [1, 2])
        XCTAssertEqual(try one.allgather([7]), [[7]])
    }
}
