import Foundation
@testable import LanguageModels
import LoRA
import NN
import Tasks
import TestSupport
import XCTest

/// Several PEFT adapters on one loaded decoder, switched per request: each request's tokens are
/// those of a model that holds only its adapter (or none, for the base), whatever ran before it;
/// loading is all or nothing, and names are checked.
final class MultiAdapterGenerationTests: XCTestCase {
    private func tiny() throws -> LlamaForCausalLM { try LlamaForCausalLM.load(from: LlamaFixtures.url("llama_tiny")) }

    /// Writes adapters `a` (q, v, r = 4) and `b` (all projections, r = 2, dropout 0.5) with random
    /// B factors, so that each changes what the model says.
    private func writeAdapters() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("multi-adapter-\(UUID().uuidString)")
        let lora = LoRAModel(wrapping: try tiny())
        var rng = RandomGenerator(seed: 5)
        try lora.addAdapter("a", config: LoRAConfig(rank: 4, alpha: 8, targetModules: ["q_proj", "v_proj"]), generator: &rng)
        // b with dropout, which generation must not apply (the tokens below would not repeat).
        try lora.addAdapter("b", config: LoRAConfig(rank: 2, alpha: 4, dropout: 0.5, targetModules: LlamaLoRATests.targets),
                            generator: &rng)
        var noise = RandomGenerator(seed: 6)
        for (_, host) in lora.hosts {
            for name in ["a", "b"] {
                guard let adapter = host.adapters[name] else { continue }
                adapter.b = Tensor.randn(adapter.b.shape, std: 0.5, generator: &noise)
            }
        }
        for name in ["a", "b"] { try PEFTAdapterFile.save(lora, adapter: name, to: dir.appendingPathComponent(name).path) }
        return dir
    }

    private func generate(_ generator: LanguageModelTextGenerator<LlamaForCausalLM>, _ prompt: String) throws -> [Int] {
        try generator.generate(.text(prompt), settings: GenerationSettings(maxTokens: 12)) { _ in }.tokens
    }

    func testEachRequestGetsItsOwnAdaptersTokens() throws {
        let dir = try writeAdapters()
        defer { try? FileManager.default.removeItem(at: dir) }
        let shared = LanguageModelTextGenerator(model: try tiny(), tokenizer: ByteTokenizer(), summary: "")
        for name in ["a", "b"] {
            let line = try shared.loadAdapter(name, from: dir.appendingPathComponent(name))
            XCTAssertTrue(line.contains("adapter \(name)"), line)
        }
        XCTAssertEqual(shared.adapterNames, ["a", "b"])
        // Loading changes nothing: the base still runs until an adapter is chosen.
        let alone = LanguageModelTextGenerator(model: try tiny(), tokenizer: ByteTokenizer(), summary: "")
        let prompts = ["hello world", "LoRA!", "abc"]
        var expected: [String: [String: [Int]]] = ["base": [:]]
        for p in prompts { expected["base"]![p] = try generate(alone, p) }
        XCTAssertEqual(try generate(shared, prompts[0]), expected["base"]![prompts[0]])
        for name in ["a", "b"] {
            let own = LanguageModelTextGenerator(model: try tiny(), tokenizer: ByteTokenizer(), summary: "")
            _ = try own.loadAdapter(name, from: dir.appendingPathComponent(name))
            try own.useAdapter(name)
            expected[name] = [:]
            for p in prompts { expected[name]![p] = try generate(own, p) }
        }
        // The control: the three differ, so a wrong switch would show.
        XCTAssertNotEqual(expected["a"]![prompts[0]], expected["base"]![prompts[0]])
        XCTAssertNotEqual(expected["b"]![prompts[0]], expected["base"]![prompts[0]])
        XCTAssertNotEqual(expected["a"]![prompts[0]], expected["b"]![prompts[0]])
        // Interleaved requests on the shared base.
        let schedule: [(String?, String)] = [("a", prompts[0]), ("b", prompts[0]), (nil, prompts[1]), ("b", prompts[2]),
                                             ("a", prompts[1]), (nil, prompts[0]), ("a", prompts[2]), ("b", prompts[1])]
        for (name, prompt) in schedule {
            try shared.useAdapter(name)
            XCTAssertEqual(try generate(shared, prompt), expected[name ?? "base"]![prompt], "\(name ?? "base"): \(prompt)")
        }
    }

    func testNamesAndBadAdaptersAreErrorsThatChangeNothing() throws {
        let dir = try writeAdapters()
        defer { try? FileManager.default.removeItem(at: dir) }
        let shared = LanguageModelTextGenerator(model: try tiny(), tokenizer: ByteTokenizer(), summary: "")
        XCTAssertThrowsError(try shared.useAdapter("a")) { XCTAssertTrue("\($0)".contains("a"), "\($0)") }
        _ = try shared.loadAdapter("a", from: dir.appendingPathComponent("a"))
        try shared.useAdapter("a")
        let before = try generate(shared, "hello world")
        XCTAssertThrowsError(try shared.loadAdapter("a", from: dir.appendingPathComponent("b")))
        // A directory whose weights are gone: an error naming the file; the loaded adapter is untouched.
        let broken = dir.appendingPathComponent("broken")
        try FileManager.default.copyItem(at: dir.appendingPathComponent("b"), to: broken)
        try FileManager.default.removeItem(at: broken.appendingPathComponent(PEFTAdapterFile.weightsName))
        XCTAssertThrowsError(try shared.loadAdapter("broken", from: broken)) {
            XCTAssertTrue("\($0)".contains(PEFTAdapterFile.weightsName), "\($0)")
        }
        XCTAssertEqual(shared.adapterNames, ["a"])
        XCTAssertThrowsError(try shared.useAdapter("broken"))
        try shared.useAdapter("a")
        XCTAssertEqual(try generate(shared, "hello world"), before)
    }
}
