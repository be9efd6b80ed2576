import Foundation
import TestSupport
import XCTest

/// The audio modality end to end through the CLI: `lorakit data vad` writes labelled clips
/// (espeak-ng, installed by scripts/setup) whose labels fit their audio; a short LoRA run on Silero VAD's real weights trains, writes a PEFT adapter for its
/// convolutions, evaluates (F1, ROC-AUC) and predicts speech segments of a real recording.
final class AudioRecipeTests: CLITestCase {
    func testVADDataTrainEvalPredict() throws {
        let weights = try RealModels.sileroVAD()
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/espeak-ng") else {
            XCTFail("espeak-ng is missing: scripts/setup installs it")
            return
        }
        let dir = temporaryDirectory()
        let data = try lorakit(["data", "vad", "--out", dir + "/data", "--count", "6", "--eval-count", "3", "--seconds", "2"])
        XCTAssertEqual(data.status, 0, data.stderr)
        XCTAssertTrue(data.stdout.contains("6 train clips"), data.stdout)
        let manifest = try String(contentsOfFile: dir + "/data/train.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(manifest.count, 6)
        let first = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(manifest[0].utf8)) as? [String: Any])
        let labels = try XCTUnwrap(first["labels"] as? [Int])
        XCTAssertEqual(labels.count, 2 * 16_000 / 512)
        XCTAssertTrue(labels.contains(1) && labels.contains(0), "a clip has speech and silence: \(labels)")
        // Seeded: the same options write the same clips.
        let again = try lorakit(["data", "vad", "--out", dir + "/again", "--count", "6", "--eval-count", "3", "--seconds", "2"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/again/train/clip_00003.wav")),
                       try Data(contentsOf: URL(fileURLWithPath: dir + "/data/train/clip_00003.wav")))

        let overrides = ["model.weights=\(weights.path)", "data.train=\(dir)/data/train.jsonl", "data.validation=\(dir)/data/validation.jsonl",
                         "data.test=\(dir)/data/test.jsonl", "data.batch_size=3", "train.max_steps=2", "train.scheduler.warmup_steps=0", "eval.every_steps=2",
                         "hooks.checkpoint.every_steps=2", "output_dir=\(dir)/run"]
        let train = try lorakit(["train", "recipes/audio/silero_vad_lora.yaml"] + overrides)
        XCTAssertEqual(train.status, 0, train.stderr)
        let config = try String(contentsOfFile: dir + "/run/adapter/adapter_config.json", encoding: .utf8)
        XCTAssertTrue(config.contains("conv1") && config.contains("final_conv"), config)
        let eval = try lorakit(["eval", "recipes/audio/silero_vad_lora.yaml"] + overrides + ["--split", "test", "--json"])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        let metrics = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Any], eval.stdout)
        for key in ["f1", "roc_auc", "accuracy", "loss"] { XCTAssertNotNil(metrics[key] as? Double, "\(key) in \(metrics)") }
        let speech = "/usr/share/pocketsphinx/test/data/cards/001.wav"
        let predict = try lorakit(["predict", "recipes/audio/silero_vad_lora.yaml"] + overrides + ["--base", "--input", speech, "--json"])
        XCTAssertEqual(predict.status, 0, predict.stderr)
        let p = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(predict.stdout.split(separator: "\n")[0].utf8)) as? [String: Any])
        XCTAssertEqual((p["probabilities"] as? [Double])?.count, 35)
        XCTAssertFalse((p["segments"] as? [Any] ?? []).isEmpty, "the base model finds speech in a real recording")
    }
}
