import AsyncHTTPClient
import Foundation
import LanguageModels
import LoRA
import NIOCore
import NIOHTTP1
import NN
import Runtime
@testable import Serving
import Tasks
import Tensor
import TestSupport
import XCTest

/// `lorakit serve` for a decoder: the real SmolLM2 with two PEFT adapters loaded over HTTP; each
/// greedy generation for an adapter (or the base) is the text a generator holding only that
/// adapter gives; the errors of the generation endpoint, and unloading.
final class ServeGenerationTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func testGenerationsWithAdaptersOnOneDecoder() async throws {
        let model = try RealModels.smolLM2()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lorakit-serve-lm-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        // Two adapters (q, v, o at r = 2) with random B factors, so each changes the answer.
        let lora = LoRAModel(wrapping: try LlamaForCausalLM.load(gguf: model))
        var rng = RandomGenerator(seed: 3), noise = RandomGenerator(seed: 4)
        for name in ["x", "y"] {
            try lora.addAdapter(name, config: LoRAConfig(rank: 2, alpha: 2, targetModules: ["q_proj", "v_proj", "o_proj"]), generator: &rng)
            for (_, host) in lora.hosts { if let a = host.adapters[name] { a.b = Tensor.randn(a.b.shape, std: 0.3, generator: &noise) } }
            try PEFTAdapterFile.save(lora, adapter: name, to: directory.appendingPathComponent(name).path)
        }
        let recipe = try RecipeRun(path: Self.root.appendingPathComponent("recipes/llm/smollm2_dates_lora.yaml").path,
                                   overrides: ["model.weights=\(model.path)"])
        let question = "What is 2 + 2?"
        // What a generator holding only one adapter (or none) answers.
        var expected: [String: String] = [:]
        for name in ["x", "y", "base"] {
            let alone = try XCTUnwrap(try recipe.servedGenerator())
            if name != "base" {
                _ = try alone.loadAdapter(name, from: directory.appendingPathComponent(name))
                try alone.useAdapter(name)
            }
            expected[name] = try alone.generate(.chat([ChatMessage(role: "user", content: question)]),
                                                settings: GenerationSettings(maxTokens: 6)) { _ in }.text
        }
        XCTAssertNotEqual(expected["x"], expected["base"], "the control: adapter x changes the answer")

        var c = ServeConfiguration()
        c.port = 0
        c.adapterRoot = directory
        let server = LoRAServer(generator: try XCTUnwrap(try recipe.servedGenerator()), task: "causal_lm", configuration: c)
        final class Port: @unchecked Sendable { var value = 0 }
        let port = Port()
        let task = Task { try await server.run { port.value = $0 } }
        for _ in 0..<500 where port.value == 0 { try await Task.sleep(nanoseconds: 10_000_000) }
        func call(_ method: HTTPMethod, _ path: String, _ body: Any? = nil) async throws -> (Int, [String: Any]) {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port.value)\(path)")
            request.method = method
            if let body { request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body))) }
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
            let bytes = try await response.body.collect(upTo: 1 << 20)
            return (Int(response.status.code), (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))) as? [String: Any] ?? [:])
        }
        for name in ["x", "y"] {
            let (status, json) = try await call(.POST, "/v1/adapters", ["name": name, "path": name])
            XCTAssertEqual(status, 201, "\(json)")
        }
        try await withThrowingTaskGroup(of: (String, Int, [String: Any]).self) { group in
            for name in ["x", "y", "base", "x"] {
                group.addTask {
                    let body: [String: Any] = ["adapter": name == "base" ? NSNull() : name as Any, "user": question, "max_tokens": 6]
                    let (status, json) = try await call(.POST, "/v1/generate", body)
                    return (name, status, json)
                }
            }
            for try await (name, status, json) in group {
                XCTAssertEqual(status, 200, "\(json)")
                XCTAssertEqual(json["text"] as? String, expected[name], name)
            }
        }
        let s1 = try await call(.POST, "/v1/generate", ["adapter": "z", "user": question]).0
        XCTAssertEqual(s1, 404)
        let s2 = try await call(.POST, "/v1/generate", ["prompt": "a", "user": "b"]).0
        XCTAssertEqual(s2, 400)
        let s3 = try await call(.POST, "/v1/generate", ["user": question, "top_p": 2]).0
        XCTAssertEqual(s3, 400)
        let s4 = try await call(.POST, "/v1/predict", ["inputs": [["text": question]]]).0
        XCTAssertEqual(s4, 400)
        let s5 = try await call(.DELETE, "/v1/adapters/x").0
        XCTAssertEqual(s5, 204)
        let s6 = try await call(.POST, "/v1/generate", ["adapter": "x", "user": question]).0
        XCTAssertEqual(s6, 404)
        let (status, json) = try await call(.POST, "/v1/generate", ["adapter": "y", "user": question, "max_tokens": 6])
        XCTAssertEqual(status, 200)
        XCTAssertEqual(json["text"] as? String, expected["y"], "y after x is unloaded")
        task.cancel()
        _ = try? await task.value
    }
}
