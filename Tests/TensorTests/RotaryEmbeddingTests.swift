import Foundation
@testable import Tensor
import TestSupport
import XCTest

/// RoPE in the rotate-half form against the formula evaluated in Double, its angles against
/// `transformers`' recipe, and its gradient against finite differences.
final class RotaryEmbeddingTests: XCTestCase {
    func testRotatesEachHeadsHalvesByPositionTimesFrequency() {
        let (n, t, heads, d) = (2, 3, 2, 8)
        let base: Float = 10_000
        let positions = [0, 1, 2, 5, 6, 7]                 // sequence 1 starts at 5 (after a cache)
        let x = randomTensor([n, t, heads * d], seed: 1)
        let (cos, sin) = Tensor.rotaryAngles(positions: positions, dimension: d, base: base)
        let y = x.rotaryEmbedding(cos: cos, sin: sin, heads: heads).scalars
        let xs = x.scalars
        for r in 0..<(n * t) { for h in 0..<heads { for i in 0..<(d / 2) {
            let theta = 1 / Foundation.pow(Double(base), Double(2 * i) / Double(d))
            let angle = Double(positions[r]) * theta
            let lo = Double(xs[r * heads * d + h * d + i]), hi = Double(xs[r * heads * d + h * d + i + d / 2])
            XCTAssertEqual(Double(y[r * heads * d + h * d + i]), lo * Foundation.cos(angle) - hi * Foundation.sin(angle),
                           accuracy: 2e-6)
            XCTAssertEqual(Double(y[r * heads * d + h * d + i + d / 2]), hi * Foundation.cos(angle) + lo * Foundation.sin(angle),
                           accuracy: 2e-6)
        } } }
    }

    func testAnglesShareRowsAcrossTheBatchWhenGivenPerToken() {
        let x = randomTensor([2, 4, 8], seed: 2)
        let perToken = Tensor.rotaryAngles(positions: Array(0..<4), dimension: 8, base: 100)
        let perRow = Tensor.rotaryAngles(positions: Array(0..<4) + Array(0..<4), dimension: 8, base: 100)
        assertClose(x.rotaryEmbedding(cos: perToken.cos, sin: perToken.sin, heads: 1),
                    x.rotaryEmbedding(cos: perRow.cos, sin: perRow.sin, heads: 1), atol: 0, rtol: 0)
    }

    func testPositionZeroIsTheIdentityAndNormsArePreserved() {
        let x = randomTensor([1, 2, 16], seed: 3)
        let (cos, sin) = Tensor.rotaryAngles(positions: [0, 40], dimension: 8, base: 10_000)
        let y = x.rotaryEmbedding(cos: cos, sin: sin, heads: 2)
        XCTAssertEqual(Array(y.scalars.prefix(16)), Array(x.scalars.prefix(16)))
        let norm = { (v: ArraySlice<Float>) in v.reduce(0) { $0 + Double($1 * $1) } }
        XCTAssertEqual(norm(y.scalars[16...]), norm(x.scalars[16...]), accuracy: 1e-5)
    }

    func testGradientMatchesFiniteDifferences() {
        let (cos, sin) = Tensor.rotaryAngles(positions: [3, 9, 1], dimension: 4, base: 10)
        checkGradients([randomTensor([1, 3, 8], seed: 4)]) { x in x[0].rotaryEmbedding(cos: cos, sin: sin, heads: 2) }
    }
}
