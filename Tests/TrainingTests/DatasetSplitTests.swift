import Training
import XCTest

/// Item `i` is `"item i"`.
private struct Named: Dataset {
    let count: Int
    func item(at index: Int, context: inout ItemContext) throws -> String { "item \(index)" }
}

final class DatasetSplitTests: XCTestCase {
    /// Labels in an interleaved order, so that classes are not contiguous runs.
    private func labels(counts: [Int: Int]) -> [Int] {
        var remaining = counts
        var labels: [Int] = []
        while remaining.values.contains(where: { $0 > 0 }) {
            for label in remaining.keys.sorted() where remaining[label]! > 0 {
                labels.append(label)
                remaining[label]! -= 1
            }
        }
        return labels
    }

    private func count(_ label: Int, in indices: [Int], labels: [Int]) -> Int {
        indices.filter { labels[$0] == label }.count
    }

    func testStratifiedSplitHoldsOutTheRoundedShareOfEachClass() throws {
        // f = 0.2: 50 → 10, 30 → 6, 7 → round(1.4) = 1, 2 → round(0.4) = 0 raised to 1,
        // 1 → stays in training; label -3 (11 items) → round(2.2) = 2.
        let counts = [0: 50, 1: 30, 2: 7, 3: 2, 4: 1, -3: 11]
        let expected = [0: 10, 1: 6, 2: 1, 3: 1, 4: 0, -3: 2]
        let labels = labels(counts: counts)
        let split = try DatasetSplit.trainValidation(labels: labels, validationFraction: 0.2, seed: 1,
                                                     stratified: true)
        XCTAssertEqual(split.validation.count, expected.values.reduce(0, +))
        for (label, k) in expected {
            XCTAssertEqual(count(label, in: split.validation, labels: labels), k, "class \(label)")
            XCTAssertEqual(count(label, in: split.train, labels: labels), counts[label]! - k, "class \(label)")
        }
        XCTAssertEqual((split.train + split.validation).sorted(), Array(labels.indices), "a partition")
        XCTAssertEqual(split.train, split.train.sorted())
        XCTAssertEqual(split.validation, split.validation.sorted())
    }

    func testRoundingAndClampingAtTheEdges() throws {
        // 5 items at f = 0.5: round(2.5) = 3 (halves away from zero). 2 items at f = 0.9:
        // round(1.8) = 2, lowered to 1 so the class stays in training too.
        let labels = [7, 7, 7, 7, 7, 8, 8]
        let split = try DatasetSplit.trainValidation(labels: labels, validationFraction: 0.5, seed: 0)
        XCTAssertEqual(count(7, in: split.validation, labels: labels), 3)
        let high = try DatasetSplit.trainValidation(labels: labels, validationFraction: 0.9, seed: 0)
        XCTAssertEqual(count(8, in: high.validation, labels: labels), 1)
        XCTAssertEqual(count(7, in: high.validation, labels: labels), 4, "round(4.5) = 5, lowered to 4")

        let none = try DatasetSplit.trainValidation(labels: labels, validationFraction: 0, seed: 0)
        XCTAssertEqual(none.train, Array(0..<7))
        XCTAssertEqual(none.validation, [])
        let all = try DatasetSplit.trainValidation(labels: labels, validationFraction: 1, seed: 0)
        XCTAssertEqual(all.validation, Array(0..<7))
        XCTAssertEqual(all.train, [])
        let empty = try DatasetSplit.trainValidation(labels: [], validationFraction: 0.3, seed: 0)
        XCTAssertTrue(empty.train.isEmpty && empty.validation.isEmpty)
    }

    func testInvalidFractionsThrow() {
        for f in [-0.1, 1.5, Double.nan, Double.infinity] {
            XCTAssertThrowsError(try DatasetSplit.trainValidation(labels: [0, 1], validationFraction: f, seed: 0)) {
                guard case .invalidFraction? = $0 as? DatasetSplitError else { return XCTFail("\($0)") }
            }
        }
    }

    func testSplitIsDeterministicForASeedAndVariesAcrossSeeds() throws {
        let labels = self.labels(counts: [0: 40, 1: 25, 2: 15])
        for stratified in [true, false] {
            let a = try DatasetSplit.trainValidation(labels: labels, validationFraction: 0.25, seed: 7,
                                                     stratified: stratified)
            let b = try DatasetSplit.trainValidation(labels: labels, validationFraction: 0.25, seed: 7,
                                                     stratified: stratified)
            XCTAssertEqual(a.train, b.train)
            XCTAssertEqual(a.validation, b.validation)
            let others = try (8..<12).map {
                try DatasetSplit.trainValidation(labels: labels, validationFraction: 0.25, seed: UInt64($0),
                                                 stratified: stratified).validation
            }
            XCTAssertFalse(others.contains(a.validation), "another seed should hold out other items")
        }
    }

    func testUnstratifiedSplitHoldsOutTheRoundedShareOverall() throws {
        let labels = Array(repeating: 0, count: 90) + Array(repeating: 1, count: 10)
        let split = try DatasetSplit.trainValidation(labels: labels, validationFraction: 0.15, seed: 3,
                                                     stratified: false)
        XCTAssertEqual(split.validation.count, 15)
        XCTAssertEqual(split.train.count, 85)
        XCTAssertEqual((split.train + split.validation).sorted(), Array(0..<100))
        // Over many seeds the held-out share of the rare class is about 15 % of 10 = 1.5 on average
        // (hypergeometric; the mean over 400 seeds has sd ≈ 0.05).
        var rare = 0
        for seed in 0..<400 {
            let s = try DatasetSplit.trainValidation(labels: labels, validationFraction: 0.15, seed: UInt64(seed),
                                                     stratified: false)
            rare += count(1, in: s.validation, labels: labels)
        }
        XCTAssertEqual(Double(rare) / 400, 1.5, accuracy: 0.3)
        let one = try DatasetSplit.trainValidation(labels: [5, 6], validationFraction: 0.01, seed: 0,
                                                   stratified: false)
        XCTAssertEqual(one.validation.count, 1, "raised to 1 when there are 2 or more items")
    }

    func testSubsetMapsItsIndicesToTheBase() throws {
        let base = Named(count: 10)
        let subset = try Subset(base, indices: [7, 2, 2, 9])
        XCTAssertEqual(subset.count, 4)
        var context = ItemContext(epoch: 0, index: 1, seed: 0)
        XCTAssertEqual(try subset.item(at: 0, context: &context), "item 7")
        XCTAssertEqual(try subset.item(at: 3, context: &context), "item 9")

        XCTAssertThrowsError(try Subset(base, indices: [1, 10])) {
            XCTAssertEqual($0 as? DatasetSplitError, .indexOutOfRange(index: 10, count: 10))
        }
        XCTAssertThrowsError(try Subset(base, indices: [-1]))

        // The two sides of a split, loaded, give back exactly the base items of each side.
        let labels = (0..<10).map { $0 % 2 }
        let split = try DatasetSplit.trainValidation(labels: labels, validationFraction: 0.4, seed: 2)
        let validation = try Subset(base, indices: split.validation)
        let loader = DataLoader(dataset: validation, batchSize: 3, shuffle: false) { $0 }
        let seen = try XCTUnwrap(loader.epoch(0).nextBatch())
        let all = Array(loader.epoch(0)).flatMap { (try? $0.get()) ?? [] }
        XCTAssertEqual(all, split.validation.map { "item \($0)" })
        XCTAssertEqual(seen, Array(all.prefix(3)))
    }
}
