import Foundation
import LanguageModels
import LoRA
import NN
import Tensor
import TestSupport
import XCTest

/// `lorakit generate`: a file no registered format reads is a usage error listing the formats; the
/// real SmolLM2 answers a user message with transformers' greedy tokens, as one JSON object; with
/// two adapters loaded, a requests file switching between them and the base gives each request
/// what a process holding only its adapter gives.
final class GenerateCommandTests: CLITestCase {
    func testAFileNoFormatReadsIsAUsageError() throws {
        let out = try lorakit(["generate", "README.md", "--prompt", "Hello"])
        XCTAssertEqual(out.status, 2, out.stderr)
        XCTAssertTrue(out.stderr.contains("README.md: no generative model format reads it"), out.stderr)
        XCTAssertTrue(out.stderr.contains("gguf_llama"), out.stderr)
    }

    func testBadSettingsAreUsageErrors() throws {
        let out = try lorakit(["generate", "README.md", "--prompt", "Hello", "--top-p", "1.5"])
        XCTAssertEqual(out.status, 2, out.stderr)
        XCTAssertTrue(out.stderr.contains("top"), out.stderr)
    }

    func testSmolLM2AnswersGreedilyAsTransformers() throws {
        let model = try RealModels.smolLM2()
        struct Goldens: Decodable {
            struct Prompt: Decodable {
                struct Message: Decodable { let role: String; let content: String }
                struct Greedy: Decodable { let tokens: [Int] }
                let messages: [Message]
                let ids: [Int]
                let greedy: Greedy
            }
            let prompts: [Prompt]
        }
        let goldens = try JSONDecoder().decode(Goldens.self, from: Data(contentsOf: root.appendingPathComponent(
            "Tests/LanguageModelsTests/Fixtures/smollm2_goldens.json")))
        let prompt = try XCTUnwrap(goldens.prompts.first { $0.messages.count == 1 && $0.messages[0].role == "user" })
        let out = try lorakit(["generate", model.path, "--user", prompt.messages[0].content, "--max-tokens", "8", "--json"])
        XCTAssertEqual(out.status, 0, out.stderr)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any], out.stdout)
        XCTAssertEqual(json["prompt_tokens"] as? Int, prompt.ids.count)
        let tokens = try XCTUnwrap(json["tokens"] as? [Int])
        XCTAssertEqual(tokens, Array(prompt.greedy.tokens.prefix(tokens.count)))
        XCTAssertTrue(tokens.count == 8 || tokens.last == 2, "stops at 8 tokens or at <|im_end|>: \(tokens)")
        XCTAssertTrue(out.stderr.lowercased().contains("smollm2") && out.stderr.contains("Q4_1"), out.stderr)
    }

    /// Two PEFT adapters for SmolLM2 (q, v and o at r = 2) with random B factors, in `dir/x` and `dir/y`.
    func writeSmolLM2Adapters(_ model: URL, to dir: String) throws {
        let lora = LoRAModel(wrapping: try LlamaForCausalLM.load(gguf: model))
        var rng = RandomGenerator(seed: 3), noise = RandomGenerator(seed: 4)
        for name in ["x", "y"] {
            try lora.addAdapter(name, config: LoRAConfig(rank: 2, alpha: 2, targetModules: ["q_proj", "v_proj", "o_proj"]),
                                generator: &rng)
            for (_, host) in lora.hosts { if let a = host.adapters[name] { a.b = Tensor.randn(a.b.shape, std: 0.3, generator: &noise) } }
            try PEFTAdapterFile.save(lora, adapter: name, to: dir + "/" + name)
        }
    }

    func testRequestsSwitchAdaptersOnOneBase() throws {
        let model = try RealModels.smolLM2()
        let dir = temporaryDirectory()
        try writeSmolLM2Adapters(model, to: dir)
        let questions = ["What is 2 + 2?", "Name a colour."]
        // Each adapter (and the base) alone, one process each.
        var alone: [String: [String: [Int]]] = [:]
        for name in ["x", "y", "base"] {
            for q in questions {
                var args = ["generate", model.path, "--user", q, "--max-tokens", "6", "--json"]
                if name != "base" { args += ["--adapter", "\(name)=\(dir)/\(name)"] }
                let out = try lorakit(args)
                XCTAssertEqual(out.status, 0, out.stderr)
                let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any])
                alone[name, default: [:]][q] = try XCTUnwrap(json["tokens"] as? [Int])
            }
        }
        XCTAssertNotEqual(alone["x"]![questions[0]], alone["base"]![questions[0]], "the control: adapter x changes the answer")
        XCTAssertNotEqual(alone["x"]![questions[0]], alone["y"]![questions[0]], "the control: x and y answer differently")
        // One process, both adapters, requests interleaved.
        let schedule: [(String?, String)] = [("x", questions[0]), ("y", questions[0]), (nil, questions[1]),
                                             ("y", questions[1]), ("x", questions[1]), ("base", questions[0])]
        let lines = schedule.enumerated().map { i, r in
            "{\"id\": \(i), \"adapter\": \(r.0.map { "\"\($0)\"" } ?? "null"), \"user\": \"\(r.1)\", \"max_tokens\": 6}"
        }
        let requests = dir + "/requests.jsonl"
        try (lines.joined(separator: "\n") + "\n").write(toFile: requests, atomically: true, encoding: .utf8)
        let out = try lorakit(["generate", model.path, "--adapter", "x=\(dir)/x", "--adapter", "y=\(dir)/y", "--requests", requests])
        XCTAssertEqual(out.status, 0, out.stderr)
        let results = out.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        XCTAssertEqual(results.count, schedule.count, out.stdout)
        for (i, (result, request)) in zip(results, schedule).enumerated() {
            XCTAssertEqual(result["id"] as? Int, i)
            let name = request.0 ?? "base"
            XCTAssertEqual(result["tokens"] as? [Int], alone[name]![request.1], "request \(i): \(name)")
            XCTAssertEqual(result["adapter"] as? String, name == "base" ? nil : name)
        }
        XCTAssertEqual(out.stderr.components(separatedBy: "adapter x from").count, 2, out.stderr)
        // A request for an adapter that is not loaded: an error naming the line, before anything runs.
        try "{\"adapter\": \"x\", \"user\": \"hi\"}\n{\"adapter\": \"z\", \"user\": \"hi\"}\n".write(toFile: requests, atomically: true, encoding: .utf8)
        let bad = try lorakit(["generate", model.path, "--adapter", "x=\(dir)/x", "--requests", requests])
        XCTAssertEqual(bad.status, 2, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("requests.jsonl:2: no adapter 'z' (loaded: x)"), bad.stderr)
        XCTAssertEqual(bad.stdout, "")
        let unknown = try lorakit(["generate", model.path, "--adapter", "x=\(dir)/x", "--use", "q", "--user", "hi"])
        XCTAssertEqual(unknown.status, 2, unknown.stderr)
        XCTAssertTrue(unknown.stderr.contains("--use q: no adapter of that name (loaded: x"), unknown.stderr)
    }
}
