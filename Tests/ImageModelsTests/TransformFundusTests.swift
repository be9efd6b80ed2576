import Tensor
import XCTest
@testable import ImageModels

/// Ben Graham's fundus preprocessing on a synthetic fundus: a disc with a left-to-right
/// illumination gradient and dark "vessels", on a black surround with burnt-in "text".
final class TransformFundusTests: XCTestCase {
    static let (height, width) = (90, 120)
    static let (cx, cy, radius) = (70, 45, 40)

    private static func inDisc(_ y: Int, _ x: Int) -> Bool {
        (x - cx) * (x - cx) + (y - cy) * (y - cy) <= radius * radius
    }

    private static func isVessel(_ y: Int, _ x: Int) -> Bool { (x + y) % 7 == 0 }

    /// Colour (0.8, 0.45, 0.25) × illumination 0.35 (left edge) … 0.95 (right edge), vessels 0.85× (faint
    /// enough that the 4× amplified result is not clipped, which would bias the means measured).
    private static func fundus(text: Bool = true) -> Image {
        var image = Image(height: height, width: width, channels: 3, repeating: 0.01)
        let colour: [Float] = [0.8, 0.45, 0.25]
        for y in 0..<height {
            for x in 0..<width where inDisc(y, x) {
                let light = 0.35 + 0.6 * Float(x - (cx - radius)) / Float(2 * radius)
                for c in 0..<3 { image[c, y, x] = colour[c] * light * (isVessel(y, x) ? 0.85 : 1) }
            }
        }
        if text {  // 3 × 8 bright block in the top-left corner, like a burnt-in label
            for y in 0..<3 { for x in 0..<8 { for c in 0..<3 { image[c, y, x] = 1 } } }
        }
        return image
    }

    func testCropFindsTheDiscAndIgnoresTheCornerText() throws {
        let crop = FundusCrop()
        let box = try XCTUnwrap(crop.fieldOfView(of: Self.fundus()))
        // The disc spans rows 5…85 and columns 30…110; the default coverage may trim its
        // one-pixel tangent rows and columns, never more.
        XCTAssertEqual(Double(box.top), 5, accuracy: 1)
        XCTAssertEqual(Double(box.left), 30, accuracy: 1)
        XCTAssertEqual(Double(box.top + box.height - 1), 85, accuracy: 1)
        XCTAssertEqual(Double(box.left + box.width - 1), 110, accuracy: 1)
        // Without a minimum coverage the box is the disc's exactly — and the text widens it.
        let exact = try XCTUnwrap(FundusCrop(minimumCoverage: 0).fieldOfView(of: Self.fundus(text: false)))
        XCTAssertTrue(exact == (5, 30, 81, 81), "\(exact)")
        let widened = try XCTUnwrap(FundusCrop(minimumCoverage: 0).fieldOfView(of: Self.fundus()))
        XCTAssertTrue(widened == (0, 0, 86, 111), "\(widened)")
    }

    func testCropMasksOutsideTheCircle() throws {
        let out = try FundusCrop(minimumCoverage: 0).apply(Self.fundus(text: false))
        XCTAssertEqual([out.height, out.width], [81, 81])
        // The crop's corners lie outside the disc: masked to exactly 0 (they were 0.01).
        for c in 0..<3 {
            XCTAssertEqual(out[c, 0, 0], 0)
            XCTAssertEqual(out[c, 80, 80], 0)
            XCTAssertEqual(out[c, 40, 40], Self.fundus()[c, 45, 70])   // the centre is kept
        }
        let dark = Image(height: 5, width: 5, channels: 3, repeating: 0.01)
        XCTAssertEqual(try FundusCrop().apply(dark), dark)   // no disc: unchanged
    }

    func testGrahamNormalizationRemovesTheIlluminationGradient() throws {
        let cropped = try FundusCrop(minimumCoverage: 0).apply(Self.fundus(text: false))
        XCTAssertEqual([cropped.height, cropped.width], [81, 81])
        let out = try GrahamNormalization().apply(cropped)
        // Mean of the red channel over the left and right thirds of the disc's interior
        // (within 0.8 r, clear of the rim), vessels included: the local mean is what the
        // preprocessing flattens.
        func thirds(_ image: Image, vessels: Bool? = nil) -> (left: Float, right: Float) {
            var sums: [Float] = [0, 0], counts: [Float] = [0, 0]
            for y in 0..<81 {
                for x in 0..<81 {
                    let dx = x - 40, dy = y - 40
                    guard dx * dx + dy * dy <= 32 * 32, abs(dx) > 13 else { continue }
                    if let vessels, Self.isVessel(y + 5, x + 30) != vessels { continue }
                    let side = dx < 0 ? 0 : 1
                    sums[side] += image[0, y, x]
                    counts[side] += 1
                }
            }
            return (sums[0] / counts[0], sums[1] / counts[1])
        }
        let before = thirds(cropped), after = thirds(out)
        XCTAssertGreaterThan(before.right - before.left, 0.2)
        XCTAssertLessThan(abs(after.right - after.left), 0.02)
        XCTAssertEqual(after.left, 0.5, accuracy: 0.03)
        XCTAssertEqual(after.right, 0.5, accuracy: 0.03)
        // Detail survives, amplified: vessels are far darker than the tissue around them.
        let vessels = thirds(out, vessels: true), tissue = thirds(out, vessels: false)
        XCTAssertLessThan(vessels.left, tissue.left - 0.1)
        XCTAssertLessThan(vessels.right, tissue.right - 0.1)
    }

    func testGrahamNormalizationMasksTheRimToMidGray() throws {
        let cropped = try FundusCrop(minimumCoverage: 0).apply(Self.fundus(text: false))
        let out = try GrahamNormalization().apply(cropped)
        let r = 0.9 * 81 / 2.0
        var inside = 0, notMidGray = 0
        for y in 0..<81 {
            for x in 0..<81 {
                let d = (Double(x - 40) * Double(x - 40) + Double(y - 40) * Double(y - 40)).squareRoot()
                if d > r {
                    for c in 0..<3 { XCTAssertEqual(out[c, y, x], 0.5) }
                } else {
                    inside += 1
                    if out[0, y, x] != 0.5 { notMidGray += 1 }
                }
            }
        }
        XCTAssertGreaterThan(notMidGray, inside / 2)
        XCTAssertTrue(out.pixels.allSatisfy { (0...1).contains($0) })
    }

    func testPreprocessingCropsResizesAndNormalizes() throws {
        let out = try FundusPreprocessing(size: 32).apply(Self.fundus())
        XCTAssertEqual([out.channels, out.height, out.width], [3, 32, 32])
        XCTAssertEqual(out[1, 0, 0], 0.5)
        XCTAssertEqual(out[2, 31, 31], 0.5)
    }
}
