import Foundation
import XCTest
@testable import ImageModels

/// Bad files are typed errors that name the file, never crashes — in a full decode and in the
/// cheap header check that datasets run at construction.
final class ImageErrorTests: XCTestCase {
    private func decodeError(_ path: String, file: StaticString = #filePath, line: UInt = #line) -> ImageError? {
        do {
            _ = try Image(contentsOfFile: path)
            XCTFail("\(path) decoded", file: file, line: line)
            return nil
        } catch let error as ImageError {
            XCTAssertEqual(error.path, path, file: file, line: line)
            XCTAssertTrue(error.description.contains(path), file: file, line: line)
            return error
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
            return nil
        }
    }

    private func headerError(_ path: String, verification: ImageVerification = .header) -> ImageError? {
        do {
            _ = try ImageHeader(contentsOfFile: path, verification: verification)
            return nil
        } catch let error as ImageError {
            XCTAssertEqual(error.path, path)
            return error
        } catch {
            XCTFail("unexpected error \(error)")
            return nil
        }
    }

    func testTruncatedPNGIsADecodeFailure() throws {
        let dir = try makeTemporaryDirectory()
        for name in ["rgb8.png", "rgb16.png", "rgb8_interlaced.png"] {
            let bytes = try ImageFixtures.bytes(name)
            for keep in [bytes.count / 2, bytes.count - 12, 40] {  // mid-IDAT, no IEND, after IHDR
                let path = dir + "/cut-\(keep)-\(name)"
                try writeBytes(Array(bytes.prefix(keep)), to: path)
                guard case .decodeFailed = decodeError(path) else { return XCTFail("\(path): not decodeFailed") }
                guard case .decodeFailed = headerError(path) else { return XCTFail("\(path): header check passed") }
            }
        }
    }

    func testTruncatedJPEGIsADecodeFailure() throws {
        let dir = try makeTemporaryDirectory()
        let bytes = try ImageFixtures.bytes("rgb.jpg")
        for keep in [bytes.count / 2, bytes.count - 2, 10] {  // in the scan, without EOI, in the header
            let path = dir + "/cut-\(keep).jpg"
            try writeBytes(Array(bytes.prefix(keep)), to: path)
            guard case .decodeFailed(_, let reason) = decodeError(path) else { return XCTFail("\(keep): not decodeFailed") }
            XCTAssertFalse(reason.isEmpty)
            guard case .decodeFailed = headerError(path) else { return XCTFail("\(keep): header check passed") }
        }
    }

    func testCorruptCompressedDataPassesTheHeaderCheckButNotAFullOne() throws {
        let dir = try makeTemporaryDirectory()
        var bytes = try ImageFixtures.bytes("rgb8_interlaced.png")
        let idat = try XCTUnwrap((0..<(bytes.count - 4)).first { Array(bytes[$0..<($0 + 4)]) == Array("IDAT".utf8) })
        for i in (idat + 10)..<(idat + 40) { bytes[i] ^= 0x5A }
        let path = dir + "/flipped.png"
        try writeBytes(bytes, to: path)
        guard case .decodeFailed = decodeError(path) else { return XCTFail("not decodeFailed") }
        XCTAssertNil(headerError(path, verification: .header))
        guard case .decodeFailed = headerError(path, verification: .full) else { return XCTFail("full check passed") }
    }

    func testGarbageEmptyAndWrongMagic() throws {
        let dir = try makeTemporaryDirectory()
        var state: UInt32 = 12345
        let garbage: [UInt8] = [0x13] + (0..<300).map { _ in
            state = state &* 1_103_515_245 &+ 12345
            return UInt8(truncatingIfNeeded: state >> 16)
        }
        let cases: [(String, [UInt8])] = [
            ("garbage.png", garbage),
            ("empty.png", []),
            ("text.png", Array("hello, not an image\n".utf8)),
            ("animation.png", Array("GIF89a".utf8) + [UInt8](repeating: 0, count: 20)),
            ("bitmap.jpg", Array("BM".utf8) + [UInt8](repeating: 0, count: 20)),
            ("png-magic-only.png", ImageFormat.pngSignature),
            ("jpeg-magic-only.jpg", [0xFF, 0xD8, 0xFF, 0xE0]),
        ]
        for (name, bytes) in cases {
            let path = dir + "/" + name
            try writeBytes(bytes, to: path)
            let error = decodeError(path)
            XCTAssertEqual(headerError(path), error, name)
            switch (name, error) {
            case ("empty.png", .emptyFile?), ("text.png", .unknownFormat?), ("garbage.png", .unknownFormat?),
                 ("animation.png", .unsupportedFormat(_, "GIF")?), ("bitmap.jpg", .unsupportedFormat(_, "BMP")?),
                 ("png-magic-only.png", .decodeFailed?), ("jpeg-magic-only.jpg", .decodeFailed?):
                break
            default:
                XCTFail("\(name): unexpected \(String(describing: error))")
            }
        }
    }

    func testMissingFileAndFolderAreUnreadable() throws {
        let dir = try makeTemporaryDirectory()
        guard case .unreadable(_, let reason) = decodeError(dir + "/nothing.png") else { return XCTFail() }
        XCTAssertTrue(reason.contains("No such file"), reason)
        guard case .unreadable = decodeError(dir) else { return XCTFail() }
    }

    func testDecodingFromMemoryNamesTheBuffer() {
        XCTAssertThrowsError(try Image(decoding: [1, 2, 3], name: "upload #7")) { error in
            XCTAssertEqual((error as? ImageError)?.path, "upload #7")
        }
    }
}
