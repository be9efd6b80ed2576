import Foundation
import Training
import XCTest

/// Grouping by length (for padded text batches): each epoch is still a seeded permutation, batches
/// hold items of similar length, and padding shrinks.
final class DataLoaderLengthGroupingTests: XCTestCase {
    struct Numbers: Dataset {
        let count: Int
        func item(at index: Int, context: inout ItemContext) throws -> Int { index }
    }

    /// Lengths with no relation to the index: 1 + (i·37 mod 101).
    let lengths = (0..<1000).map { 1 + ($0 * 37) % 101 }

    func loader(shuffle: Bool, seed: UInt64 = 3) -> DataLoader<Numbers, [Int]> {
        DataLoader(dataset: Numbers(count: 1000), batchSize: 8, shuffle: shuffle, seed: seed, prefetch: 0,
                   lengths: lengths) { $0 }
    }

    /// Padded tokens of an epoch: Σ over batches of (longest item × batch size).
    func paddedTokens(_ order: [Int], batchSize: Int = 8) -> Int {
        stride(from: 0, to: order.count, by: batchSize).reduce(0) { total, start in
            let batch = order[start..<min(start + batchSize, order.count)]
            return total + batch.map { lengths[$0] }.max()! * batch.count
        }
    }

    func testEpochIsAPermutationThatDependsOnSeedAndEpochOnly() {
        let l = loader(shuffle: true)
        let first = l.order(epoch: 0)
        XCTAssertEqual(first.sorted(), Array(0..<1000))
        XCTAssertEqual(first, loader(shuffle: true).order(epoch: 0))          // reproducible (resume)
        XCTAssertNotEqual(first, l.order(epoch: 1))
        XCTAssertNotEqual(first, loader(shuffle: true, seed: 4).order(epoch: 0))
    }

    func testBatchesGroupSimilarLengthsAndPaddingShrinks() {
        let grouped = loader(shuffle: true).order(epoch: 0)
        let plain = DataLoader(dataset: Numbers(count: 1000), batchSize: 8, shuffle: true, seed: 3, prefetch: 0) { $0 }
            .order(epoch: 0)
        let real = lengths.reduce(0, +)
        // Random batches of 8 pad to about the 8/9 quantile of 1…101; grouped ones to near the mean.
        XCTAssertGreaterThan(paddedTokens(plain), real * 3 / 2)
        XCTAssertLessThan(paddedTokens(grouped), real * 11 / 10)
        // Within a batch, lengths are sorted in decreasing order (they come from one sorted group).
        for start in stride(from: 0, to: 1000, by: 8) {
            let batch = grouped[start..<start + 8].map { lengths[$0] }
            XCTAssertEqual(batch, batch.sorted(by: >))
        }
        // Batches are shuffled: their longest items do not simply decrease through the epoch.
        let maxima = stride(from: 0, to: 1000, by: 8).map { grouped[$0..<$0 + 8].map { lengths[$0] }.max()! }
        XCTAssertNotEqual(maxima, maxima.sorted(by: >))
    }

    func testWithoutShuffleGroupsInIndexOrder() {
        let order = loader(shuffle: false).order(epoch: 0)
        XCTAssertEqual(order.sorted(), Array(0..<1000))
        XCTAssertEqual(order, loader(shuffle: false).order(epoch: 5))
        // The first group (400 items) is indices 0..<400 sorted by decreasing length, ties by index.
        let group = Array(0..<400).sorted { lengths[$0] != lengths[$1] ? lengths[$0] > lengths[$1] : $0 < $1 }
        XCTAssertEqual(Array(order.prefix(400)), group)
    }

    func testPartialLastBatchStaysLast() {
        let l = DataLoader(dataset: Numbers(count: 1000), batchSize: 7, shuffle: true, seed: 1, prefetch: 0,
                           lengths: lengths) { $0 }
        let order = l.order(epoch: 2)
        XCTAssertEqual(order.sorted(), Array(0..<1000))
        // 1000 = 142·7 + 6: the partial batch is the tail of the last sorted group (300 items of
        // lengths spread over 1…101), so its 6 items are among the shortest, in decreasing order.
        let tail = order.suffix(6).map { lengths[$0] }
        XCTAssertEqual(tail, tail.sorted(by: >))
        XCTAssertLessThanOrEqual(tail.max()!, 5)
    }
}
