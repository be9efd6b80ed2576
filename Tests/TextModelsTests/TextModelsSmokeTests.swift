import XCTest
@testable import TextModels

final class TextModelsSmokeTests: XCTestCase {
    func testFixturesBundled() throws {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)
        XCTAssertNotNil(url)
    }
}
