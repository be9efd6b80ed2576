import Foundation
import Tensor
import XCTest
@testable import ImageModels

/// The separable Gaussian blur against the 2-D formula and a naive 2-D convolution.
final class TransformBlurTests: XCTestCase {
    /// exp(−d² / 2σ²), normalised over |d| ≤ ⌈3σ⌉.
    private func kernel(_ sigma: Double) -> [Double] {
        let radius = Int((3 * sigma).rounded(.up))
        let raw = (-radius...radius).map { exp(-Double($0 * $0) / (2 * sigma * sigma)) }
        let total = raw.reduce(0, +)
        return raw.map { $0 / total }
    }

    func testImpulseBecomesTheSampledGaussian() {
        var image = Image(height: 15, width: 15, channels: 1, repeating: 0)
        image[0, 7, 7] = 1
        let sigma = 1.5
        let k = kernel(sigma)   // radius 5
        let out = image.gaussianBlurred(sigma: Float(sigma))
        for y in 0..<15 {
            for x in 0..<15 {
                let dy = y - 7, dx = x - 7
                let want = abs(dy) <= 5 && abs(dx) <= 5 ? k[dy + 5] * k[dx + 5] : 0
                XCTAssertEqual(Double(out[0, y, x]), want, accuracy: 1e-7)
            }
        }
        XCTAssertEqual(Double(out.pixels.reduce(0, +)), 1, accuracy: 1e-5)
    }

    func testMatchesANaiveConvolutionWithReflectedBorders() {
        var generator = RandomGenerator(seed: 12)
        let image = Image(height: 6, width: 7, channels: 2, pixels: (0..<84).map { _ in generator.nextUniform() })
        let sigma = 1.2   // radius 4: reaches past the borders of a 6-row image
        let k = kernel(sigma), r = 4
        // Reflect-101: … 2 1 | 0 1 2 … n−1 | n−2 …, repeated for offsets beyond one period.
        func reflect(_ i: Int, _ n: Int) -> Int {
            var i = i
            while i < 0 || i >= n { i = i < 0 ? -i : 2 * (n - 1) - i }
            return i
        }
        let out = image.gaussianBlurred(sigma: Float(sigma))
        for c in 0..<2 {
            for y in 0..<6 {
                for x in 0..<7 {
                    var want = 0.0
                    for dy in -r...r {
                        for dx in -r...r {
                            want += k[dy + r] * k[dx + r] * Double(image[c, reflect(y + dy, 6), reflect(x + dx, 7)])
                        }
                    }
                    XCTAssertEqual(Double(out[c, y, x]), want, accuracy: 1e-5)
                }
            }
        }
    }

    func testConstantIsUnchangedAndZeroSigmaIsIdentity() throws {
        let flat = Image(height: 4, width: 9, channels: 3, repeating: 0.4)
        for v in flat.gaussianBlurred(sigma: 3).pixels { XCTAssertEqual(v, 0.4, accuracy: 1e-6) }
        let image = Image(height: 1, width: 3, channels: 1, pixels: [1, 2, 3])
        XCTAssertEqual(image.gaussianBlurred(sigma: 0), image)
        XCTAssertEqual(try GaussianBlur(sigma: 0).apply(image), image)
    }
}
