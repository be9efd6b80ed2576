import Foundation
import Tensor
import XCTest
@testable import ImageModels

/// Flips and rotation, by hand and against a naive reference loop.
final class TransformGeometryTests: XCTestCase {
    private let three = Image(height: 3, width: 3, channels: 1, pixels: [1, 2, 3, 4, 5, 6, 7, 8, 9])

    func testFlips() throws {
        XCTAssertEqual(three.flippedHorizontally().pixels, [3, 2, 1, 6, 5, 4, 9, 8, 7])
        XCTAssertEqual(three.flippedVertically().pixels, [7, 8, 9, 4, 5, 6, 1, 2, 3])
        XCTAssertEqual(try HorizontalFlip().apply(three), three.flippedHorizontally())
        XCTAssertEqual(try VerticalFlip().apply(three), three.flippedVertically())
        let two = Image(height: 1, width: 2, channels: 2, pixels: [1, 2, 3, 4])
        XCTAssertEqual(two.flippedHorizontally().pixels, [2, 1, 4, 3])
    }

    func testRandomFlipHappensAtTheGivenRate() throws {
        var generator = RandomGenerator(seed: 2)
        var flipped = 0
        for _ in 0..<2000 where try RandomHorizontalFlip(probability: 0.3).apply(three, generator: &generator) != three {
            flipped += 1
        }
        XCTAssertEqual(Double(flipped) / 2000, 0.3, accuracy: 0.04)
        XCTAssertEqual(try RandomVerticalFlip(probability: 1).apply(three, generator: &generator), three.flippedVertically())
        XCTAssertEqual(try RandomVerticalFlip(probability: 0).apply(three, generator: &generator), three)
    }

    func testQuarterTurnsAreCounterClockwisePermutations() {
        let left = three.rotated(degrees: 90)
        let expected: [Float] = [3, 6, 9, 2, 5, 8, 1, 4, 7]
        for (a, b) in zip(left.pixels, expected) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        let half = three.rotated(degrees: 180)
        for (a, b) in zip(half.pixels, three.pixels.reversed()) { XCTAssertEqual(a, b, accuracy: 1e-5) }
    }

    func testFortyFiveDegreeCornerByHand() {
        // 5×5 of ones, 45°: output corner (0, 0) is (−2, −2) from the centre and reads the input
        // at (0, −2√2) from it, i.e. sample row 2 − 2√2 ≈ −0.83, column 2: between a fill row
        // (weight 1 − a) and row 0 (weight a = 3 − 2√2 ≈ 0.17).
        let ones = Image(height: 5, width: 5, channels: 1, repeating: 1)
        let out = ones.rotated(degrees: 45, fill: 0)
        XCTAssertEqual(out[0, 0, 0], Float(3 - 2 * 2.0.squareRoot()), accuracy: 1e-5)
        XCTAssertEqual(out[0, 2, 2], 1, accuracy: 1e-6)
        let filled = ones.rotated(degrees: 45, fill: 1)
        for sample in filled.pixels { XCTAssertEqual(sample, 1, accuracy: 1e-6) }
    }

    func testRotationMatchesANaiveInverseMapping() {
        var generator = RandomGenerator(seed: 9)
        let image = Image(height: 6, width: 7, channels: 2, pixels: (0..<84).map { _ in generator.nextUniform() })
        let degrees: Float = 23
        let out = image.rotated(degrees: degrees, fill: 0.25)
        let t = Double(degrees) * .pi / 180
        func sample(_ c: Int, _ y: Int, _ x: Int) -> Double {
            (0..<6).contains(y) && (0..<7).contains(x) ? Double(image[c, y, x]) : 0.25
        }
        for c in 0..<2 {
            for y in 0..<6 {
                for x in 0..<7 {
                    let dx = Double(x) - 3, dy = Double(y) - 2.5
                    let sx = cos(t) * dx - sin(t) * dy + 3, sy = sin(t) * dx + cos(t) * dy + 2.5
                    let x0 = Int(floor(sx)), y0 = Int(floor(sy))
                    let ax = sx - floor(sx), ay = sy - floor(sy)
                    let want = (1 - ax) * (1 - ay) * sample(c, y0, x0) + ax * (1 - ay) * sample(c, y0, x0 + 1)
                        + (1 - ax) * ay * sample(c, y0 + 1, x0) + ax * ay * sample(c, y0 + 1, x0 + 1)
                    XCTAssertEqual(Double(out[c, y, x]), want, accuracy: 1e-5)
                }
            }
        }
    }

    func testRandomRotationDrawsWithinTheRange() throws {
        var generator = RandomGenerator(seed: 4)
        var copy = generator
        let out = try RandomRotation(degrees: 30).apply(three, generator: &generator)
        let angle = -30 + 60 * copy.nextUniform()
        XCTAssertEqual(out, three.rotated(degrees: angle))
        XCTAssertTrue(abs(angle) <= 30)
    }
}
