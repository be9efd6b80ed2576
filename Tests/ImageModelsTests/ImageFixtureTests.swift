import Foundation
import XCTest
@testable import ImageModels

/// Helpers shared by the image tests (fixtures made by scripts/make_image_fixtures.py, temporary
/// folders), and a check that the fixtures are all there.
struct ExpectedImage: Decodable {
    var width: Int
    var height: Int
    var channels: Int
    var bits: Int
    /// Interleaved samples, integers of `bits` bits.
    var pixels: [Int]
}

struct ResizeFixture: Decodable {
    struct Case: Decodable {
        var width: Int
        var height: Int
        var rgb8: [Int]
        var float: [[Double]]
    }
    var width: Int
    var height: Int
    var pixels: [Int]
    var cases: [Case]
}

enum ImageFixtures {
    static var directory: String {
        Bundle.module.resourcePath! + "/Fixtures/images"
    }

    static func path(_ name: String) -> String { directory + "/" + name }

    static func expected() throws -> [String: ExpectedImage] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path("expected.json")))
        return try JSONDecoder().decode([String: ExpectedImage].self, from: data)
    }

    static func resize() throws -> ResizeFixture {
        let data = try Data(contentsOf: URL(fileURLWithPath: path("resize.json")))
        return try JSONDecoder().decode(ResizeFixture.self, from: data)
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path(name))))
    }
}

extension XCTestCase {
    /// A fresh empty folder, removed when the test ends.
    func makeTemporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "lorakit-images-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func writeBytes(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
}

final class ImageFixtureTests: XCTestCase {
    func testFixturesArePresentAndSmall() throws {
        let expected = try ImageFixtures.expected()
        XCTAssertEqual(expected.count, 17)
        var total = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: ImageFixtures.directory) {
            total += try ImageFixtures.bytes(name).count
        }
        XCTAssertLessThan(total, 50_000)
    }
}
