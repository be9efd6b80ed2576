import Foundation
import Training
import XCTest

// MARK: - Test datasets

/// Item `i` is `i`.
private struct Numbers: Dataset {
    let count: Int
    func item(at index: Int, context: inout ItemContext) throws -> Int { index }
}

/// An item that shows what the loader passed in: the index, the context's epoch and index, and
/// the first draw of its generator (what an augmentation would use).
private struct Probe: Equatable {
    var index: Int, epoch: Int, contextIndex: Int, draw: UInt64
}

private struct Probes: Dataset {
    let count: Int
    func item(at index: Int, context: inout ItemContext) throws -> Probe {
        Probe(index: index, epoch: context.epoch, contextIndex: context.index, draw: context.generator.next())
    }
}

private struct CorruptRow: Error, CustomStringConvertible {
    let row: Int
    var description: String { "row \(row) is corrupt" }
}

/// Throws for the indices in `bad`.
private struct Faulty: Dataset {
    let count: Int
    let bad: Set<Int>
    func item(at index: Int, context: inout ItemContext) throws -> Int {
        if bad.contains(index) { throw CorruptRow(row: index) }
        return index
    }
}

/// Records which reads have started (and how many), so tests can wait for a read to begin.
private final class ReadLog: @unchecked Sendable {
    private let condition = NSCondition()
    private var started: Set<Int> = []
    private(set) var reads = 0

    func begin(_ index: Int) {
        condition.lock()
        started.insert(index)
        reads += 1
        condition.broadcast()
        condition.unlock()
    }

    func hasStarted(_ index: Int) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        return started.contains(index)
    }

    var readCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return reads
    }

    /// Whether the read of `index` starts within `timeout` seconds.
    func waitUntilStarted(_ index: Int, timeout: TimeInterval) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while !started.contains(index) {
            if !condition.wait(until: deadline) { return started.contains(index) }
        }
        return true
    }
}

/// Logs each read, then sleeps `delay` seconds (a slow disk).
private struct Logged: Dataset {
    let count: Int
    let log: ReadLog
    var delay: TimeInterval = 0
    func item(at index: Int, context: inout ItemContext) throws -> Int {
        log.begin(index)
        if delay > 0 { Thread.sleep(forTimeInterval: delay) }
        return index
    }
}

/// Runs `body` on another thread; false if it has not returned after `seconds` (a hang).
private func finishes(within seconds: TimeInterval, _ body: @escaping () -> Void) -> Bool {
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        body()
        done.signal()
    }
    thread.start()
    return done.wait(timeout: .now() + seconds) == .success
}

private func allBatches<D, B>(_ iterator: BatchIterator<D, B>) throws -> [B] {
    var batches: [B] = []
    while let batch = try iterator.nextBatch() { batches.append(batch) }
    return batches
}

// MARK: - Tests

final class DataLoaderTests: XCTestCase {
    func testUnshuffledBatchesAreConsecutiveAndKeepTheLastPartialBatch() throws {
        for prefetch in [0, 1, 3] {
            let loader = DataLoader(dataset: Numbers(count: 10), batchSize: 3, shuffle: false,
                                    prefetch: prefetch) { $0 }
            XCTAssertEqual(loader.batchesPerEpoch, 4)
            XCTAssertEqual(loader.order(epoch: 5), Array(0..<10))
            XCTAssertEqual(try allBatches(loader.epoch(0)), [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]],
                           "prefetch \(prefetch)")
        }
    }

    func testDropLastSkipsTheFinalPartialBatch() throws {
        let plain = DataLoader(dataset: Numbers(count: 10), batchSize: 3, shuffle: false, dropLast: true) { $0 }
        XCTAssertEqual(plain.batchesPerEpoch, 3)
        XCTAssertEqual(try allBatches(plain.epoch(0)), [[0, 1, 2], [3, 4, 5], [6, 7, 8]])

        let shuffled = DataLoader(dataset: Numbers(count: 23), batchSize: 5, dropLast: true, seed: 3) { $0 }
        XCTAssertEqual(shuffled.batchesPerEpoch, 4)
        let batches = try allBatches(shuffled.epoch(1))
        XCTAssertEqual(batches.map(\.count), [5, 5, 5, 5])
        XCTAssertEqual(Set(batches.joined()).count, 20, "no item twice")
        // The dropped items are the last 3 of that epoch's permutation.
        XCTAssertEqual(Set(batches.joined()), Set(shuffled.order(epoch: 1).prefix(20)))

        let exact = DataLoader(dataset: Numbers(count: 12), batchSize: 4, dropLast: true) { $0 }
        XCTAssertEqual(exact.batchesPerEpoch, 3)
        let empty = DataLoader(dataset: Numbers(count: 3), batchSize: 4, dropLast: true) { $0 }
        XCTAssertEqual(empty.batchesPerEpoch, 0)
        XCTAssertNil(try empty.epoch(0).nextBatch())
    }

    func testShuffledEpochIsASeededPermutationThatChangesEveryEpoch() throws {
        let n = 103
        let loader = DataLoader(dataset: Numbers(count: n), batchSize: 10, seed: 42) { $0 }
        let epoch0 = try allBatches(loader.epoch(0))
        XCTAssertEqual(epoch0.map(\.count), Array(repeating: 10, count: 10) + [3])
        let flat = Array(epoch0.joined())
        XCTAssertEqual(flat.sorted(), Array(0..<n), "every item exactly once")
        XCTAssertNotEqual(flat, Array(0..<n), "shuffled")
        XCTAssertEqual(flat, loader.order(epoch: 0))

        // Same seed, a new loader: the same order. Another epoch or seed: another order.
        let again = DataLoader(dataset: Numbers(count: n), batchSize: 10, seed: 42) { $0 }
        XCTAssertEqual(Array(try allBatches(again.epoch(0)).joined()), flat)
        let epoch1 = Array(try allBatches(loader.epoch(1)).joined())
        XCTAssertEqual(epoch1.sorted(), Array(0..<n))
        XCTAssertNotEqual(epoch1, flat)
        let otherSeed = DataLoader(dataset: Numbers(count: n), batchSize: 10, seed: 43) { $0 }
        XCTAssertNotEqual(otherSeed.order(epoch: 0), flat)
        // The order of epoch e does not depend on which epochs were read before.
        XCTAssertEqual(DataLoader(dataset: Numbers(count: n), batchSize: 10, seed: 42) { $0 }.order(epoch: 1),
                       epoch1)
    }

    func testShuffleLooksUniform() {
        // Over many epochs each item lands in each position about equally often: with 6 items and
        // 6000 epochs, each (item, position) count is Binomial(6000, 1/6): mean 1000, sd ≈ 29.
        let loader = DataLoader(dataset: Numbers(count: 6), batchSize: 6, seed: 9) { $0 }
        var counts = Array(repeating: Array(repeating: 0, count: 6), count: 6)
        for e in 0..<6000 {
            for (position, item) in loader.order(epoch: e).enumerated() { counts[item][position] += 1 }
        }
        for row in counts { for c in row { XCTAssertTrue((850...1150).contains(c), "\(counts)") } }
    }

    func testPrefetchAndReadThreadsDoNotChangeTheBatches() throws {
        func batches(prefetch: Int, readThreads: Int) throws -> [[Probe]] {
            let loader = DataLoader(dataset: Probes(count: 37), batchSize: 4, seed: 5,
                                    prefetch: prefetch, readThreads: readThreads) { $0 }
            return try allBatches(loader.epoch(2))
        }
        let reference = try batches(prefetch: 0, readThreads: 1)
        XCTAssertEqual(try batches(prefetch: 1, readThreads: 1), reference)
        XCTAssertEqual(try batches(prefetch: 2, readThreads: 3), reference)
        XCTAssertEqual(try batches(prefetch: 0, readThreads: 4), reference)
        for probe in reference.joined() {
            XCTAssertEqual(probe.epoch, 2)
            XCTAssertEqual(probe.contextIndex, probe.index, "items are keyed by their dataset index")
            var context = ItemContext(epoch: 2, index: probe.index, seed: 5)
            XCTAssertEqual(probe.draw, context.generator.next(), "the item's generator is ItemContext's")
        }
    }

    func testResumingAtAPositionYieldsWhatAnUninterruptedRunYields() throws {
        func makeLoader() -> DataLoader<Probes, [Probe]> {
            DataLoader(dataset: Probes(count: 29), batchSize: 4, seed: 11, prefetch: 2) { $0 }
        }
        var uninterrupted: [[Probe]] = []
        for e in 0..<3 { uninterrupted += try allBatches(makeLoader().epoch(e)) }

        // Stop in epoch 1 after training on 3 batches, save the position, resume with a new loader.
        var resumed: [[Probe]] = try allBatches(makeLoader().epoch(0))
        let first = makeLoader().epoch(1)
        for _ in 0..<3 { resumed.append(try XCTUnwrap(first.nextBatch())) }
        let saved = first.position
        first.cancel()
        XCTAssertEqual(saved, LoaderPosition(epoch: 1, batch: 3))
        let data = try JSONEncoder().encode(saved)
        let restored = try JSONDecoder().decode(LoaderPosition.self, from: data)
        XCTAssertEqual(restored, saved)

        var position = restored
        while position.epoch < 3 {
            let iterator = try makeLoader().epoch(at: position)
            resumed += try allBatches(iterator)
            XCTAssertEqual(iterator.position, LoaderPosition(epoch: position.epoch, batch: 8))
            position = makeLoader().normalized(iterator.position)
        }
        XCTAssertEqual(resumed, uninterrupted)
        XCTAssertEqual(makeLoader().normalized(LoaderPosition(epoch: 1, batch: 8)), LoaderPosition(epoch: 2, batch: 0))
        XCTAssertEqual(makeLoader().normalized(LoaderPosition(epoch: 1, batch: 7)), LoaderPosition(epoch: 1, batch: 7))

        // A position from another dataset or batch size is an error, not a crash.
        XCTAssertThrowsError(try makeLoader().epoch(at: LoaderPosition(epoch: 0, batch: 9))) {
            guard case .positionOutOfRange(_, 8)? = $0 as? DataLoaderError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try makeLoader().epoch(at: LoaderPosition(epoch: -1, batch: 0)))

        // Starting at the end of an epoch yields nothing; a single batch is the same as read in a run.
        XCTAssertNil(try makeLoader().epoch(1, startingAt: 8).nextBatch())
        XCTAssertEqual(try makeLoader().batch(at: LoaderPosition(epoch: 2, batch: 5)), uninterrupted[8 + 8 + 5])
        XCTAssertEqual(makeLoader().indices(at: LoaderPosition(epoch: 2, batch: 5)),
                       uninterrupted[8 + 8 + 5].map(\.index))
    }

    func testPrefetchReadsTheNextBatchWhileTheConsumerHoldsTheCurrentOne() throws {
        // Batches are [0, 1], [2, 3], … The consumer holds batch i and does not ask for more; the
        // read of batch i + 1 must begin anyway (it would never begin without prefetch).
        let log = ReadLog()
        let loader = DataLoader(dataset: Logged(count: 12, log: log), batchSize: 2, shuffle: false,
                                prefetch: 1) { $0 }
        let batches = loader.epoch(0)
        for i in 0..<5 {
            XCTAssertEqual(try batches.nextBatch(), [2 * i, 2 * i + 1])
            XCTAssertTrue(log.waitUntilStarted(2 * (i + 1), timeout: 20),
                          "batch \(i + 1) was not read while the consumer held batch \(i)")
            // Depth 1: nothing beyond batch i + 1 starts while batch i is held.
            Thread.sleep(forTimeInterval: 0.02)
            XCTAssertFalse(log.hasStarted(2 * (i + 2)), "prefetch went deeper than 1 batch")
        }
        XCTAssertEqual(try allBatches(batches).count, 1)
    }

    func testPrefetchDepthIsBounded() throws {
        let log = ReadLog()
        let loader = DataLoader(dataset: Logged(count: 20, log: log), batchSize: 2, shuffle: false,
                                prefetch: 3) { $0 }
        let batches = loader.epoch(0)
        XCTAssertEqual(try batches.nextBatch(), [0, 1])
        XCTAssertTrue(log.waitUntilStarted(6, timeout: 20), "batch 3 should be prepared ahead")
        XCTAssertTrue(log.waitUntilStarted(7, timeout: 20))
        Thread.sleep(forTimeInterval: 0.05)
        XCTAssertFalse(log.hasStarted(8), "at most 3 batches ahead of the one held")
        XCTAssertEqual(try batches.nextBatch(), [2, 3])
        XCTAssertTrue(log.waitUntilStarted(8, timeout: 20), "taking a batch frees a slot")
    }

    func testWithoutPrefetchNothingIsReadUntilAskedFor() throws {
        let log = ReadLog()
        let loader = DataLoader(dataset: Logged(count: 8, log: log), batchSize: 2, shuffle: false,
                                prefetch: 0) { $0 }
        let batches = loader.epoch(0)
        XCTAssertFalse(batches.isPrefetching)
        Thread.sleep(forTimeInterval: 0.02)
        XCTAssertEqual(log.readCount, 0)
        XCTAssertEqual(try batches.nextBatch(), [0, 1])
        Thread.sleep(forTimeInterval: 0.05)
        XCTAssertEqual(log.readCount, 2)
    }

    func testAFailingItemSurfacesAtItsBatchNamingTheIndex() throws {
        for (prefetch, readThreads) in [(0, 1), (1, 1), (2, 3)] {
            let loader = DataLoader(dataset: Faulty(count: 12, bad: [7, 5]), batchSize: 4, shuffle: false,
                                    prefetch: prefetch, readThreads: readThreads) { $0 }
            let results = Array(loader.epoch(0))
            XCTAssertEqual(results.count, 3, "the batches after a failure still come")
            XCTAssertEqual(try results[0].get(), [0, 1, 2, 3])
            XCTAssertEqual(try results[2].get(), [8, 9, 10, 11])
            guard case .failure(let error) = results[1],
                  case let .itemFailed(index, position, underlying) = error else {
                return XCTFail("batch 1 should fail reading an item: \(results[1])")
            }
            XCTAssertEqual(index, 5, "the first failing item in batch order")
            XCTAssertEqual(position, LoaderPosition(epoch: 0, batch: 1))
            XCTAssertEqual((underlying as? CorruptRow)?.row, 5)
            XCTAssertTrue(error.description.contains("item 5"), error.description)
            XCTAssertTrue(error.description.contains("row 5 is corrupt"), error.description)
        }

        // nextBatch() throws at that batch and then moves on.
        let loader = DataLoader(dataset: Faulty(count: 12, bad: [6]), batchSize: 4, shuffle: false) { $0 }
        let batches = loader.epoch(0)
        XCTAssertEqual(try batches.nextBatch(), [0, 1, 2, 3])
        XCTAssertThrowsError(try batches.nextBatch()) { error in
            guard case .itemFailed(6, LoaderPosition(epoch: 0, batch: 1), _)? = error as? DataLoaderError else {
                return XCTFail("\(error)")
            }
        }
        XCTAssertEqual(try batches.nextBatch(), [8, 9, 10, 11])
        XCTAssertNil(try batches.nextBatch())
        XCTAssertThrowsError(try loader.batch(at: LoaderPosition(epoch: 3, batch: 1)))
    }

    func testACollateFailureNamesTheBatchItems() throws {
        struct Unbatchable: Error {}
        let loader = DataLoader(dataset: Numbers(count: 6), batchSize: 2, shuffle: false, prefetch: 1) { items in
            if items.contains(3) { throw Unbatchable() }
            return items.reduce(0, +)
        }
        let results = Array(loader.epoch(0))
        XCTAssertEqual(try results[0].get(), 1)
        XCTAssertEqual(try results[2].get(), 9)
        guard case .failure(.collateFailed(let indices, let position, let underlying)) = results[1] else {
            return XCTFail("\(results[1])")
        }
        XCTAssertEqual(indices, [2, 3])
        XCTAssertEqual(position, LoaderPosition(epoch: 0, batch: 1))
        XCTAssertTrue(underlying is Unbatchable)
    }

    func testAbandoningAnEpochStopsTheBackgroundThread() {
        weak var weakLog: ReadLog?
        var readsAfterStop = -1, readsLater = -2
        let finished = finishes(within: 30) {
            let log = ReadLog()
            weakLog = log
            let loader = DataLoader(dataset: Logged(count: 400, log: log, delay: 0.002), batchSize: 4,
                                    prefetch: 2) { $0 }
            for result in loader.epoch(0) {
                _ = result
                break   // drops the iterator, which cancels and joins the thread
            }
            readsAfterStop = log.readCount
            Thread.sleep(forTimeInterval: 0.05)
            readsLater = log.readCount
        }
        XCTAssertTrue(finished, "abandoning the epoch hung")
        XCTAssertEqual(readsLater, readsAfterStop, "reads went on after the iterator was dropped")
        XCTAssertLessThanOrEqual(readsAfterStop, 4 * 3, "at most the held batch and 2 prefetched were read")
        // Nothing keeps the dataset alive once the thread is gone (no leaked thread or cycle).
        let deadline = Date(timeIntervalSinceNow: 10)
        while weakLog != nil && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertNil(weakLog, "the background thread or its queue leaked")
    }

    func testCancelStopsAThreadThatIsWaitingOrReading() {
        // Cancelled before any batch is taken, while the producer waits for a free slot, and
        // while it is in the middle of a slow read.
        for (delay, pause) in [(0.0, 0.0), (0.0, 0.05), (0.05, 0.02)] {
            let log = ReadLog()
            var stillRunning = true, batchAfterCancel = true
            let finished = finishes(within: 30) {
                let loader = DataLoader(dataset: Logged(count: 40, log: log, delay: delay), batchSize: 2,
                                        shuffle: false, prefetch: 1) { $0 }
                let batches = loader.epoch(0)
                Thread.sleep(forTimeInterval: pause)
                batches.cancel()
                stillRunning = batches.isPrefetching
                batchAfterCancel = batches.next() != nil
                batches.cancel()   // twice is fine
            }
            XCTAssertTrue(finished, "cancel hung (delay \(delay), pause \(pause))")
            XCTAssertFalse(stillRunning, "the thread outlived cancel()")
            XCTAssertFalse(batchAfterCancel, "no batch after cancel")
            XCTAssertLessThanOrEqual(log.readCount, 2)
        }
    }

    func testTheThreadEndsWithTheEpoch() throws {
        let loader = DataLoader(dataset: Numbers(count: 9), batchSize: 2, prefetch: 4) { $0 }
        let batches = loader.epoch(0)
        XCTAssertEqual(try allBatches(batches).count, 5)
        XCTAssertFalse(batches.isPrefetching)
        XCTAssertNil(batches.next())
    }
}
