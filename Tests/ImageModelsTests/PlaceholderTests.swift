import XCTest
final class ImageModelsPlaceholderTests: XCTestCase { func testModuleBuilds() {} }
