import Foundation
import XCTest

/// `lorakit bench bert` end to end on a one-layer encoder: each mode in its own process, one JSON
/// array with the documented keys.
final class BenchBertTests: XCTestCase {
    func testBenchBertPrintsOneResultPerMode() throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("lorakit")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw XCTSkip("lorakit not built next to the tests at \(binary.path)")
        }
        let process = Process()
        process.executableURL = binary
        process.arguments = ["bench", "bert", "--json", "--modes", "lora-qv-r8,full", "--layers", "1", "--vocabulary", "100", "--batch", "2",
                             "--sequence", "8", "--steps", "1", "--warmup", "0"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        let results = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [[String: Any]],
                                    String(decoding: data, as: UTF8.self))
        XCTAssertEqual(results.map { $0["mode"] as? String }, ["lora-qv-r8", "full"])
        for result in results {
            XCTAssertTrue(Set(result.keys).isSuperset(of: ["mode", "step_ms", "items_per_s", "peak_rss_mib",
                                                           "trainable_params"]), "\(result.keys)")
            XCTAssertGreaterThan(result["step_ms"] as? Double ?? 0, 0)
            XCTAssertGreaterThan(result["peak_rss_mib"] as? Double ?? 0, 0)
        }
        // One layer of BERT-base (vocabulary 100): LoRA r=8 on query and value (2 · 8 · (768 + 768) each) plus the
        // 768 → 2 classifier; full training counts every parameter.
        XCTAssertEqual(results[0]["trainable_params"] as? Int, 2 * 8 * 1536 + 768 * 2 + 2)
        XCTAssertEqual(results[1]["trainable_params"] as? Int,
                       100 * 768 + 512 * 768 + 2 * 768 + 2 * 768                    // embeddings, LayerNorm
                       + 4 * (768 * 768 + 768) + 2 * 768                                // attention, LayerNorm
                       + 2 * 768 * 3072 + 3072 + 768 + 2 * 768                          // feed-forward, LayerNorm
                       + 768 * 768 + 768 + 768 * 2 + 2)                                 // pooler, classifier
    }
}
