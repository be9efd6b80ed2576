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

    /// Spoken commands end to end: `lorakit data commands` writes class folders and manifests;
    /// the base recipe trains an audio Transformer from scratch and writes its config.json; the
    /// LoRA recipe adapts it from the JSON Lines manifest (PEFT adapter on the attention and
    /// feed-forward layers, the head saved in full), evaluates, and predicts a real recording.
    func testCommandsDataBaseLoRAEvalPredict() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/espeak-ng") else {
            XCTFail("espeak-ng is missing: scripts/setup installs it")
            return
        }
        let dir = temporaryDirectory()
        let data = try lorakit(["data", "commands", "--out", dir + "/base", "--count", "2", "--eval-count", "1", "--words", "yes,no,stop"])
        XCTAssertEqual(data.status, 0, data.stderr)
        XCTAssertTrue(data.stdout.contains("6 train clips"), data.stdout)
        for word in ["yes", "no", "stop"] {
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: "\(dir)/base/train/\(word)").sorted(), ["00000.wav", "00001.wav"])
        }
        let lines = try String(contentsOfFile: dir + "/base/test.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 3)
        let record = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        XCTAssertEqual(record["path"] as? String, "test/yes/00000.wav")
        let (start, end) = (try XCTUnwrap(record["start"] as? Double), try XCTUnwrap(record["end"] as? Double))
        XCTAssertTrue(0 < start && start < end && end < 1, "the word lies inside the second: \(start)–\(end)")
        let shifted = try lorakit(["data", "commands", "--out", dir + "/shifted", "--count", "2", "--eval-count", "1", "--words", "yes,no,stop",
                                   "--voices", "shifted", "--condition", "telephone_babble"])
        XCTAssertEqual(shifted.status, 0, shifted.stderr)
        XCTAssertTrue(shifted.stdout.contains("shifted voices, telephone-band babble"), shifted.stdout)

        let small = ["model.options.width=16", "model.options.layers=1", "model.options.heads=2", "model.options.ffn=32",
                     "data.batch_size=3", "train.scheduler.warmup_steps=0"]
        let base = try lorakit(["train", "recipes/audio/commands_base.yaml", "data.train=\(dir)/base/train", "data.validation=\(dir)/base/validation",
                                "data.test=\(dir)/base/test", "train.epochs=1", "output_dir=\(dir)/base_run"] + small)
        XCTAssertEqual(base.status, 0, base.stderr)
        let config = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/base_run/config.json"))) as? [String: Int])
        XCTAssertEqual(config, ["num_mel_bins": 80, "d_model": 16, "encoder_layers": 1, "encoder_attention_heads": 2, "encoder_ffn_dim": 32])

        // The LoRA recipe reads the base's shape from its config.json; a contradicting size is an error naming the key.
        let overrides = ["model.weights=\(dir)/base_run/model.safetensors", "data.train=\(dir)/shifted/train.jsonl",
                         "data.validation=\(dir)/shifted/validation.jsonl", "data.test=\(dir)/shifted/test.jsonl", "data.batch_size=3",
                         "train.max_steps=2", "train.scheduler.warmup_steps=0", "eval.every_steps=2", "hooks.checkpoint.every_steps=2",
                         "output_dir=\(dir)/lora"]
        let contradiction = try lorakit(["train", "recipes/audio/commands_lora.yaml", "model.options.width=32"] + overrides)
        XCTAssertNotEqual(contradiction.status, 0)
        XCTAssertTrue(contradiction.stderr.contains("model.options.width") && contradiction.stderr.contains("contradicts"), contradiction.stderr)
        let lora = try lorakit(["train", "recipes/audio/commands_lora.yaml"] + overrides)
        XCTAssertEqual(lora.status, 0, lora.stderr)
        let adapter = try String(contentsOfFile: dir + "/lora/adapter/adapter_config.json", encoding: .utf8)
        for target in ["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2", "classifier"] { XCTAssertTrue(adapter.contains(target), adapter) }
        let eval = try lorakit(["eval", "recipes/audio/commands_lora.yaml"] + overrides + ["--split", "test", "--json"])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        let metrics = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Any], eval.stdout)
        for key in ["accuracy", "macro_f1", "loss"] { XCTAssertNotNil(metrics[key] as? Double, "\(key) in \(metrics)") }
        let speech = "/usr/share/pocketsphinx/test/data/cards/001.wav"
        let predict = try lorakit(["predict", "recipes/audio/commands_lora.yaml"] + overrides + ["--input", speech, "--json"])
        XCTAssertEqual(predict.status, 0, predict.stderr)
        let p = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(predict.stdout.split(separator: "\n")[0].utf8)) as? [String: Any])
        XCTAssertTrue(["no", "stop", "yes"].contains(p["label"] as? String ?? ""), "\(p)")
        XCTAssertEqual((p["probabilities"] as? [Double])?.count, 3)
        // An unreadable input is an error naming it.
        let missing = try lorakit(["predict", "recipes/audio/commands_lora.yaml"] + overrides + ["--input", dir + "/nothing.wav"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("\(dir)/nothing.wav"), missing.stderr)
    }

    /// `lorakit data av-speech`: clips of frames, audio and metadata, byte for byte the same from
    /// the same options (each run a fresh process).
    func testAVSpeechDataIsSeeded() throws {
        let dir = temporaryDirectory()
        for name in ["a", "b"] {
            let run = try lorakit(["data", "av-speech", "--out", "\(dir)/\(name)", "--count", "1", "--eval-count", "1", "--words", "map,you",
                                   "--speakers", "new", "--seconds", "1"])
            XCTAssertEqual(run.status, 0, run.stderr)
            XCTAssertTrue(run.stdout.contains("2 train clips") && run.stdout.contains("new speakers"), run.stdout)
        }
        for file in ["train/clip_00001/meta.json", "train/clip_00001/audio.wav", "test/clip_00000/frames/0010.png", "train.jsonl"] {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/a/\(file)")), try Data(contentsOf: URL(fileURLWithPath: "\(dir)/b/\(file)")), file)
        }
    }
}
