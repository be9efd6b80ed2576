import Tensor
import XCTest
@testable import ImageModels

/// Colour adjustments (torchvision's definitions) and normalisation, by hand.
final class TransformColorTests: XCTestCase {
    /// Two RGB pixels: (0.2, 0.4, 0.6) and (1.0, 0.0, 0.5).
    private let pair = Image(height: 1, width: 2, channels: 3, pixels: [0.2, 1.0, 0.4, 0.0, 0.6, 0.5])
    /// torchvision's gray levels of the two pixels: 0.2989 R + 0.587 G + 0.114 B.
    private let gray0: Float = 0.2989 * 0.2 + 0.587 * 0.4 + 0.114 * 0.6   // 0.36298
    private let gray1: Float = 0.2989 * 1.0 + 0.114 * 0.5                 // 0.3559

    private func assertClose(_ a: [Float], _ b: [Float], _ tolerance: Float = 1e-6, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, line: line)
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: tolerance, line: line) }
    }

    func testBrightnessScalesAndClips() {
        assertClose(pair.adjustingBrightness(1.5).pixels, [0.3, 1.0, 0.6, 0.0, 0.9, 0.75])
        assertClose(pair.adjustingBrightness(0).pixels, [0, 0, 0, 0, 0, 0])
    }

    func testContrastBlendsWithTheMeanGray() throws {
        let m = (gray0 + gray1) / 2
        let half = try pair.adjustingContrast(0.5)
        assertClose(half.pixels, [0.2, 1.0, 0.4, 0.0, 0.6, 0.5].map { 0.5 * $0 + 0.5 * m })
        let flat = try pair.adjustingContrast(0)
        assertClose(flat.pixels, [Float](repeating: m, count: 6))
        let gray = Image(height: 1, width: 2, channels: 1, pixels: [0.2, 0.6])
        assertClose(try gray.adjustingContrast(2).pixels, [0.0, 0.8])   // mean 0.4: 2x − 0.4
    }

    func testSaturationBlendsEachPixelWithItsGray() throws {
        assertClose(try pair.adjustingSaturation(0).pixels, [gray0, gray1, gray0, gray1, gray0, gray1])
        let double = try pair.adjustingSaturation(2).pixels   // 2x − g, clipped
        assertClose(double, [0.4 - gray0, 1.0, 0.8 - gray0, 0.0, 1.2 - gray0, 1.0 - gray1])
        let gray = Image(height: 1, width: 2, channels: 1, pixels: [0.2, 0.6])
        XCTAssertEqual(try gray.adjustingSaturation(3), gray)
        XCTAssertThrowsError(try Image(height: 1, width: 1, channels: 4, repeating: 0.5).adjustingSaturation(2))
    }

    func testColorJitterDrawsFactorsInItsRanges() throws {
        var generator = RandomGenerator(seed: 8)
        let image = Image(height: 1, width: 2, channels: 3, pixels: [0.2, 0.3, 0.4, 0.1, 0.5, 0.25])
        var factors: [Float] = []
        for _ in 0..<300 {
            let out = try ColorJitter(brightness: 0.5).apply(image, generator: &generator)
            let factor = out.pixels[0] / image.pixels[0]
            assertClose(out.pixels, image.pixels.map { $0 * factor }, 1e-5)
            factors.append(factor)
        }
        XCTAssertGreaterThanOrEqual(factors.min()!, 0.5)
        XCTAssertLessThanOrEqual(factors.max()!, 1.5)
        XCTAssertLessThan(factors.min()!, 0.55)
        XCTAssertGreaterThan(factors.max()!, 1.45)

        let jitter = ColorJitter(brightness: 0.4, contrast: 0.4, saturation: 0.4)
        var a = RandomGenerator(seed: 99), b = RandomGenerator(seed: 99)
        let first = try jitter.apply(pair, generator: &a)
        XCTAssertEqual(first, try jitter.apply(pair, generator: &b))
        XCTAssertNotEqual(first, pair)
        XCTAssertTrue(first.pixels.allSatisfy { (0...1).contains($0) })
        XCTAssertEqual(try ColorJitter().apply(pair, generator: &a), pair)
    }

    func testNormalizeUsesImageNetStatisticsByDefault() throws {
        let image = Image(height: 1, width: 1, channels: 3, pixels: [0.5, 0.5, 0.5])
        assertClose(try Normalize().apply(image).pixels,
                    [(0.5 - 0.485) / 0.229, (0.5 - 0.456) / 0.224, (0.5 - 0.406) / 0.225], 1e-5)
        assertClose(try Normalize(mean: [0.5], std: [0.25]).apply(Image(height: 1, width: 2, channels: 1, pixels: [0, 1])).pixels,
                    [-2, 2])
        XCTAssertThrowsError(try Normalize().apply(Image(height: 1, width: 1, channels: 1, repeating: 0))) {
            XCTAssertEqual($0 as? ImageTransformError, .unsupportedChannels(transform: "Normalize", channels: 1, supported: [3]))
        }
    }

    func testConvertColor() throws {
        let luma0: Float = 0.299 * 0.2 + 0.587 * 0.4 + 0.114 * 0.6
        let luma1: Float = 0.299 * 1.0 + 0.114 * 0.5
        assertClose(try ConvertColor(.gray).apply(pair).pixels, [luma0, luma1])
        XCTAssertEqual(try ConvertColor(.rgb).apply(Image(height: 1, width: 1, channels: 1, pixels: [0.7])).pixels, [0.7, 0.7, 0.7])
    }
}
