import Tensor
import XCTest
@testable import ImageModels

/// Crops: offsets by hand (torchvision's rounding), padding, random positions and their ranges.
final class TransformCropTests: XCTestCase {
    /// A 1-channel image whose sample is 10·y + x, so a crop's values show where it came from.
    private func grid(height: Int, width: Int) -> Image {
        Image(height: height, width: width, channels: 1,
              pixels: (0..<(height * width)).map { Float(($0 / width) * 10 + $0 % width) })
    }

    func testCroppedReadsTheRegionAndFillsOutside() {
        let image = grid(height: 3, width: 4)
        XCTAssertEqual(image.cropped(top: 1, left: 2, height: 2, width: 2).pixels, [12, 13, 22, 23])
        XCTAssertEqual(image.cropped(top: -1, left: 3, height: 2, width: 2, fill: -1).pixels, [-1, -1, 3, -1])
        XCTAssertEqual(image.padded(top: 0, left: 1, bottom: 0, right: 0, fill: 9).pixels.prefix(5), [9, 0, 1, 2, 3])
    }

    func testCenterCropRoundsHalvesToEvenLikeTorchvision() throws {
        // (5 − 2) / 2 = 1.5 → 2;  (7 − 2) / 2 = 2.5 → 2;  (6 − 2) / 2 = 2.
        XCTAssertEqual(try CenterCrop(height: 1, width: 2).apply(grid(height: 1, width: 5)).pixels, [2, 3])
        XCTAssertEqual(try CenterCrop(height: 1, width: 2).apply(grid(height: 1, width: 7)).pixels, [2, 3])
        XCTAssertEqual(try CenterCrop(height: 2, width: 2).apply(grid(height: 6, width: 6)).pixels, [22, 23, 32, 33])
    }

    func testCenterCropLargerThanTheImagePadsWithZeros() throws {
        // 2 → 5: ⌊(5 − 2) / 2⌋ = 1 zero before, 2 after.
        let out = try CenterCrop(height: 1, width: 5).apply(Image(height: 1, width: 2, channels: 1, pixels: [7, 8]))
        XCTAssertEqual(out.pixels, [0, 7, 8, 0, 0])
    }

    func testRandomCropIsAWindowAndReachesEveryPosition() throws {
        let image = grid(height: 5, width: 6)
        let crop = RandomCrop(height: 3, width: 2)
        var generator = RandomGenerator(seed: 3)
        var corners = Set<Float>()
        for _ in 0..<400 {
            let out = try crop.apply(image, generator: &generator)
            let corner = out.pixels[0]
            let (y, x) = (Int(corner) / 10, Int(corner) % 10)
            XCTAssertEqual(out, image.cropped(top: y, left: x, height: 3, width: 2))
            corners.insert(corner)
        }
        XCTAssertEqual(corners.count, 3 * 5)  // (5 − 3 + 1) × (6 − 2 + 1) positions
    }

    func testRandomCropPaddingAndTooSmallImages() throws {
        var generator = RandomGenerator(seed: 1)
        let padded = try RandomCrop(size: 4, padding: 1, fill: -1).apply(grid(height: 2, width: 2), generator: &generator)
        XCTAssertEqual([padded.height, padded.width], [4, 4])
        XCTAssertEqual(padded.pixels.filter { $0 >= 0 }.count, 4)
        XCTAssertThrowsError(try RandomCrop(size: 3).apply(grid(height: 2, width: 5), generator: &generator)) {
            XCTAssertEqual($0 as? ImageTransformError,
                           .imageTooSmall(transform: "RandomCrop", image: [2, 5], required: [3, 3]))
        }
        let needed = try RandomCrop(size: 3, padIfNeeded: true).apply(grid(height: 2, width: 5), generator: &generator)
        XCTAssertEqual([needed.height, needed.width], [3, 3])
    }

    func testRandomResizedCropRegionsRespectScaleAndRatio() {
        let crop = RandomResizedCrop(size: 8, scale: 0.25...0.5, ratio: 0.5...2)
        var generator = RandomGenerator(seed: 11)
        for _ in 0..<200 {
            let r = crop.region(imageHeight: 60, imageWidth: 80, generator: &generator)
            XCTAssertGreaterThanOrEqual(r.top, 0)
            XCTAssertGreaterThanOrEqual(r.left, 0)
            XCTAssertLessThanOrEqual(r.top + r.height, 60)
            XCTAssertLessThanOrEqual(r.left + r.width, 80)
            let area = Float(r.height * r.width) / 4800
            XCTAssertTrue((0.23...0.52).contains(area), "area fraction \(area)")  // rounding of w, h
            let ratio = Float(r.width) / Float(r.height)
            XCTAssertTrue((0.45...2.2).contains(ratio), "ratio \(ratio)")
        }
    }

    func testRandomResizedCropFallsBackToACentreCrop() throws {
        // No region can have 2–3 times the image's area: the centre crop at the nearest ratio.
        let crop = RandomResizedCrop(height: 2, width: 2, scale: 2...3, ratio: 1...1)
        var generator = RandomGenerator(seed: 5)
        let r = crop.region(imageHeight: 4, imageWidth: 10, generator: &generator)
        XCTAssertTrue(r == (0, 3, 4, 4), "\(r)")
        let out = try crop.apply(grid(height: 4, width: 10), generator: &generator)
        XCTAssertEqual([out.height, out.width], [2, 2])
    }
}
