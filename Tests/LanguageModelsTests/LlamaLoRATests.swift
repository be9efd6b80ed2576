import Foundation
@testable import LanguageModels
import LoRA
import NN
import TestSupport
import XCTest

/// LoRA on every projection of the decoder, float and quantised, through the module tree:
/// PEFT's target names match, the LoRA contract holds (`checkAdapter`: no-op start, merge equals
/// unmerged, only adapters train, PEFT round trip, finite differences), merging a quantised base
/// gives float weights, and gradients through a whole decoder layer match finite differences.
final class LlamaLoRATests: XCTestCase {
    static let config = LlamaConfig(vocabularySize: 40, hiddenSize: 32, intermediateSize: 64, layerCount: 2, headCount: 4,
                                    keyValueHeadCount: 2, maxPositionEmbeddings: 32, rmsNormEpsilon: 1e-5,
                                    ropeTheta: 10_000, tieWordEmbeddings: true)
    static let targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    let ids = Tensor(indices: [3, 17, 5, 22, 9, 1, 30, 7], shape: [2, 4])

    /// A random model (weights N(0, 0.2), so that attention is far from uniform), with its
    /// projections' weights moved into quantised storage of `format` when given.
    static func model(_ format: QuantizedFormat? = nil) -> LlamaForCausalLM {
        var rng = RandomGenerator(seed: 11)
        let model = LlamaForCausalLM(config: config, initializerRange: 0.2, generator: &rng)
        guard let format else { return model }
        for (key, module) in model.namedModules() {
            guard let linear = module as? Linear else { continue }
            try! model.replaceModule(at: key, with: QuantizedLinear(weight: QuantizedMatrix(linear.weight, format: format),
                                                                   bias: linear.bias))
        }
        return model
    }

    func testAdapterContractOnFloatProjections() throws {
        try checkAdapter(makeModel: { Self.model() }, config: LoRAConfig(rank: 2, alpha: 4, targetModules: Self.targets),
                         input: ids, tolerance: 2e-5, forward: { m, x in (m as! LlamaForCausalLM)(x) })
    }

    func testAdapterContractOnQuantisedProjections() throws {
        for format in [QuantizedFormat.float16, .bfloat16] {
            try checkAdapter(makeModel: { Self.model(format) }, config: LoRAConfig(rank: 2, alpha: 4, targetModules: Self.targets),
                             input: ids, tolerance: 2e-5, forward: { m, x in (m as! LlamaForCausalLM)(x) })
        }
    }

    func testEveryProjectionIsATargetAndOnlyAdaptersTrain() throws {
        let model = Self.model(.bfloat16)
        let lora = LoRAModel(wrapping: model)
        var rng = RandomGenerator(seed: 1)
        let report = try lora.addAdapter(config: LoRAConfig(rank: 2, alpha: 4, targetModules: Self.targets), generator: &rng)
        XCTAssertEqual(report.layers.count, 7 * Self.config.layerCount)
        XCTAssertTrue(report.layers.allSatisfy { $0.type == "QuantizedLinear" })
        XCTAssertEqual(Set(lora.hosts.map { $0.key }.filter { $0.hasSuffix("q_proj") }),
                       Set(["model.layers.0.self_attn.q_proj", "model.layers.1.self_attn.q_proj"]))
        XCTAssertTrue(model.trainableParameters().allSatisfy { $0.key.contains(".adapters.") })
        // A base parameter count that includes the quantised weights.
        XCTAssertEqual(lora.hosts.first { $0.key == "model.layers.0.mlp.down_proj" }?.host.baseParameterCount, 32 * 64)
    }

    func testMergingIntoAQuantisedBaseGivesFloatWeights() throws {
        let model = Self.model(.bfloat16)
        let lora = LoRAModel(wrapping: model)
        var rng = RandomGenerator(seed: 2)
        try lora.addAdapter(config: LoRAConfig(rank: 2, alpha: 4, targetModules: ["down_proj"]), generator: &rng)
        let host = try XCTUnwrap(model.module(at: "model.layers.1.mlp.down_proj") as? LoRAQuantizedLinear)
        host.adapters["default"]!.b = randomTensor(host.adapters["default"]!.b.shape, seed: 3)
        let before = withNoGrad { model(ids) }
        let base = host.weight.dequantized()
        try lora.merge()
        XCTAssertEqual(host.weight.format, .float32, "merged weights are kept in Float32, not re-quantised")
        assertClose(host.weight.dequantized(), base + host.deltaWeight(host.adapters["default"]!), atol: 1e-6, rtol: 0)
        assertClose(withNoGrad { model(ids) }, before, atol: 2e-5, rtol: 1e-4)
    }

    func testDecoderLayerGradientsMatchFiniteDifferences() {
        // Through RMS norms, quantised projections, RoPE, grouped-query causal attention and SwiGLU.
        let model = Self.model(.float16)
        let layer = model.model.layers[0]
        let rope = Tensor.rotaryAngles(positions: [0, 1, 2], dimension: Self.config.headDimension, base: 10_000)
        let keyMask = Tensor([0, 0, 0, -.infinity, 0, 0], shape: [2, 3])
        checkGradients([randomTensor([2, 3, 32], seed: 4)], atol: 3e-3, rtol: 3e-2) { x in
            layer(x[0], rope: RotaryAngles(cos: rope.cos, sin: rope.sin), masking: AttentionMasking(keyMask: keyMask), cache: nil, layer: 0)
        }
    }
}
