import Foundation
import XCTest

/// Text classification through the CLI on a tiny random BERT (a config.json, no weights) and a
/// tiny WordPiece vocabulary: train with LoRA on a CSV, label names kept, predict texts and a
/// file of lines, errors for bad text data.
final class TextRecipeTests: CLITestCase {
    /// Writes the tiny model's files and data; returns the recipe's path.
    func writeFixture(in dir: String, validation: String? = nil) throws -> String {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let words = ["good", "great", "fine", "nice", "bad", "awful", "poor", "sad", "the", "movie", "was", "very", "##s"]
        let vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words
        try vocabulary.joined(separator: "\n").write(toFile: dir + "/vocab.txt", atomically: true, encoding: .utf8)
        let config = """
        {"vocab_size": \(vocabulary.count), "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2,
         "intermediate_size": 32, "hidden_act": "gelu", "max_position_embeddings": 32, "type_vocab_size": 2,
         "layer_norm_eps": 1e-12, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0, "pad_token_id": 0}
        """
        try config.write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        var rows = ["text,label"]
        let positive = ["good", "great", "fine", "nice"], negative = ["bad", "awful", "poor", "sad"]
        for i in 0..<48 {
            let words = i % 2 == 0 ? positive : negative
            let a = words[i % 4], b = words[(i / 4) % 4]
            rows.append("\"The movie was very \(a), \(b)\",\(i % 2 == 0 ? "positive" : "negative")")
        }
        try rows.joined(separator: "\n").write(toFile: dir + "/train.csv", atomically: true, encoding: .utf8)
        try (validation ?? rows.prefix(17).joined(separator: "\n"))
            .write(toFile: dir + "/validation.csv", atomically: true, encoding: .utf8)
        let recipe = """
        task: text_classification
        model:
          architecture: bert
          options: {config: \(dir)/config.json, pooling: mean}
        lora:
          rank: 4
          alpha: 8
          target_modules: [query, value, dense]
        data:
          format: text_csv
          train: train.csv
          validation: validation.csv
          batch_size: 8
          options: {tokenizer: \(dir)/vocab.txt, max_length: 16}
        train:
          epochs: 6
          optimizer: {name: adamw, lr: 0.01, weight_decay: 0}
          seed: 4
        eval:
          metrics: [accuracy, macro_f1]
        output_dir: out
        """
        try recipe.write(toFile: dir + "/recipe.yaml", atomically: true, encoding: .utf8)
        return dir + "/recipe.yaml"
    }

    func testTrainEvalPredictTexts() throws {
        let dir = temporaryDirectory()
        let recipe = try writeFixture(in: dir)
        let train = try lorakit(["train", recipe])
        XCTAssertEqual(train.status, 0, train.stderr)
        for file in ["adapter/adapter_config.json", "adapter/adapter_model.safetensors", "labels.json", "summary.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/out/" + file), file)
        }
        // Label names are kept, in sorted order.
        let labels = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/out/labels.json")))
        XCTAssertEqual(labels as? [String], ["negative", "positive"])

        // The two classes differ by their words alone: a trained model separates them.
        let eval = try lorakit(["eval", recipe, "--json"])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        let metrics = try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Double]
        XCTAssertGreaterThanOrEqual(metrics?["accuracy"] ?? 0, 0.9, eval.stdout)

        // One text, then a file of texts (blank lines skipped): one JSON object per text.
        let one = try lorakit(["predict", recipe, "--input", "the movie was great", "--json"])
        XCTAssertEqual(one.status, 0, one.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(one.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(object?["input"] as? String, "the movie was great")
        XCTAssertEqual((object?["logits"] as? [Double])?.count, 2)
        XCTAssertEqual(object?["label"] as? String, "positive")

        try "the movie was awful\n\nvery good\nsad sad movie\n".write(toFile: dir + "/texts.txt", atomically: true, encoding: .utf8)
        let many = try lorakit(["predict", recipe, "--input", dir + "/texts.txt", "--json"])
        XCTAssertEqual(many.status, 0, many.stderr)
        let lines = many.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 3, many.stdout)
        let predicted = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        XCTAssertEqual(predicted.map { $0?["label"] as? String }, ["negative", "positive", "negative"])
    }

    func testBadTextDataNamesFileAndLine() throws {
        let dir = temporaryDirectory()
        let recipe = try writeFixture(in: dir, validation: "text,label\n\"unterminated,positive\n")
        let train = try lorakit(["train", recipe, "train.epochs=1"])
        XCTAssertNotEqual(train.status, 0)
        XCTAssertTrue(train.stderr.contains("validation.csv"), train.stderr)
        XCTAssertTrue(train.stderr.contains(":2"), train.stderr)
    }

    func testUnknownLabelInValidationNamesIt() throws {
        let dir = temporaryDirectory()
        let recipe = try writeFixture(in: dir, validation: "text,label\ngood movie,positive\nbad movie,neutral\n")
        let train = try lorakit(["train", recipe, "train.epochs=1"])
        XCTAssertNotEqual(train.status, 0)
        XCTAssertTrue(train.stderr.contains("neutral"), train.stderr)
        XCTAssertTrue(train.stderr.contains("validation.csv"), train.stderr)
    }
}
