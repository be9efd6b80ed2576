import Demos
import Foundation
import LoRA
import Recipes
import Runtime
import SafeTensors
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

    /// `train.init_adapter`: a run's adapter starts from another run's factors (transfer); ranks
    /// or targets that differ are errors at the key, as is a directory that does not exist.
    func testInitAdapterStartsFromAnotherRunsFactors() throws {
        let first = temporaryDirectory()
        _ = try run(["output_dir=\(first)", "train.epochs=1"]).train()
        let source = try SafeTensorsFile(path: first + "/adapter/adapter_model.safetensors")
        let second = temporaryDirectory()
        // A learning rate of 1e-12 leaves the factors where they start.
        let transfer = try run(["output_dir=\(second)", "train.max_steps=1", "train.scheduler.warmup_steps=0", "train.init_adapter=\(first)/adapter",
                                "train.optimizer.lr=1e-12", "hooks.checkpoint.keep_best=0"])
        try transfer.validate(checkingData: false)
        _ = try transfer.train()
        let started = try SafeTensorsFile(path: second + "/adapter/adapter_model.safetensors")
        let factors = source.names.filter { $0.contains("lora_") }
        XCTAssertEqual(factors.count, 4)
        for name in factors {
            let a = try source.tensor(named: name).scalars, b = try started.tensor(named: name).scalars
            XCTAssertLessThanOrEqual(zip(a, b).map { abs($0 - $1) }.max() ?? 1, 1e-6, name)
        }
        // Without it, the same run starts elsewhere (the check above could fail).
        let fresh = temporaryDirectory()
        _ = try run(["output_dir=\(fresh)", "train.max_steps=1", "train.scheduler.warmup_steps=0", "train.optimizer.lr=1e-12", "hooks.checkpoint.keep_best=0"]).train()
        let own = try SafeTensorsFile(path: fresh + "/adapter/adapter_model.safetensors")
        XCTAssertNotEqual(try own.tensor(named: factors[0]).scalars, try source.tensor(named: factors[0]).scalars)

        let mismatch = try run(["output_dir=\(temporaryDirectory())", "lora.rank=2", "train.max_steps=1", "train.scheduler.warmup_steps=0",
                                "train.init_adapter=\(first)/adapter"])
        XCTAssertThrowsError(try mismatch.train()) { error in
            // Whichever factor is checked first: A is [r, 1, 3, 3], B [8, r, 1, 1].
            let text = "\(error)"
            XCTAssertTrue(text.contains("train.init_adapter") && text.contains("(lora.rank, rank_pattern)")
                          && (text.contains("the run's is [2, 1, 3, 3]") || text.contains("the run's is [8, 2, 1, 1]")), text)
        }
        let missing = try run(["output_dir=\(temporaryDirectory())", "train.init_adapter=\(first)/nothing"])
        XCTAssertThrowsError(try missing.validate(checkingData: false)) { error in
            XCTAssertTrue("\(error)".contains("train.init_adapter"), "\(error)")
        }
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

    func validationRecords(_ out: String) throws -> [(step: Int, metrics: [String: Double])] {
        try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
            .compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["event"] as? String == "validation" }
            .map { ($0["step"] as! Int, $0["metrics"] as! [String: Double]) }
    }

    func summary(_ out: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))) as! [String: Any]
    }

    /// A resumed run restores the best checkpoint that is still on disk, even when the checkpoint
    /// it resumed from recorded checkpoints that were pruned after it was written.
    func testAResumedRunRestoresAnExistingBestCheckpoint() throws {
        let out = temporaryDirectory()
        let common = ["output_dir=\(out)", "eval.monitor=loss", "eval.mode=min", "hooks.checkpoint.monitor=loss",
                      "hooks.checkpoint.mode=min", "hooks.early_stopping=null"]
        _ = try run(common + ["train.epochs=2"]).train()
        let resumed = try run(common + ["train.epochs=4", "train.optimizer.lr=0.8"]).train(resume: true, force: true)
        let onDisk = Set(try FileManager.default.contentsOfDirectory(atPath: out + "/checkpoints").filter { $0.hasPrefix("step-") }
                            .compactMap { Int($0.dropFirst(5)) })
        let records = try validationRecords(out)
        let candidates = records.filter { onDisk.contains($0.step) || $0.step == resumed.summary.steps }
        let best = candidates.min { $0.metrics["loss"]! < $1.metrics["loss"]! }!
        XCTAssertEqual(resumed.metrics["loss"]!, best.metrics["loss"]!, accuracy: 1e-6 * max(1, best.metrics["loss"]!))
        XCTAssertTrue(onDisk.contains(resumed.finalStep) || resumed.finalStep == resumed.summary.steps)
    }

    /// A checkpoint whose model was not evaluated at its own step has no monitored value: with
    /// checkpoints every 10 steps and evaluations every 12, none is a candidate, and the model the
    /// run writes is the last (evaluated at the last step). `keep_best: 0` also writes the last.
    func testOnlyCheckpointsEvaluatedAtTheirOwnStepCompete() throws {
        for extra in [["hooks.checkpoint.every_steps=10", "hooks.checkpoint.each_epoch=false"], ["hooks.checkpoint.keep_best=0"]] {
            let out = temporaryDirectory()
            let result = try run(["output_dir=\(out)", "train.epochs=3", "eval.monitor=loss", "eval.mode=max",
                                  "hooks.checkpoint.monitor=loss", "hooks.checkpoint.mode=max", "hooks.early_stopping=null"] + extra).train()
            XCTAssertEqual(result.finalStep, 36, "\(extra)")
            XCTAssertEqual(try summary(out)["final"] as? String, "last", "\(extra)")
            let last = try validationRecords(out).last!
            XCTAssertEqual(last.step, 36)
            XCTAssertEqual(result.metrics["loss"]!, last.metrics["loss"]!, accuracy: 1e-9)
        }
    }

    /// Class names an earlier run left in the output directory decide nothing for a new run.
    func testAStaleLabelsFileIsNotAdopted() throws {
        let out = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try JSONEncoder().encode(["cat", "dog", "fox", "owl"]).write(to: URL(fileURLWithPath: out + "/labels.json"))
        let run = try run(["output_dir=\(out)", "train.epochs=1"])
        try run.validate(training: true)
        _ = try run.train()
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/labels.json"), "the generator names no classes")
        let prediction = try run.predict(["pattern:0"])[0]
        guard case .integer = prediction.fields["label"] else { return XCTFail("\(prediction.fields)") }
    }
}
