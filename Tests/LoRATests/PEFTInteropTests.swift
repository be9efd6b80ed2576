import Foundation
import LoRA
import NN
import SafeTensors
import TestSupport
import XCTest

/// Attention from four `Linear` projections, mirroring `Attention` in scripts/make_peft_fixtures.py.
final class InteropAttention: Module {
    @Child var query: Linear
    @Child var key: Linear
    @Child var value: Linear
    @Child var output: Linear
    let heads: Int

    init(_ dim: Int, heads: Int, _ rng: inout RandomGenerator) {
        query = Linear(dim, dim, generator: &rng)
        key = Linear(dim, dim, generator: &rng)
        value = Linear(dim, dim, generator: &rng)
        output = Linear(dim, dim, generator: &rng)
        self.heads = heads
        super.init()
    }

    func callAsFunction(_ x: Tensor) -> Tensor {                       // [B, T, E]
        let (b, t, e) = (x.shape[0], x.shape[1], x.shape[2])
        func split(_ h: Tensor) -> Tensor { h.reshaped([b, t, heads, e / heads]).transposed(1, 2) }
        let a = scaledDotProductAttention(query: split(query(x)), key: split(key(x)), value: split(value(x)))
        return output(a.transposed(1, 2).reshaped([b, t, e]))
    }
}

/// Mirrors `Net` in scripts/make_peft_fixtures.py, key for key.
final class InteropNet: Module {
    @Child var embed: Embedding
    @Child var attention: InteropAttention
    @Child var conv: Conv2d
    @Child var dilated: Conv2d
    @Child var head: Linear

    override init() {
        var rng = RandomGenerator(seed: 1)
        embed = Embedding(20, 8, generator: &rng)
        attention = InteropAttention(8, heads: 2, &rng)
        conv = Conv2d(4, 6, kernelSize: 3, padding: 1, groups: 2, generator: &rng)
        dilated = Conv2d(6, 6, kernelSize: 3, padding: 2, dilation: 2, generator: &rng)
        head = Linear(14, 3, generator: &rng)
        super.init()
    }

    func callAsFunction(ids: Tensor, image: Tensor) throws -> Tensor {
        let text = attention(try embed(ids)).mean(axis: 1)                         // [B, 8]
        let pic = dilated(conv(image).tanh()).mean(axes: [2, 3])                     // [B, 6]
        return head(Tensor.concat([text, pic], axis: 1))                             // [B, 3]
    }
}

/// LoRAKit loads adapters saved by PEFT and reproduces PEFT's outputs; adapters LoRAKit saves are
/// checked in PEFT by `python3 scripts/make_peft_fixtures.py --check DIR` (DIR from
/// `LORAKIT_INTEROP_OUT`, see `testSavedAdaptersForThePEFTCheck`).
final class PEFTInteropTests: XCTestCase {
    var fixtures: String { Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.path + "/peft" }

    func loadBase() throws -> (InteropNet, [String: Tensor]) {
        let net = InteropNet()
        try net.loadSafeTensors(path: fixtures + "/base.safetensors")
        net.eval()
        return (net, try SafeTensorsFile(path: fixtures + "/io.safetensors").tensors())
    }

    func testBaseModelMatchesPyTorch() throws {
        let (net, io) = try loadBase()
        assertClose(try net(ids: io["ids"]!, image: io["image"]!), io["base_output"]!, atol: 1e-5, rtol: 1e-4)
    }

    func testLoadsPEFTAdaptersAndReproducesPEFTOutputs() throws {
        for name in ["plain", "dora"] {
            let (net, io) = try loadBase()
            let lora = LoRAModel(wrapping: net)
            let config = try PEFTAdapterFile.load(into: lora, from: fixtures + "/" + name)
            net.eval()
            assertClose(try net(ids: io["ids"]!, image: io["image"]!), io["\(name)_output"]!, atol: 1e-5, rtol: 1e-4,
                        "adapter \(name)")
            if name == "dora" {
                XCTAssertTrue(config.useDoRA && config.useRSLoRA)
                XCTAssertEqual((net.attention.key as? LoRALinear)?.adapters["default"]?.rank, 3, "rank_pattern")
                XCTAssertEqual((net.attention.query as? LoRALinear)?.adapters["default"]?.settings.alpha, 6, "alpha_pattern")
            }
        }
    }

    /// Saves LoRAKit adapters (trained a few steps, so not PEFT's values) and their outputs, for the
    /// reverse check in PEFT; checks here that they round-trip through the files.
    func testSavedAdaptersForThePEFTCheck() throws {
        let out = ProcessInfo.processInfo.environment["LORAKIT_INTEROP_OUT"]
            ?? NSTemporaryDirectory() + "lorakit-interop-\(UUID().uuidString)"
        defer { if ProcessInfo.processInfo.environment["LORAKIT_INTEROP_OUT"] == nil { try? FileManager.default.removeItem(atPath: out) } }
        var outputs: [String: Tensor] = [:]
        let configs: [(String, LoRAConfig)] = [
            ("lorakit_plain", LoRAConfig(rank: 4, alpha: 8, targetModules: ["embed", "query", "value", "output", "conv"],
                                         modulesToSave: ["head"])),
            ("lorakit_dora", LoRAConfig(rank: 2, alpha: 4, useRSLoRA: true, useDoRA: true, rankPattern: ["key": 3],
                                        alphaPattern: ["query": 6], targetModules: ["query", "key"])),
        ]
        for (name, config) in configs {
            let (net, io) = try loadBase()
            let lora = LoRAModel(wrapping: net)
            var rng = RandomGenerator(seed: 3)
            try lora.addAdapter(config: config, generator: &rng)
            // Move every trainable tensor off its initial value.
            var noise = RandomGenerator(seed: 4)
            for (_, slot) in net.trainableParameters() {
                let t = slot.tensor!
                slot.tensor = withNoGrad { t + Tensor.randn(t.shape, std: 0.2, generator: &noise) }
            }
            net.eval()
            let y = try net(ids: io["ids"]!, image: io["image"]!)
            outputs[name] = y
            try PEFTAdapterFile.save(lora, adapter: "default", to: out + "/" + name)

            let (fresh, _) = try loadBase()
            try PEFTAdapterFile.load(into: LoRAModel(wrapping: fresh), from: out + "/" + name)
            fresh.eval()
            assertClose(try fresh(ids: io["ids"]!, image: io["image"]!), y, atol: 1e-6, rtol: 1e-5, name)
        }
        try SafeTensors.write(outputs, to: out + "/outputs.safetensors")
    }
}
