import Foundation
import Tensor
import XCTest
@testable import ImageModels

/// Decoding every PNG variant exactly and JPEGs against Pillow's decode.
final class ImageDecodingTests: XCTestCase {
    func testEveryPNGVariantDecodesToTheFileSamplesExactly() throws {
        let expected = try ImageFixtures.expected()
        let pngs = expected.keys.filter { $0.hasSuffix(".png") }.sorted()
        XCTAssertEqual(pngs.count, 15)
        for name in pngs {
            let want = expected[name]!
            let image = try Image(contentsOfFile: ImageFixtures.path(name))
            XCTAssertEqual([image.height, image.width, image.channels], [want.height, want.width, want.channels], name)
            let scale = Float(want.bits == 16 ? 65535 : 255)
            let got = image.interleaved.map { Int(($0 * scale).rounded()) }
            for (i, (g, w)) in zip(got, want.pixels).enumerated() {
                // 16-bit colour under partial alpha goes through libpng's premultiplication and
                // back (see PNGCodec): one unit of 65535 at most; everything else is exact.
                let pixel = i / want.channels, channel = i % want.channels
                let alpha = want.channels % 2 == 0 ? want.pixels[pixel * want.channels + want.channels - 1] : 65535
                let tolerance = want.bits == 16 && channel < want.channels - 1 && alpha < 65535 ? 1 : 0
                XCTAssertLessThanOrEqual(abs(g - w), tolerance, "\(name) sample \(i): \(g) vs \(w)")
            }
        }
    }

    func testHeaderReportsTheFileLayout() throws {
        let expected = try ImageFixtures.expected()
        for (name, want) in expected {
            let header = try ImageHeader(contentsOfFile: ImageFixtures.path(name))
            XCTAssertEqual(header.format, name.hasSuffix(".png") ? .png : .jpeg, name)
            XCTAssertEqual([header.width, header.height, header.channels, header.bitDepth],
                           [want.width, want.height, want.channels, want.bits], name)
            XCTAssertEqual(try ImageHeader(contentsOfFile: ImageFixtures.path(name), verification: .full), header, name)
        }
    }

    func testJPEGMatchesPillowsDecodeWithinTwoUnits() throws {
        let expected = try ImageFixtures.expected()
        for name in ["rgb.jpg", "gray.jpg"] {
            let want = expected[name]!
            let image = try Image(contentsOfFile: ImageFixtures.path(name))
            XCTAssertEqual([image.height, image.width, image.channels], [want.height, want.width, want.channels], name)
            let got = image.interleaved.map { Int(($0 * 255).rounded()) }
            let differences = zip(got, want.pixels).map { abs($0 - $1) }
            XCTAssertLessThanOrEqual(differences.max()!, 2, name)
            XCTAssertLessThan(Double(differences.reduce(0, +)) / Double(differences.count), 0.5, name)
        }
    }

    func testRGBConversionRepeatsGrayAndDropsAlpha() throws {
        let expected = try ImageFixtures.expected()
        let gray = try Image(contentsOfFile: ImageFixtures.path("gray_alpha8.png"), mode: .rgb)
        let ga = expected["gray_alpha8.png"]!
        XCTAssertEqual(gray.channels, 3)
        for p in 0..<(ga.width * ga.height) {
            for c in 0..<3 { XCTAssertEqual(gray.pixels[c * gray.planeSize + p], Float(ga.pixels[2 * p]) / 255) }
        }
        let rgba = try Image(contentsOfFile: ImageFixtures.path("rgba8.png"), mode: .rgb)
        let want = expected["rgba8.png"]!
        for p in 0..<(want.width * want.height) {
            for c in 0..<3 { XCTAssertEqual(rgba.pixels[c * rgba.planeSize + p], Float(want.pixels[4 * p + c]) / 255) }
        }
    }

    func testGrayConversionUsesPillowsLuma() throws {
        let rgb = try Image(contentsOfFile: ImageFixtures.path("rgb8.png"))
        let gray = rgb.converted(to: .gray)
        XCTAssertEqual(gray.channels, 1)
        let n = rgb.planeSize
        for p in 0..<n {
            let luma = 0.299 * rgb.pixels[p] + 0.587 * rgb.pixels[n + p] + 0.114 * rgb.pixels[2 * n + p]
            XCTAssertEqual(gray.pixels[p], luma, accuracy: 1e-6)
        }
    }

    func testTensorIsChannelsHeightWidth() throws {
        let want = try ImageFixtures.expected()["rgb8.png"]!
        let tensor = try Image(contentsOfFile: ImageFixtures.path("rgb8.png")).tensor()
        XCTAssertEqual(tensor.shape, [3, want.height, want.width])
        let values = tensor.scalars
        for y in 0..<want.height {
            for x in 0..<want.width {
                for c in 0..<3 {
                    XCTAssertEqual(values[(c * want.height + y) * want.width + x],
                                   Float(want.pixels[(y * want.width + x) * 3 + c]) / 255)
                }
            }
        }
        XCTAssertEqual(Image(tensor: tensor).tensor().scalars, values)
    }

    func testFormatComesFromMagicBytesNotTheExtension() throws {
        let dir = try makeTemporaryDirectory()
        try writeBytes(try ImageFixtures.bytes("rgb8.png"), to: dir + "/photo.jpg")
        try writeBytes(try ImageFixtures.bytes("rgb.jpg"), to: dir + "/scan.png")
        XCTAssertEqual(try Image(contentsOfFile: dir + "/photo.jpg"), try Image(contentsOfFile: ImageFixtures.path("rgb8.png")))
        XCTAssertEqual(try Image(contentsOfFile: dir + "/scan.png"), try Image(contentsOfFile: ImageFixtures.path("rgb.jpg")))
        XCTAssertEqual(try ImageHeader(contentsOfFile: dir + "/scan.png").format, .jpeg)
    }

    func testLargePNGHeaderIsReadFromItsFirstBytes() throws {
        var generator = RandomGenerator(seed: 1)
        let noise = Image(height: 200, width: 150, channels: 3, pixels: (0..<90_000).map { _ in generator.nextUniform() })
        let bytes = try noise.pngData()
        XCTAssertGreaterThan(bytes.count, ImageHeader.prefixLength + 20_000)
        let header = try PNGCodec.header(Array(bytes.prefix(ImageHeader.prefixLength)), path: "noise")
        XCTAssertEqual(header, ImageHeader(format: .png, width: 150, height: 200, channels: 3, bitDepth: 8))
        let dir = try makeTemporaryDirectory()
        try writeBytes(bytes, to: dir + "/noise.png")
        XCTAssertEqual(try ImageHeader(contentsOfFile: dir + "/noise.png"), header)
        try writeBytes(Array(bytes.prefix(bytes.count - 100)), to: dir + "/cut.png")
        XCTAssertThrowsError(try ImageHeader(contentsOfFile: dir + "/cut.png"))
    }
}
