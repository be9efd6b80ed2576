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
}

/// A readable form of a string for failure messages (escapes, and the code points of the rest).
func show(_ s: String) -> String {
    s.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? String($0) : "\\u{\(String($0.value, radix: 16))}" }
        .joined()
}
