import XCTest
final class RecipesPlaceholderTests: XCTestCase { func testModuleBuilds() {} }
