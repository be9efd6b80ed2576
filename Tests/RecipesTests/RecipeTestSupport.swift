import Foundation
import Recipes
import XCTest

/// A fresh directory under the system's temporary directory, removed on `remove()`.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = (NSTemporaryDirectory() as NSString).appendingPathComponent("RecipesTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Writes `contents` to `name` (creating subdirectories) and returns the absolute path.
    @discardableResult
    func write(_ name: String, _ contents: String = "") throws -> String {
        let file = (path as NSString).appendingPathComponent(name)
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try contents.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    @discardableResult
    func makeDirectory(_ name: String) throws -> String {
        let directory = (path as NSString).appendingPathComponent(name)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    func absolute(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Runs `body`, expecting a `RecipeError`; returns it (fails the test and returns nil otherwise).
func recipeError(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> RecipeError? {
    do {
        try body()
        XCTFail("expected a RecipeError, got success", file: file, line: line)
    } catch let error as RecipeError {
        return error
    } catch {
        XCTFail("expected a RecipeError, got \(error)", file: file, line: line)
    }
    return nil
}

/// Asserts the error's key, location and suggestion.
func assertLocated(_ error: RecipeError?, key: String, source: SourceLocation.Source, line: Int?, column: Int?,
                   suggestion: String? = nil, file: StaticString = #filePath, sourceLine: UInt = #line) {
    guard let error else { return XCTFail("no error", file: file, line: sourceLine) }
    XCTAssertEqual(error.key, key, "\(error)", file: file, line: sourceLine)
    XCTAssertEqual(error.location?.source, source, "\(error)", file: file, line: sourceLine)
    XCTAssertEqual(error.location?.line, line, "\(error)", file: file, line: sourceLine)
    XCTAssertEqual(error.location?.column, column, "\(error)", file: file, line: sourceLine)
    XCTAssertEqual(error.suggestion, suggestion, "\(error)", file: file, line: sourceLine)
}

/// The smallest recipe that decodes: the required keys only.
let minimalRecipe = """
    task: image_classification
    model:
      architecture: tiny_convnet
    data:
      format: synthetic_patterns
    train:
      epochs: 1
    output_dir: runs/minimal

    """
