import Foundation
import GGUF
import LanguageModels
import Runtime
import SafeTensors
import Tasks
import TestSupport
import XCTest

/// `causal_lm` end to end on the real SmolLM2 (quantised base): a recipe validates, trains a few
/// LoRA steps on chat data, writes a PEFT adapter under transformers' module names, evaluates
/// (loss, perplexity, token accuracy, exact match) with the adapter and with the base, and
/// predicts; a recipe asking for full fine-tuning is refused at its key.
final class CausalLMRecipeRunTests: XCTestCase {
    func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "lorakit-lm-\(UUID().uuidString)"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func recipe(in dir: String, model: URL, mode: String = "lora") throws -> String {
        try DateNormalisationData.write(to: URL(fileURLWithPath: dir + "/data"), counts: [("train", 16), ("validation", 4)], seed: 1)
        let text = """
        task: causal_lm
        model: {architecture: llama, weights: \(model.path)}
        \(mode == "lora" ? "lora: {rank: 4, alpha: 8, target_modules: [q_proj, v_proj]}" : "")
        data: {format: lm_jsonl, train: data/train.jsonl, validation: data/validation.jsonl, batch_size: 4,
               options: {max_tokens: 64, chat_prompts: true, max_new_tokens: 12}}
        train: {mode: \(mode), max_steps: 4, optimizer: {lr: 0.002, weight_decay: 0}, seed: 0}
        eval: {metrics: [exact_match, perplexity]}
        output_dir: out
        """
        try text.write(toFile: dir + "/recipe.yaml", atomically: true, encoding: .utf8)
        return dir + "/recipe.yaml"
    }

    func testTrainEvaluatePredictOnSmolLM2() throws {
        let model = try RealModels.smolLM2()
        let dir = temporaryDirectory()
        let run = try RecipeRun(path: try recipe(in: dir, model: model))
        try run.validate(checkingData: true)
        let result = try run.train()
        XCTAssertEqual(result.artifact.path, dir + "/out/adapter")
        // Trainable: r·(in + out) for q (576→576) and v (576→192) in 30 blocks; the total counts the quantised base.
        XCTAssertEqual(result.trainableParameters, 30 * 4 * ((576 + 576) + (576 + 192)))
        XCTAssertEqual(result.totalParameters, 134_515_008)
        let adapter = try SafeTensorsFile(path: dir + "/out/adapter/adapter_model.safetensors")
        XCTAssertEqual(adapter.names.count, 30 * 2 * 2)
        XCTAssertTrue(adapter.names.contains("base_model.model.model.layers.29.self_attn.v_proj.lora_B.weight"))
        XCTAssertEqual(try adapter.tensor(named: "base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight").shape, [4, 576])
        // And llama.cpp's form beside it.
        let gguf = try GGUFFile(path: dir + "/out/adapter/adapter.gguf")
        XCTAssertEqual(try gguf.string("general.type"), "adapter")
        XCTAssertEqual(gguf.tensors.count, 30 * 2 * 2)
        XCTAssertEqual(try gguf.tensorInfo(named: "blk.29.attn_v.weight.lora_b").dimensions, [4, 192])
        let metrics = try run.evaluate()
        for key in ["loss", "perplexity", "token_accuracy", "exact_match"] { XCTAssertNotNil(metrics[key], key) }
        XCTAssertEqual(metrics["perplexity"]!, exp(metrics["loss"]!), accuracy: 1e-3 * metrics["perplexity"]!)
        let base = try run.evaluate(.baseModel)
        XCTAssertNotEqual(base["loss"], metrics["loss"], "the adapter changes the model")
        let predictions = try run.predict(["Write this date as YYYY-MM-DD: March 5, 2021"])
        XCTAssertEqual(predictions.count, 1)
        guard case let .string(completion)? = predictions[0].fields["completion"] else { return XCTFail("no completion") }
        XCTAssertFalse(completion.isEmpty)
    }

    func testFullFineTuningOfAGGUFNeedsItDequantized() throws {
        let dir = temporaryDirectory()
        let run = try RecipeRun(path: try recipe(in: dir, model: URL(fileURLWithPath: dir + "/none.gguf"), mode: "full"))
        XCTAssertThrowsError(try run.validate(checkingData: false)) { error in
            XCTAssertTrue("\(error)".contains("train.mode"), "\(error)")
            XCTAssertTrue("\(error)".contains("set model.options.dequantize: true"), "\(error)")
        }
    }

    /// Full fine-tuning of the decoded weights: every weight trains, the run writes
    /// model.safetensors under transformers' keys, and eval reads it back strictly.
    func testFullFineTuningOfTheDequantizedModel() throws {
        let model = try RealModels.smolLM2()
        let dir = temporaryDirectory()
        let run = try RecipeRun(path: try recipe(in: dir, model: model, mode: "full"),
                                overrides: ["model.options.dequantize=true", "train.max_steps=2", "train.optimizer.lr=0.0001",
                                            "eval.metrics=[perplexity]", "eval.every_steps=2"])
        try run.validate(checkingData: false)
        let result = try run.train()
        XCTAssertEqual(result.artifact.path, dir + "/out/model.safetensors")
        XCTAssertEqual(result.trainableParameters, 134_515_008)
        let file = try SafeTensorsFile(path: result.artifact.path)
        XCTAssertEqual(try file.tensor(named: "model.layers.0.self_attn.q_proj.weight").shape, [576, 576])
        XCTAssertFalse(file.names.contains("lm_head.weight"), "the head stays tied to the embedding")
        let trained = try run.evaluate(), base = try run.evaluate(.baseModel)
        XCTAssertNotEqual(trained["loss"], base["loss"])
        XCTAssertEqual(trained["loss"]!, result.metrics["loss"]!, accuracy: 1e-4 * result.metrics["loss"]!)
    }
}
