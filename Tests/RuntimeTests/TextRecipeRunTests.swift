import Foundation
import NN
import Runtime
import Tasks
import Tensor
import TextModels
import XCTest

/// A text recipe's run output stands on its own: full fine-tuning writes the model's
/// configuration and tokenizer beside its weights, so `predict --weights` needs neither the
/// recipe's pretrained checkpoint nor its directory.
final class TextRecipeRunTests: XCTestCase {
    func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "lorakit-text-\(UUID().uuidString)"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    /// A tiny random BERT checkpoint (config.json, vocab.txt, model.safetensors with encoder keys,
    /// as MiniLM's), texts and a recipe whose paths are relative to it.
    func writeFixture(in dir: String) throws -> String {
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir + "/pretrained", withIntermediateDirectories: true)
        let words = ["good", "great", "fine", "nice", "bad", "awful", "poor", "sad", "the", "movie", "was", "very"]
        let vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words
        try vocabulary.joined(separator: "\n").write(toFile: dir + "/pretrained/vocab.txt", atomically: true, encoding: .utf8)
        let config = BertConfig(vocabularySize: vocabulary.count, hiddenSize: 16, layerCount: 1, headCount: 2, intermediateSize: 32,
                                maxPositionEmbeddings: 32, hiddenDropout: 0, attentionDropout: 0)
        let encoder = JSONEncoder()
        try encoder.encode(config).write(to: URL(fileURLWithPath: dir + "/pretrained/config.json"))
        try BertModel.forLoading(config: config, addPooler: false, seed: 3).saveSafeTensors(path: dir + "/pretrained/model.safetensors")
        var rows = ["text,label"]
        for i in 0..<32 {
            let positive = i % 2 == 0
            rows.append("the movie was \(positive ? ["good", "great", "fine", "nice"][i % 4] : ["bad", "awful", "poor", "sad"][i % 4]),"
                        + (positive ? "positive" : "negative"))
        }
        try rows.joined(separator: "\n").write(toFile: dir + "/train.csv", atomically: true, encoding: .utf8)
        let recipe = """
        task: text_classification
        model: {architecture: bert, weights: pretrained/model.safetensors, options: {pooling: mean}}
        data: {format: text_csv, train: train.csv, validation_fraction: 0.25, batch_size: 8, options: {max_length: 12}}
        train: {mode: full, epochs: 2, optimizer: {lr: 0.01, weight_decay: 0}, seed: 1}
        eval: {metrics: [accuracy]}
        output_dir: out
        """
        try recipe.write(toFile: dir + "/recipe.yaml", atomically: true, encoding: .utf8)
        return dir + "/recipe.yaml"
    }

    func testPredictWithTheRunsWeightsNeedsNoPretrainedCheckpoint() throws {
        let dir = temporaryDirectory()
        let path = try writeFixture(in: dir)
        let run = try RecipeRun(path: path)
        try run.validate(checkingData: true)
        let result = try run.train()
        for file in ["model.safetensors", "config.json", "vocab.txt", "labels.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(dir)/out/\(file)"), file)
        }
        XCTAssertEqual(result.artifact.path, "\(dir)/out/model.safetensors")
        let weights = ModelChoice(weights: result.artifact)
        let texts = ["the movie was great", "the movie was awful"]
        let before = try run.predict(texts, with: weights).map(\.fields)

        // Without the pretrained checkpoint (and its tokenizer), the run's own files are enough.
        try FileManager.default.removeItem(atPath: dir + "/pretrained")
        let again = try RecipeRun(path: path)
        try again.validate(ignoringMissingFilesOf: ["model.weights", "data.train"], weights: .complete(result.artifact))
        let after = try again.predict(texts, with: weights)
        XCTAssertEqual(after.map(\.fields), before)
        XCTAssertEqual(after.map { $0.fields["label"] }, before.map { $0["label"] })
        guard case .string = after[0].fields["label"] else { return XCTFail("labels are the class names: \(after[0])") }
        // The run's own output is also the default model of a full recipe.
        XCTAssertEqual(try again.predict(texts).map(\.fields), before)
    }

    /// A path option is relative to the recipe file that wrote it, and the resolved recipe the run
    /// writes holds the absolute path.
    func testPathOptionsResolveAgainstTheRecipeFile() throws {
        let dir = temporaryDirectory()
        let path = try writeFixture(in: dir)
        let text = try String(contentsOfFile: path, encoding: .utf8)
            .replacingOccurrences(of: "options: {max_length: 12}", with: "options: {max_length: 12, tokenizer: pretrained/vocab.txt}")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let run = try RecipeRun(path: path)
        XCTAssertEqual(run.recipe.data.options["tokenizer"], .string(dir + "/pretrained/vocab.txt"))
        XCTAssertTrue(run.loaded.yaml().contains("tokenizer: \(dir)/pretrained/vocab.txt"), run.loaded.yaml())
        try run.validate()
    }
}
