import XCTest
@testable import ImageModels

/// Antialiased bilinear resize against Pillow (fixture) and by hand.
final class TransformResizeTests: XCTestCase {
    func testMatchesPillowsFloatResize() throws {
        let fixture = try ResizeFixture.load()
        let source = Image(height: fixture.height, width: fixture.width, channels: 3,
                           interleaved: fixture.pixels.map { Float($0) })  // 0–255 scale, as Pillow's "F" planes
        for test in fixture.cases {
            let out = source.resized(height: test.height, width: test.width)
            XCTAssertEqual([out.height, out.width], [test.height, test.width])
            var worst = 0.0
            for c in 0..<3 {
                for (i, want) in test.float[c].enumerated() {
                    worst = max(worst, abs(Double(out.pixels[c * out.planeSize + i]) - want))
                }
            }
            // Pillow's values are rounded to 3 decimals in the fixture; float32 sums add ~1e-5.
            XCTAssertLessThan(worst, 6e-4, "\(test.width)×\(test.height)")
        }
    }

    func testMatchesPillowsEightBitResizeWithinOneUnit() throws {
        let fixture = try ResizeFixture.load()
        let source = Image(height: fixture.height, width: fixture.width, channels: 3,
                           interleaved: fixture.pixels.map { Float($0) / 255 })
        for test in fixture.cases {
            let out = source.resized(height: test.height, width: test.width).interleaved
            let differences = zip(out, test.rgb8).map { abs($0 * 255 - Float($1)) }
            // Pillow rounds to 8 bits between its two passes; these do not.
            XCTAssertLessThanOrEqual(differences.max()!, 1.0, "\(test.width)×\(test.height)")
        }
    }

    func testUpsamplingByHand() {
        // 2 → 4: output centres at 0.25, 0.75, 1.25, 1.75 in input units; the tent of width 1
        // gives [0, 0.25, 0.75, 1] for inputs [0, 1].
        let row = Image(height: 1, width: 2, channels: 1, pixels: [0, 1])
        XCTAssertEqual(row.resized(height: 1, width: 4).pixels, [0, 0.25, 0.75, 1])
    }

    func testDownsamplingAveragesEveryInputByHand() {
        // 4 → 2: scale 2, the tent widens to support 2. Output 0 (centre 1) weighs inputs 0, 1, 2
        // by 0.75, 0.75, 0.25; output 1 (centre 3) inputs 1, 2, 3 by 0.25, 0.75, 0.75.
        // Plain bilinear would read [0.5, 2.5] and ignore half the inputs.
        let row = Image(height: 1, width: 4, channels: 1, pixels: [0, 1, 2, 3])
        let out = row.resized(height: 1, width: 2).pixels
        XCTAssertEqual(out[0], 1.25 / 1.75, accuracy: 1e-6)
        XCTAssertEqual(out[1], 4.0 / 1.75, accuracy: 1e-6)
        // The same along the other axis.
        let column = Image(height: 4, width: 1, channels: 1, pixels: [0, 1, 2, 3])
        XCTAssertEqual(column.resized(height: 2, width: 1).pixels, out)
    }

    func testConstantStaysConstantAndSameSizeIsIdentity() {
        let flat = Image(height: 9, width: 7, channels: 2, repeating: 0.3)
        for sample in flat.resized(height: 4, width: 11).pixels { XCTAssertEqual(sample, 0.3, accuracy: 1e-6) }
        let image = Image(height: 3, width: 2, channels: 1, pixels: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(image.resized(height: 3, width: 2), image)
    }

    func testShorterSideSizesFollowTorchvision() {
        // torchvision: new_long = int(size * long / short); max_size caps the long side.
        XCTAssertTrue(Resize(shorterSide: 10).outputSize(height: 13, width: 17) == (10, 13))
        XCTAssertTrue(Resize(shorterSide: 256).outputSize(height: 500, width: 375) == (341, 256))
        XCTAssertTrue(Resize(shorterSide: 256, maxSize: 300).outputSize(height: 500, width: 375) == (300, 225))
        XCTAssertTrue(Resize(height: 5, width: 8).outputSize(height: 100, width: 3) == (5, 8))
    }
}

extension ResizeFixture {
    static func load() throws -> ResizeFixture { try ImageFixtures.resize() }
}
