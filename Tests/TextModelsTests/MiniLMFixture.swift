import Foundation
import XCTest

/// Locates the real all-MiniLM-L6-v2 files for tests: `$LORAKIT_MINILM`, else
/// `<repo root>/data/models/all-MiniLM-L6-v2` (where `scripts/fetch_minilm` unpacks them).
///
/// When they are absent the test is skipped, except on CI (the `CI` variable is set), where it
/// fails: CI runs `scripts/fetch_minilm` first, so missing files there are a bug.
enum MiniLMFixture {
    struct Missing: Error, CustomStringConvertible {
        var description: String
    }

    /// The model directory; throws `XCTSkip` (or, on CI, fails) when it or `files` are missing.
    static func directory(requiring files: [String] = ["config.json", "vocab.txt", "tokenizer.json"],
                          file: StaticString = #filePath, line: UInt = #line) throws -> URL {
        let environment = ProcessInfo.processInfo.environment
        let directory: URL
        if let path = environment["LORAKIT_MINILM"], !path.isEmpty {
            directory = URL(fileURLWithPath: path, isDirectory: true)
        } else {
            // Tests/TextModelsTests/MiniLMFixture.swift → repository root
            let root = URL(fileURLWithPath: "\(#filePath)").deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent()
            directory = root.appendingPathComponent("data/models/all-MiniLM-L6-v2", isDirectory: true)
        }
        let absent = files.filter {
            !FileManager.default.fileExists(atPath: directory.appendingPathComponent($0).path)
        }
        if absent.isEmpty { return directory }
        let message = "all-MiniLM-L6-v2 not found at \(directory.path) (missing \(absent.joined(separator: ", "))): "
            + "run scripts/fetch_minilm"
        if environment["CI"] != nil {
            XCTFail(message, file: file, line: line)
            throw Missing(description: message)
        }
        throw XCTSkip(message, file: file, line: line)
    }
}
