import Audio
import Foundation
import TestSupport
import XCTest

/// Lips from speech end to end through the CLI: `lorakit data av-speech` clips; a small base
/// trained from scratch writes its config.json; LoRA adapts it to new speakers (PEFT adapter on
/// the audio encoder, the landmark head saved in full), evaluates the landmark metrics and
/// predicts a clip: landmarks as JSON and a PNG strip of the predicted mouth over the reference.
final class AVRecipeTests: CLITestCase {
    func testLipsFromSpeechBaseLoRAEvalPredict() throws {
        let dir = temporaryDirectory()
        for (name, speakers) in [("base", "base"), ("new", "new")] {
            let data = try lorakit(["data", "av-speech", "--out", "\(dir)/\(name)", "--count", "1", "--eval-count", "1", "--words", "map,you",
                                    "--speakers", speakers, "--seconds", "1.2"])
            XCTAssertEqual(data.status, 0, data.stderr)
        }
        let small = ["model.options.width=16", "model.options.heads=2", "model.options.ffn=32", "model.options.audio_layers=1",
                     "model.options.video_layers=1", "model.options.fusion_layers=1", "data.batch_size=2", "train.scheduler.warmup_steps=0"]
        let base = try lorakit(["train", "recipes/av/lips_base.yaml", "data.train=\(dir)/base/train.jsonl",
                                "data.validation=\(dir)/base/validation.jsonl", "data.test=\(dir)/base/test.jsonl", "train.epochs=1",
                                "output_dir=\(dir)/base_run"] + small)
        XCTAssertEqual(base.status, 0, base.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(dir)/base_run/config.json"))

        let overrides = ["model.weights=\(dir)/base_run/model.safetensors", "data.train=\(dir)/new/train.jsonl",
                         "data.validation=\(dir)/new/validation.jsonl", "data.test=\(dir)/new/test.jsonl", "data.batch_size=2",
                         "lora.rank=2", "lora.alpha=4", "train.max_steps=2", "train.scheduler.warmup_steps=0", "eval.every_steps=2",
                         "hooks.checkpoint.every_steps=2", "output_dir=\(dir)/lora"]
        let lora = try lorakit(["train", "recipes/av/lips_lora.yaml"] + overrides)
        XCTAssertEqual(lora.status, 0, lora.stderr)
        let adapter = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/lora/adapter/adapter_config.json")))
                                    as? [String: Any])
        // The recipe's globs become the regular expression PEFT matches against full module names.
        let targets = try XCTUnwrap(adapter["target_modules"] as? String)
        XCTAssertTrue(targets.contains(#"audio\.conv1|"#) && targets.contains(#"audio\.layers\.0\.fc2"#) && !targets.contains("video"), targets)
        XCTAssertEqual(adapter["modules_to_save"] as? [String], ["landmark_head"])
        let eval = try lorakit(["eval", "recipes/av/lips_lora.yaml"] + overrides + ["--split", "test", "--json"])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        let metrics = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Any], eval.stdout)
        for key in ["landmark_error", "opening_error", "loss"] { XCTAssertNotNil(metrics[key] as? Double, "\(key) in \(metrics)") }

        let clip = "\(dir)/new/test/clip_00000"
        let predict = try lorakit(["predict", "recipes/av/lips_lora.yaml"] + overrides + ["--input", clip, "--json"])
        XCTAssertEqual(predict.status, 0, predict.stderr)
        let p = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(predict.stdout.split(separator: "\n")[0].utf8)) as? [String: Any])
        let landmarks = try XCTUnwrap(p["landmarks"] as? [[Double]])
        XCTAssertEqual(landmarks.count, 30)
        XCTAssertEqual(landmarks[0].count, 40)
        let strip = try XCTUnwrap(p["strip"] as? String)
        XCTAssertTrue(strip.hasPrefix("\(dir)/lora/predictions/"), strip)
        // 30 frames of 48 × 48, predicted above the reference.
        let png = try Data(contentsOf: URL(fileURLWithPath: strip))
        XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
        let width = png[16..<20].reduce(0) { $0 << 8 | Int($1) }, height = png[20..<24].reduce(0) { $0 << 8 | Int($1) }
        XCTAssertEqual([width, height], [30 * 48, 2 * 48])
        // The speech beside it: the clip's 1.2 s at 16 kHz.
        let audio = try XCTUnwrap(p["audio"] as? String)
        XCTAssertEqual(try AudioFile.read(audio).samples.count, 19_200)
        // A clip folder without its audio is an error naming it.
        try FileManager.default.removeItem(atPath: "\(dir)/new/test/clip_00001/audio.wav")
        let broken = try lorakit(["eval", "recipes/av/lips_lora.yaml"] + overrides + ["--split", "test"])
        XCTAssertNotEqual(broken.status, 0)
        XCTAssertTrue(broken.stderr.contains("clip_00001 has no audio.wav"), broken.stderr)
    }

    /// The sync model: trained contrastively for a few steps, it scores clips (LSE-D, LSE-C, AV
    /// offset) in eval and predict; frozen, it gives lips_from_speech its sync metrics, which a lips
    /// recipe without it refuses by key.
    func testSyncModelTrainEvalPredictAndLipsSyncMetrics() throws {
        let dir = temporaryDirectory()
        let data = try lorakit(["data", "av-speech", "--out", "\(dir)/data", "--count", "2", "--eval-count", "1", "--words", "map,you",
                                "--seconds", "1.2"])
        XCTAssertEqual(data.status, 0, data.stderr)
        let splits = ["data.train=\(dir)/data/train.jsonl", "data.validation=\(dir)/data/validation.jsonl", "data.test=\(dir)/data/test.jsonl",
                      "data.batch_size=2", "train.scheduler.warmup_steps=0"]
        let sync = splits + ["model.options.width=16", "model.options.embedding=8", "train.epochs=1", "output_dir=\(dir)/sync"]
        let train = try lorakit(["train", "recipes/av/sync.yaml"] + sync)
        XCTAssertEqual(train.status, 0, train.stderr)
        let config = try String(contentsOfFile: "\(dir)/sync/config.json", encoding: .utf8)
        XCTAssertTrue(config.contains("\"embedding\" : 8"), config)
        for shift in ["0", "-2"] {
            let eval = try lorakit(["eval", "recipes/av/sync.yaml"] + sync + ["data.options.audio_shift=\(shift)", "--split", "test", "--json"])
            XCTAssertEqual(eval.status, 0, eval.stderr)
            let m = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Any], eval.stdout)
            for key in ["lse_d", "lse_c", "av_offset", "offset_accuracy", "match_accuracy"] { XCTAssertNotNil(m[key] as? Double, "\(key) in \(m)") }
        }
        let predict = try lorakit(["predict", "recipes/av/sync.yaml"] + sync + ["--input", "\(dir)/data/test/clip_00000", "--json"])
        XCTAssertEqual(predict.status, 0, predict.stderr)
        let p = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(predict.stdout.split(separator: "\n")[0].utf8)) as? [String: Any])
        XCTAssertTrue((-15...15).contains(p["av_offset"] as? Int ?? 99), "\(p)")
        XCTAssertGreaterThanOrEqual(p["lse_c"] as? Double ?? -1, 0)

        // Lips from speech scored by the frozen sync model: its own and the truth's.
        let lips = splits + ["model.options.width=16", "model.options.heads=2", "model.options.ffn=32", "model.options.audio_layers=1",
                             "model.options.video_layers=1", "model.options.fusion_layers=1", "train.epochs=1", "output_dir=\(dir)/lips"]
        let base = try lorakit(["train", "recipes/av/lips_base.yaml"] + lips)
        XCTAssertEqual(base.status, 0, base.stderr)
        let scored = try lorakit(["eval", "recipes/av/lips_base.yaml"] + lips + ["model.options.sync_model=\(dir)/sync/model.safetensors",
                                                                                "--split", "test", "--json"])
        XCTAssertEqual(scored.status, 0, scored.stderr)
        let m = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(scored.stdout.utf8)) as? [String: Any], scored.stdout)
        for key in ["lse_d", "lse_c", "av_offset", "lse_d_truth", "lse_c_truth", "av_offset_truth", "offset_agreement", "landmark_error"] {
            XCTAssertNotNil(m[key] as? Double, "\(key) in \(m)")
        }
        let refused = try lorakit(["eval", "recipes/av/lips_base.yaml"] + lips + ["eval.metrics=[landmark_error, lse_d]", "--split", "test"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("eval.metrics[1]") && refused.stderr.contains("model.options.sync_model"), refused.stderr)
        let missing = try lorakit(["eval", "recipes/av/lips_base.yaml"] + lips + ["model.options.sync_model=\(dir)/lips/model.safetensors",
                                                                                 "--split", "test"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("model.options.sync_model"), missing.stderr)
    }

    /// Audio-visual recognition: trains from scratch with modality dropout, evaluates per stream
    /// and in babble, and predicts a clip's word.
    func testAudioVisualRecognitionTrainEvalPredict() throws {
        let dir = temporaryDirectory()
        let data = try lorakit(["data", "av-speech", "--out", "\(dir)/data", "--count", "3", "--eval-count", "3", "--words", "map,you",
                                "--seconds", "1.2"])
        XCTAssertEqual(data.status, 0, data.stderr)
        let overrides = ["data.train=\(dir)/data/train.jsonl", "data.validation=\(dir)/data/validation.jsonl", "data.test=\(dir)/data/test.jsonl",
                         "model.options.width=16", "model.options.heads=2", "model.options.ffn=32", "model.options.audio_layers=1",
                         "model.options.video_layers=1", "model.options.fusion_layers=1", "model.options.classes=2", "data.batch_size=3",
                         "train.epochs=1", "train.scheduler.warmup_steps=0", "output_dir=\(dir)/run"]
        let train = try lorakit(["train", "recipes/av/avsr.yaml"] + overrides)
        XCTAssertEqual(train.status, 0, train.stderr)
        for extra in [["data.options.modality=audio"], ["data.options.modality=video"], ["data.options.babble_snr=0"]] {
            let eval = try lorakit(["eval", "recipes/av/avsr.yaml"] + overrides + extra + ["--split", "test", "--json"])
            XCTAssertEqual(eval.status, 0, eval.stderr)
            let metrics = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Any], eval.stdout)
            let accuracy = try XCTUnwrap(metrics["accuracy"] as? Double)
            XCTAssertTrue((0...1).contains(accuracy))
        }
        let predict = try lorakit(["predict", "recipes/av/avsr.yaml"] + overrides + ["--input", "\(dir)/data/test/clip_00001", "--json"])
        XCTAssertEqual(predict.status, 0, predict.stderr)
        let p = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(predict.stdout.split(separator: "\n")[0].utf8)) as? [String: Any])
        XCTAssertTrue(["map", "you"].contains(p["label"] as? String ?? ""), "\(p)")
        // A head too small for the data's classes is an error naming the key.
        let small = try lorakit(["train", "recipes/av/avsr.yaml"] + overrides + ["model.options.classes=1", "output_dir=\(dir)/bad"])
        XCTAssertNotEqual(small.status, 0)
        XCTAssertTrue(small.stderr.contains("model.options.classes"), small.stderr)
    }
}
