import Foundation
import LoRAKit
import XCTest

/// The user's path: the plugin's tool trains the shipped recipe that names the plugin's task, and
/// eval and predict use the task's metrics and output.
final class MultiLabelRecipeTests: XCTestCase {
    var tool: URL { URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("lorakit-ml") }
    /// The recipe: beside this package in LoRAKit's checkout, or where LORAKIT_RECIPES points (a
    /// copy of the package built elsewhere).
    var recipe: String {
        if let dir = ProcessInfo.processInfo.environment["LORAKIT_RECIPES"] { return dir + "/examples/tiny_convnet_multilabel_lora.yaml" }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("recipes/examples/tiny_convnet_multilabel_lora.yaml").path
    }

    func lorakitML(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = tool
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    func testRecipeTrainsEvaluatesAndPredictsWithThePluginTool() throws {
        let out = NSTemporaryDirectory() + "lorakit-ml-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let validate = try lorakitML(["validate", recipe])
        XCTAssertEqual(validate.status, 0, validate.stderr)
        let train = try lorakitML(["train", recipe, "output_dir=\(out)"])
        XCTAssertEqual(train.status, 0, train.stderr)
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))) as? [String: Any])
        let metrics = try XCTUnwrap(summary["metrics"] as? [String: Double])
        for label in ["top", "bottom", "left", "right", "middle_row", "middle_column"] {
            XCTAssertNotNil(metrics["f1_\(label)"], "per-label F1 of \(label): \(metrics)")
        }
        // Six independent bars are easy for LoRA on the two convolutions: far above chance
        // (predicting every label would give a micro F1 of about 0.57 at p = 0.4).
        XCTAssertGreaterThan(metrics["micro_f1"]!, 0.9, "\(metrics)")
        XCTAssertEqual(summary["task"] as? String, "multilabel_classification")

        let eval = try lorakitML(["eval", recipe, "output_dir=\(out)", "--json"])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        let evaluated = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Double])
        XCTAssertEqual(evaluated["micro_f1"]!, metrics["micro_f1"]!, accuracy: 1e-12)

        let predict = try lorakitML(["predict", recipe, "output_dir=\(out)", "--input", "pattern:0", "--json"])
        XCTAssertEqual(predict.status, 0, predict.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(predict.stdout.utf8)) as? [String: Any])
        XCTAssertNotNil(object["labels"] as? [String])
        XCTAssertEqual((object["probabilities"] as? [String: Double])?.count, 6)

        // The task's own checks: label smoothing is a single-label setting.
        let bad = try lorakitML(["train", recipe, "train.label_smoothing=0.1", "output_dir=\(out)/bad"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("train.label_smoothing: applies to single-label classification only"), bad.stderr)
    }
}
