import Foundation
import XCTest

/// The goldens of scripts/make_bpe_goldens.py (Fixtures/), and the real SmolLM2 GGUF.
enum TokenizerFixtures {
    struct Missing: Error, CustomStringConvertible { var description: String }

    static func url(_ relative: String) throws -> URL {
        let base = (relative as NSString).deletingPathExtension
        let ext = (relative as NSString).pathExtension
        let folder = (base as NSString).deletingLastPathComponent
        let name = (base as NSString).lastPathComponent
        let subdirectory = folder.isEmpty ? "Fixtures" : "Fixtures/\(folder)"
        guard let url = Bundle.module.url(forResource: name, withExtension: ext, subdirectory: subdirectory) else {
            throw Missing(description: "fixture \(relative) is missing: run scripts/make_bpe_goldens.py")
        }
        return url
    }

    static func json(_ relative: String) throws -> [String: Any] {
        let data = try Data(contentsOf: try url(relative))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw Missing(description: "\(relative) is not a JSON object")
        }
        return object
    }

    /// `(text, ids)` rows of a goldens file's `encode` list, with the named id list.
    static func rows(_ json: [String: Any], ids key: String = "ids") throws -> [(text: String, ids: [Int], row: [String: Any])] {
        guard let rows = json["encode"] as? [[String: Any]] else { throw Missing(description: "no encode list") }
        return try rows.map { row in
            guard let text = row["text"] as? String, let ids = row[key] as? [Int] else {
                throw Missing(description: "malformed row \(row)")
            }
            return (text, ids, row)
        }
    }

    /// The real SmolLM2-135M-Instruct GGUF (scripts/fetch_smollm2): `$LORAKIT_SMOLLM2` (a
    /// directory), else `data/models/smollm2` under the repository. Absent: the test is skipped,
    /// unless `LORAKIT_REQUIRE_MODELS=1`, where it fails.
    static func smolLM2(file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let environment = ProcessInfo.processInfo.environment
        let directory: URL
        if let dir = environment["LORAKIT_SMOLLM2"], !dir.isEmpty {
            directory = URL(fileURLWithPath: dir, isDirectory: true)
        } else {
            directory = URL(fileURLWithPath: "\(#filePath)").deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("data/models/smollm2", isDirectory: true)
        }
        let model = directory.appendingPathComponent("SmolLM2-135M-Instruct.Q4_1.gguf").path
        if FileManager.default.fileExists(atPath: model) { return model }
        let message = "SmolLM2-135M-Instruct.Q4_1.gguf not found in \(directory.path): run scripts/fetch_smollm2"
        if environment["LORAKIT_REQUIRE_MODELS"] == "1" {
            XCTFail(message, file: file, line: line)
            throw Missing(description: message)
        }
        throw XCTSkip(message, file: file, line: line)
    }
}

/// A readable form of a string for failure messages (escapes, and the code points of the rest).
func show(_ s: String) -> String {
    s.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? String($0) : "\\u{\(String($0.value, radix: 16))}" }
        .joined()
}
