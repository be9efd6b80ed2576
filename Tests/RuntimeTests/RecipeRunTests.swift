import Demos
import Foundation
import LoRA
import Recipes
import Runtime
import Tasks
import XCTest

/// Recipes run from Swift code through `RecipeRun`, without the command line: train, evaluate,
/// predict; which model a run writes at its end; what eval and predict refuse; validation that
/// runs one batch through the model.
final class RecipeRunTests: XCTestCase {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    var recipe: String { root.appendingPathComponent("recipes/examples/tiny_convnet_lora.yaml").path }

    func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "lorakit-run-\(UUID().uuidString)"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func run(_ overrides: [String]) throws -> RecipeRun {
        try RecipeRun(path: recipe, overrides: overrides, builtIns: [DemosPlugin.self])
    }

    func testTrainEvaluateAndPredictFromSwift() throws {
        let out = temporaryDirectory()
        let run = try run(["output_dir=\(out)", "train.epochs=2"])
        try run.validate(checkingData: true)
        let result = try run.train()
        XCTAssertEqual(result.artifact.path, out + "/adapter")
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/adapter/adapter_config.json"))
        XCTAssertEqual(result.summary.steps, 24)
        // Evaluating the written adapter on a fresh model gives the metrics the run reported for it.
        let metrics = try run.evaluate()
        XCTAssertEqual(metrics["accuracy"]!, result.metrics["accuracy"]!, accuracy: 1e-12)
        XCTAssertEqual(metrics["loss"]!, result.metrics["loss"]!, accuracy: 1e-6 * max(1, result.metrics["loss"]!))
        let predictions = try run.predict(["pattern:1", "pattern:2"])
        XCTAssertEqual(predictions.map(\.input), ["pattern:1", "pattern:2"])
        guard case let .array(probabilities)? = predictions[0].fields["probabilities"] else { return XCTFail("\(predictions[0])") }
        XCTAssertEqual(probabilities.count, 4)
    }

    /// With `hooks.checkpoint.final: best` the run writes the model of the checkpoint whose
    /// monitored value was best (here the largest validation loss — the first epoch's — so that the
    /// best is not the last); with `last`, the model as training left it. The step and metrics in
    /// summary.json are the written model's, as metrics.jsonl recorded them.
    func testTheWrittenModelIsTheBestCheckpointsUnlessAskedForTheLast() throws {
        for final in ["best", "last"] {
            let out = temporaryDirectory()
            let run = try run(["output_dir=\(out)", "train.epochs=3", "eval.monitor=loss", "eval.mode=max",
                               "hooks.checkpoint.monitor=loss", "hooks.checkpoint.mode=max", "hooks.early_stopping=null",
                               "hooks.checkpoint.final=\(final)"])
            let result = try run.train()
            let records = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
                .compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                .filter { $0["event"] as? String == "validation" }
            let losses = records.map { ($0["step"] as! Int, ($0["metrics"] as! [String: Any])["loss"] as! Double) }
            XCTAssertEqual(losses.count, 3)
            let best = losses.max { $0.1 < $1.1 }!          // the first of equals, as the run ranks them
            let expected = final == "best" ? best : losses.last!
            if final == "best" { XCTAssertNotEqual(best.0, losses.last!.0, "the scenario needs a best that is not the last") }
            XCTAssertEqual(result.finalStep, expected.0)
            XCTAssertEqual(result.metrics["loss"]!, expected.1, accuracy: 1e-6 * max(1, expected.1))
            let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))) as! [String: Any]
            XCTAssertEqual(summary["final_step"] as? Int, expected.0)
            XCTAssertEqual(summary["final"] as? String, final)
            // The adapter on disk is that model.
            XCTAssertEqual(try run.evaluate()["loss"]!, expected.1, accuracy: 1e-6 * max(1, expected.1))
        }
    }

    func testEvaluatingWithoutATrainedArtifactNamesWhereItWasExpected() throws {
        let out = temporaryDirectory()
        let lora = try run(["output_dir=\(out)"])
        XCTAssertThrowsError(try lora.evaluate()) { error in
            XCTAssertTrue("\(error)".contains("no trained adapter at \(out)/adapter"), "\(error)")
            XCTAssertTrue(error is RunError)
        }
        XCTAssertThrowsError(try lora.predict(["pattern:0"])) { XCTAssertTrue("\($0)".contains("--base"), "\($0)") }
        let full = try run(["output_dir=\(out)", "lora=null", "train.mode=full"])
        XCTAssertThrowsError(try full.evaluate()) { error in
            XCTAssertTrue("\(error)".contains("no trained model at \(out)/model.safetensors"), "\(error)")
        }
        // The base model is an explicit choice.
        let base = try lora.evaluate(.baseModel)
        XCTAssertNotNil(base["accuracy"])
        XCTAssertThrowsError(try lora.evaluate(ModelChoice(adapter: URL(fileURLWithPath: out), base: true)))
    }

    /// `validate(checkingData:)` reads a batch and runs it through the model: a channel mismatch
    /// between data and model is an error located in the recipe, naming both shapes.
    func testValidationRunsOneBatchThroughTheModel() throws {
        let run = try run(["data.options.channels=3"])
        XCTAssertNoThrow(try run.validate(), "keys and names are fine")
        XCTAssertThrowsError(try run.validate(checkingData: true)) { error in
            let text = "\(error)"
            XCTAssertTrue(error is RecipeError, "\(type(of: error))")
            XCTAssertTrue(text.contains("tiny_convnet reads float images [N, 1, 12, 12], but the data gives 3 channels (shape [16, 3, 12, 12])"),
                          text)
            XCTAssertTrue(text.contains("tiny_convnet_lora.yaml:"), "located in the recipe: \(text)")
        }
        // The same mismatch at training time is an error too, not a crash inside a kernel.
        let out = temporaryDirectory()
        XCTAssertThrowsError(try self.run(["data.options.channels=3", "output_dir=\(out)"]).train()) { error in
            XCTAssertTrue("\(error)".contains("but the data gives 3 channels"), "\(error)")
        }
    }

    func testExtraHooksAreRegisteredNames() throws {
        let out = temporaryDirectory()
        let run = try run(["output_dir=\(out)", "train.epochs=1", "hooks.extra=[{name: lr_monitor}]"])
        try run.validate()
        _ = try run.train()
        let typo = try self.run(["hooks.extra=[{name: lr_monitr}]"])
        XCTAssertThrowsError(try typo.validate()) { error in
            XCTAssertTrue("\(error)".contains("hooks.extra[0].name: unknown hook \"lr_monitr\""), "\(error)")
            XCTAssertTrue("\(error)".contains("did you mean \"lr_monitor\""), "\(error)")
        }
        let option = try self.run(["hooks.extra=[{name: timer, every: 3}]"])
        XCTAssertThrowsError(try option.validate()) { XCTAssertTrue("\($0)".contains("hooks.extra[0].every: unknown option of hook timer"), "\($0)") }
    }

    func testAnUnknownTaskIsAValidationErrorWithASuggestion() throws {
        let run = try run(["task=image_clasification"])
        XCTAssertThrowsError(try run.validate()) { error in
            XCTAssertTrue("\(error)".contains("unknown task \"image_clasification\""), "\(error)")
            XCTAssertTrue("\(error)".contains("did you mean \"image_classification\""), "\(error)")
        }
    }
}
