import Foundation
import Tensor
import XCTest
@testable import ImageModels

/// PNG encoding: exact round trips at 8 and 16 bits, atomic writes, typed errors.
final class ImageEncodingTests: XCTestCase {
    private func ramp(channels: Int, height: Int = 3, width: Int = 7, levels: Int) -> Image {
        let count = channels * height * width
        return Image(height: height, width: width, channels: channels,
                     pixels: (0..<count).map { Float(($0 * 37 + 11) % (levels + 1)) / Float(levels) })
    }

    func testEightBitRoundTripIsExactForEveryChannelCount() throws {
        for channels in 1...4 {
            let image = ramp(channels: channels, levels: 255)
            XCTAssertEqual(try Image(decoding: try image.pngData()), image, "\(channels) channels")
        }
    }

    func testSixteenBitRoundTripKeepsSixteenBits() throws {
        for channels in [1, 3] {
            let image = ramp(channels: channels, levels: 65535)
            let decoded = try Image(decoding: try image.pngData(bitDepth: 16))
            XCTAssertEqual(decoded, image, "\(channels) channels")
            XCTAssertEqual(try PNGCodec.header(try image.pngData(bitDepth: 16), path: "").bitDepth, 16)
        }
    }

    func testLargeNoisyImageRoundTripsExactly() throws {
        // Big enough that the PNG buffer comes from mmap: an optimised build that released the
        // buffer between libpng's begin_read and finish_read read freed memory here.
        var generator = RandomGenerator(seed: 21)
        let count = 3 * 384 * 512
        let image = Image(height: 384, width: 512, channels: 3,
                          pixels: (0..<count).map { _ in Float(generator.next() % 256) / 255 })
        let bytes = try image.pngData()
        XCTAssertGreaterThan(bytes.count, 500_000)
        XCTAssertEqual(try Image(decoding: bytes), image)
    }

    func testSamplesAreClampedAndRounded() throws {
        let image = Image(height: 1, width: 4, channels: 1, pixels: [-0.5, 1.7, 0.5, .nan])
        XCTAssertEqual(try Image(decoding: try image.pngData()).pixels, [0, 1, 128.0 / 255, 0])
    }

    func testUnsupportedEncodingsAreTypedErrors() {
        XCTAssertThrowsError(try ramp(channels: 4, levels: 9).pngData(bitDepth: 16)) {
            guard case .encodeFailed? = $0 as? ImageError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try ramp(channels: 5, levels: 9).pngData())
        XCTAssertThrowsError(try ramp(channels: 3, levels: 9).pngData(bitDepth: 12))
    }

    func testWritePNGReplacesTheFileAtomically() throws {
        let dir = try makeTemporaryDirectory()
        let path = dir + "/out.png"
        let first = ramp(channels: 3, levels: 255)
        try first.writePNG(to: path)
        XCTAssertEqual(try Image(contentsOfFile: path), first)
        let second = first.flippedHorizontally()
        try second.writePNG(to: path)
        XCTAssertEqual(try Image(contentsOfFile: path), second)
        // Only the destination is left: the temporary file was renamed over it.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["out.png"])
    }

    func testWriteIntoAMissingFolderFailsNamingTheFile() throws {
        let dir = try makeTemporaryDirectory()
        let path = dir + "/no/such/folder/out.png"
        XCTAssertThrowsError(try ramp(channels: 1, levels: 9).writePNG(to: path)) { error in
            guard case .writeFailed(let p, _)? = error as? ImageError else { return XCTFail("\(error)") }
            XCTAssertEqual(p, path)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [])
    }
}
