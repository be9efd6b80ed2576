import Foundation
import ImageModels
import LoRA
import NN
import Tensor
import TestSupport
import XCTest

/// LoRA on ResNets: the adapter contract on ResNet-18, and which layers a ResNet-34 recipe adapts.
final class ResNetLoRATests: XCTestCase {
    /// ResNet-18 with the golden test's closed-form weights (identical on every call) and 4 classes.
    private func makeResNet18() -> ResNet {
        let model = ResNet.forLoading(configuration: .resnet18, classes: 4)
        try! model.load(ResNetFormula.stateDict(for: model))  // the model's own keys: cannot fail
        return model
    }

    /// Merged inference costs what the base costs: after `merge()` a forward runs exactly the
    /// kernels of the plain model (no adapter convolutions), and gives the unmerged model's output.
    func testMergedForwardRunsTheBaseKernelsOnly() throws {
        let base = makeResNet18()
        let adapted = makeResNet18()
        let lora = LoRAModel(wrapping: adapted)
        var rng = RandomGenerator(seed: 9)
        try lora.addAdapter(config: LoRAConfig(rank: 4, alpha: 4, targetModules: ["layer*.*.conv*", "layer*.*.downsample.0"]),
                            generator: &rng)
        // B starts at 0: give the adapters an effect, so that merging changes the weights.
        for (key, slot) in adapted.namedParameterSlots() where key.hasSuffix(".adapters.default.lora_B.weight") {
            slot.tensor = Tensor.randn(slot.tensor!.shape, generator: &rng) * 0.05
        }
        base.eval()
        adapted.eval()
        let x = ResNetFormula.input([1, 3, 32, 32])
        let unmerged = withNoGrad { adapted(x) }
        try lora.merge()
        func kernels(_ model: ResNet) -> [String] {
            let trace = KernelTrace()
            _ = KernelTrace.record(into: trace) { withNoGrad { model(x).plain() } }
            return trace.kernels
        }
        XCTAssertEqual(kernels(adapted), kernels(base))
        let merged = withNoGrad { adapted(x) }
        assertClose(merged, unmerged, atol: 1e-4, rtol: 1e-4)
        XCTAssertGreaterThan((unmerged - withNoGrad { base(x) }).abs().max().item, 1e-3)
    }

    func testAdapterContractOnResNet18() throws {
        let config = LoRAConfig(rank: 2, alpha: 4, targetModules: ["layer4.*.conv*"], modulesToSave: ["fc"])
        let input = ResNetFormula.input([2, 3, 32, 32])
        // The full finite-difference check would take ~10⁴ forwards of the network; the spot check
        // below covers the adapter gradients instead.
        try checkAdapter(makeModel: makeResNet18, config: config, input: input, tolerance: 1e-4,
                         gradientCheck: false) { model, x in (model as! ResNet)(x) }
    }

    /// The adapter gradients through the whole network, checked by the chain rule through the
    /// merged weight: with `W' = W + s·B·A` held by a plain trainable convolution,
    ///
    ///     dL/dA[r, i] = s · Σ_o B[o, r] · dL/dW'[o, i]      dL/dB[o, r] = s · Σ_i dL/dW'[o, i] · A[r, i]
    ///
    /// (i runs over C·k_h·k_w). Finite differences would not do here: in eval mode the network is
    /// piecewise linear in A and B, with relu kinks denser than float32 noise allows steps.
    func testAdapterGradientsFollowTheChainRuleThroughTheMergedWeight() throws {
        let model = makeResNet18()
        let lora = LoRAModel(wrapping: model)
        var rng = RandomGenerator(seed: 11)
        let config = LoRAConfig(rank: 2, alpha: 4, targetModules: ["layer4.*.conv*"], modulesToSave: ["fc"])
        let report = try lora.addAdapter(config: config, generator: &rng)
        XCTAssertEqual(report.layers.map(\.key), ["layer4.0.conv1", "layer4.0.conv2", "layer4.1.conv1", "layer4.1.conv2"])
        let host = try XCTUnwrap(model.module(at: "layer4.1.conv1") as? LoRAConv2d)
        let adapter = try XCTUnwrap(host.adapters["default"])
        adapter.b = Tensor.randn(adapter.b.shape, std: 0.2, generator: &rng)  // the other adapters keep B = 0
        model.eval()
        let x = ResNetFormula.input([1, 3, 64, 64])   // layer4 at 2×2, so every tap of the 3×3 kernels sees data
        let weights = Tensor((0..<4).map { Float(cos(Double($0) * 0.61 + 0.2)) }, shape: [1, 4])
        let output = model(x)
        (output * weights).sum().backward()
        XCTAssertNil(host.weight.grad, "the frozen base weight got a gradient")
        let gradA = try XCTUnwrap(adapter.a.grad).scalars, gradB = try XCTUnwrap(adapter.b.grad).scalars

        // The same function with the update merged by hand into a plain, trainable convolution.
        let (rank, outputs, inner) = (2, 512, 512 * 9)
        let a = adapter.a.scalars, b = adapter.b.scalars, s = Double(adapter.scaling)
        var merged = host.weight.scalars
        for o in 0..<outputs {
            for i in 0..<inner {
                var delta = 0.0
                for r in 0..<rank { delta += Double(b[o * rank + r]) * Double(a[r * inner + i]) }
                merged[o * inner + i] += Float(s * delta)
            }
        }
        let reference = makeResNet18()
        try reference.replaceModule(at: "layer4.1.conv1", with: Conv2d(weight: Tensor(merged, shape: host.weight.shape),
                                                                        padding: 1))
        reference.freeze()
        reference.unfreeze(keys: ["layer4.1.conv1.weight"])
        reference.eval()
        let referenceOutput = reference(x)
        assertClose(referenceOutput, output, atol: 1e-4, rtol: 1e-4, "merged by hand")
        (referenceOutput * weights).sum().backward()
        let gradMerged = try XCTUnwrap(reference.module(at: "layer4.1.conv1").flatMap { ($0 as? Conv2d)?.weight.grad }).scalars

        var expectedA = [Float](repeating: 0, count: rank * inner), expectedB = [Float](repeating: 0, count: outputs * rank)
        for r in 0..<rank {
            for i in 0..<inner {
                var sum = 0.0
                for o in 0..<outputs { sum += Double(b[o * rank + r]) * Double(gradMerged[o * inner + i]) }
                expectedA[r * inner + i] = Float(s * sum)
            }
            for o in 0..<outputs {
                var sum = 0.0
                for i in 0..<inner { sum += Double(gradMerged[o * inner + i]) * Double(a[r * inner + i]) }
                expectedB[o * rank + r] = Float(s * sum)
            }
        }
        let scaleA = expectedA.map(abs).max()!, scaleB = expectedB.map(abs).max()!
        XCTAssertGreaterThan(scaleA, 1e-3)
        XCTAssertGreaterThan(scaleB, 1e-3)
        assertClose(Tensor(gradA, shape: [rank * inner]), Tensor(expectedA, shape: [rank * inner]), atol: 1e-4 * scaleA, rtol: 0)
        assertClose(Tensor(gradB, shape: [outputs * rank]), Tensor(expectedB, shape: [outputs * rank]), atol: 1e-4 * scaleB, rtol: 0)
    }

    /// The 35 convolutions of ResNet-34's blocks: 16 blocks × 2 plus 3 projection shortcuts.
    /// Adapter sizes (r = 16): a 3×3 conv C → O has A [16, C, 3, 3] and B [O, 16, 1, 1], so
    /// 16·(9C + O) parameters; a 1×1 shortcut 16·(C + O).
    func testDryRunOverResNet34BlockConvolutions() throws {
        var rng = RandomGenerator(seed: 12)
        let model = ResNet.forLoading(configuration: .resnet34)
        model.replaceHead(classes: 5, generator: &rng)
        let lora = LoRAModel(wrapping: model)

        let blockOnly = try lora.dryRun(LoRAConfig(rank: 16, alpha: 16, targetModules: ["layer*.*.conv*"]))
        XCTAssertEqual(blockOnly.layers.count, 32)

        let config = LoRAConfig(rank: 16, alpha: 16, targetModules: ["layer*.*.conv*", "layer*.*.downsample.0"],
                                modulesToSave: ["fc"])
        let report = try lora.dryRun(config)
        XCTAssertEqual(report.layers.count, 35)
        var expected: [String: (base: Int, adapter: Int)] = [:]
        let stages: [(blocks: Int, inputs: Int, width: Int)] = [(3, 64, 64), (4, 64, 128), (6, 128, 256), (3, 256, 512)]
        for (s, stage) in stages.enumerated() {
            for b in 0..<stage.blocks {
                let c = b == 0 ? stage.inputs : stage.width, o = stage.width
                expected["layer\(s + 1).\(b).conv1"] = (o * c * 9, 16 * (9 * c + o))
                expected["layer\(s + 1).\(b).conv2"] = (o * o * 9, 16 * (9 * o + o))
            }
            if s > 0 { expected["layer\(s + 1).0.downsample.0"] = (stage.width * stage.inputs, 16 * (stage.inputs + stage.width)) }
        }
        XCTAssertEqual(Set(report.layers.map(\.key)), Set(expected.keys))
        for layer in report.layers {
            XCTAssertEqual(layer.baseParameters, expected[layer.key]?.base, layer.key)
            XCTAssertEqual(layer.adapterParameters, expected[layer.key]?.adapter, layer.key)
            XCTAssertEqual(layer.rank, 16)
        }
        // Σ 16·(9C + O) over the 32 block convs = 1,143,808; shortcuts 16·(64+128 + 128+256 + 256+512) = 21,504.
        XCTAssertEqual(report.adapterParameters, 1_165_312)
        XCTAssertEqual(report.modelParameters, 21_797_672 - 513_000 + 2_565)   // torchvision's count, 5-class head
        XCTAssertTrue(report.warnings.isEmpty, report.warnings.joined(separator: "\n"))
        print(report)

        // Injected for real, the 5-class head trains too: 1,165,312 + 512·5 + 5 parameters.
        try lora.addAdapter(config: config, generator: &rng)
        XCTAssertEqual(model.trainableParameterCount, 1_167_877)
        let fraction = Double(model.trainableParameterCount) / Double(report.modelParameters)
        print("ResNet-34, LoRA r=16 on 35 convs + 5-class head: \(model.trainableParameterCount) trainable of \(report.modelParameters) (\(String(format: "%.2f", 100 * fraction)) %)")
        XCTAssertEqual(fraction, 0.05486, accuracy: 1e-4)
    }
}
