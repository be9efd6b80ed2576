import Foundation
@testable import LanguageModels
import Tasks
import XCTest

/// The sampler against the distributions its settings define (computed here from the formulas),
/// its draws against those probabilities, and its reproducibility by seed.
final class GenerationSamplerTests: XCTestCase {
    let logits: [Float] = [0, Float(log(2.0)), Float(log(4.0)), -.infinity]   // p ∝ 1, 2, 4, 0

    func testGreedyIsTheFirstLargest() {
        var sampler = TokenSampler()
        XCTAssertEqual(sampler.next([1, 3, 3, -2]), 1)
        XCTAssertEqual(sampler.next([.nan, -1, -5]), 1)
        XCTAssertEqual(sampler.next(logits), 2)
    }

    func testProbabilitiesFollowTemperatureTopKAndTopP() {
        func check(_ s: TokenSampler, _ expected: [(Int, Double)], line: UInt = #line) {
            let p = s.probabilities(logits)
            XCTAssertEqual(p.map(\.id), expected.map(\.0), line: line)
            for (a, e) in zip(p, expected) { XCTAssertEqual(a.p, e.1, accuracy: 1e-6, line: line) }
        }
        check(TokenSampler(temperature: 1), [(2, 4.0 / 7), (1, 2.0 / 7), (0, 1.0 / 7), (3, 0)])
        // Temperature 2: p ∝ 1, √2, 2.
        let z = 1 + 2.0.squareRoot() + 2
        check(TokenSampler(temperature: 2), [(2, 2 / z), (1, 2.0.squareRoot() / z), (0, 1 / z), (3, 0)])
        check(TokenSampler(temperature: 1, topK: 2), [(2, 4.0 / 6), (1, 2.0 / 6)])
        // Top-p: the smallest most-likely set reaching p (4/7 ≈ 0.571, then 6/7 ≈ 0.857).
        check(TokenSampler(temperature: 1, topP: 0.5), [(2, 1)])
        check(TokenSampler(temperature: 1, topP: 0.6), [(2, 4.0 / 6), (1, 2.0 / 6)])
        check(TokenSampler(temperature: 1, topK: 3, topP: 0.9), [(2, 4.0 / 7), (1, 2.0 / 7), (0, 1.0 / 7)])
    }

    func testDrawsFollowTheProbabilities() {
        var sampler = TokenSampler(temperature: 1, seed: 42)
        var counts = [0, 0, 0, 0]
        let n = 70_000
        for _ in 0..<n { counts[sampler.next(logits)] += 1 }
        XCTAssertEqual(counts[3], 0)
        for (id, p) in [(0, 1.0 / 7), (1, 2.0 / 7), (2, 4.0 / 7)] {
            // Five standard deviations of a binomial count.
            XCTAssertEqual(Double(counts[id]) / Double(n), p, accuracy: 5 * (p * (1 - p) / Double(n)).squareRoot(), "id \(id)")
        }
    }

    func testSameSeedSameDraws() {
        func draws(_ seed: UInt64) -> [Int] {
            var s = TokenSampler(GenerationSettings(temperature: 0.8, topP: 0.95, seed: seed))
            return (0..<50).map { _ in s.next(logits) }
        }
        XCTAssertEqual(draws(7), draws(7))
        XCTAssertNotEqual(draws(7), draws(8))
    }
}
