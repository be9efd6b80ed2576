import Foundation
import ImageModels
import NN
import Tensor
import TestSupport
import XCTest

/// ResNet's module tree against torchvision's: keys, shapes and order of the state dict,
/// parameter counts, initialisation, the head and features, and that activations stay blocked.
final class ResNetStructureTests: XCTestCase {
    /// torchvision's state dicts as listed by scripts/make_resnet_goldens.py.
    private func torchvisionKeys() throws -> [String: Any] {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "resnet_keys", withExtension: "json",
                                                  subdirectory: "Fixtures"), "run scripts/make_resnet_goldens.py")
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    /// The state dict's keys and shapes in PyTorch's order: each module's parameters, then its
    /// buffers, then its children's, depth first.
    private func orderedState(_ model: Module) -> [(key: String, shape: [Int])] {
        var out: [(String, [Int])] = []
        for (path, module) in model.namedModules() {
            let prefix = path.isEmpty ? "" : path + "."
            var buffers: [(String, [Int])] = []
            for (key, item) in module.items() {
                switch item {
                case let .parameter(slot): if let t = slot.tensor { out.append((prefix + key, t.shape)) }
                case let .buffer(slot): buffers.append((prefix + key, slot.tensor.shape))
                default: break
                }
            }
            out += buffers
        }
        return out
    }

    func testStateDictKeysShapesAndOrderMatchTorchvision() throws {
        let reference = try torchvisionKeys()
        let presets: [(String, ResNet.Configuration)] = [
            ("resnet18", .resnet18), ("resnet34", .resnet34), ("resnet50", .resnet50),
            ("resnext50_32x4d", .resnext50_32x4d), ("wide_resnet50_2", .wideResNet50_2),
        ]
        for (name, configuration) in presets {
            let entries = try XCTUnwrap(reference[name] as? [[Any]], name)
            let expected = entries.map { ($0[0] as! String, ($0[1] as! [Any]).map { $0 as! Int }) }
            let actual = orderedState(ResNet.forLoading(configuration: configuration))
            XCTAssertEqual(actual.map(\.key), expected.map(\.0), "\(name): keys or their order differ")
            for ((key, shape), (_, expectedShape)) in zip(actual, expected) {
                XCTAssertEqual(shape, expectedShape, "\(name): \(key)")
            }
            XCTAssertEqual(ResNet.forLoading(configuration: configuration).stateDict().count, expected.count, name)
        }
        // The facts the LoRA recipes rely on, spelled out for ResNet-34.
        let resnet34 = try XCTUnwrap(reference["resnet34"] as? [[Any]]).map { $0[0] as! String }
        XCTAssertEqual(resnet34.count, 218)
        XCTAssertEqual(resnet34.filter { $0.hasSuffix(".weight") && $0.contains("conv") }.count, 33)
        XCTAssertEqual(resnet34.filter { $0.hasSuffix("downsample.0.weight") }.count, 3)
    }

    func testParameterCountsMatchTorchvision() throws {
        let counts = try XCTUnwrap(try torchvisionKeys()["parameter_counts"] as? [String: Int])
        XCTAssertEqual(Set(counts.keys), Set(ResNet.Configuration.presets.keys))
        for (name, count) in counts {
            let configuration = try XCTUnwrap(ResNet.Configuration.named(name))
            XCTAssertEqual(ResNet.forLoading(configuration: configuration).parameterCount, count, name)
        }
    }

    func testInitialisationFollowsTorchvision() throws {
        var rng = RandomGenerator(seed: 3)
        let model = ResNet.resnet18(classes: 7, generator: &rng)
        // Kaiming-normal, fan_out mode: std = √(2 / (O·kh·kw)).
        for (conv, fanOut) in [(model.conv1, 64 * 49), (try convolution(model, "layer3.1.conv2"), 256 * 9),
                               (try convolution(model, "layer2.0.downsample.0"), 128)] {
            let w = conv.weight.scalars.map(Double.init)
            let mean = w.reduce(0, +) / Double(w.count)
            let std = (w.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(w.count)).squareRoot()
            let expected = (2 / Double(fanOut)).squareRoot()
            XCTAssertEqual(std, expected, accuracy: 0.03 * expected, "conv with fan-out \(fanOut)")
            XCTAssertEqual(mean, 0, accuracy: 0.03 * expected)
            XCTAssertNil(conv.bias)
        }
        for block in model.blocks {
            XCTAssertTrue(block.lastBatchNorm.weight!.scalars.allSatisfy { $0 == 1 })
            XCTAssertTrue(block.lastBatchNorm.bias!.scalars.allSatisfy { $0 == 0 })
        }
        let bound = 1 / Float(512).squareRoot()
        XCTAssertEqual(model.fc.weight.shape, [7, 512])
        XCTAssertTrue(model.fc.weight.scalars.allSatisfy { abs($0) <= bound })
        XCTAssertGreaterThan(model.fc.weight.scalars.map(abs).max()!, 0.95 * bound)
        XCTAssertEqual(model.featureCount, 512)
        XCTAssertEqual(model.classCount, 7)
        XCTAssertEqual(model.blocks.count, 8)
        XCTAssertEqual(model.parameterCount, model.trainableParameterCount)
    }

    func testZeroInitialisedResidualStartsEachBlockAsIdentity() throws {
        // Bottleneck blocks 2-1-1-1: layer1.1 has no projection shortcut.
        let configuration = ResNet.Configuration(block: .bottleneck, blockCounts: [2, 1, 1, 1],
                                                 zeroInitializeResidual: true)
        var rng = RandomGenerator(seed: 4)
        let model = ResNet(configuration: configuration, classes: 3, generator: &rng)
        for block in model.blocks {
            XCTAssertTrue(block.lastBatchNorm.weight!.scalars.allSatisfy { $0 == 0 })
        }
        // bn2 of the bottleneck stays 1; only bn3 starts at 0.
        let block = try XCTUnwrap(model.layer1.layers[1] as? Bottleneck)
        XCTAssertTrue(block.bn2.weight!.scalars.allSatisfy { $0 == 1 })
        // A block without a projection then maps x ≥ 0 to relu(0 + x) = x.
        model.eval()
        let x = Tensor.uniform([1, 256, 5, 5], low: 0, high: 2, generator: &rng)
        assertClose(block(x), x, atol: 0, rtol: 0)
    }

    func testFeaturesHeadAndReplaceHead() throws {
        var rng = RandomGenerator(seed: 5)
        let model = ResNet.resnet18(classes: 4, generator: &rng)
        model.eval()
        let x = Tensor.randn([2, 3, 50, 44], generator: &rng)
        let features = model.features(x)
        XCTAssertEqual(features.shape, [2, 512])
        XCTAssertEqual(model.featureMap(x).shape, [2, 512, 2, 2])
        // The pooled features are the feature map's spatial mean; logits are fc of them.
        let map = model.featureMap(x).scalars
        var manual = [Float](repeating: 0, count: 2 * 512)
        for p in 0..<(2 * 512) { manual[p] = (map[p * 4] + map[p * 4 + 1] + map[p * 4 + 2] + map[p * 4 + 3]) / 4 }
        assertClose(features, Tensor(manual, shape: [2, 512]), atol: 1e-5, rtol: 1e-5)
        let w = model.fc.weight.scalars, b = model.fc.bias!.scalars
        var logits = [Float](repeating: 0, count: 2 * 4)
        for n in 0..<2 {
            for o in 0..<4 {
                var sum = b[o]
                for i in 0..<512 { sum += manual[n * 512 + i] * w[o * 512 + i] }
                logits[n * 4 + o] = sum
            }
        }
        assertClose(model(x), Tensor(logits, shape: [2, 4]), atol: 1e-4, rtol: 1e-4)

        let before = model.stateDict().filter { !$0.key.hasPrefix("fc.") }
        model.replaceHead(classes: 9, generator: &rng)
        XCTAssertEqual(model.fc.weight.shape, [9, 512])
        XCTAssertEqual(model.fc.bias?.shape, [9])
        XCTAssertFalse(model.fc.isTraining, "the new head takes the model's mode")
        XCTAssertEqual(model(x).shape, [2, 9])
        let after = model.stateDict()
        for (key, value) in before { XCTAssertEqual(after[key]?.scalars, value.scalars, key) }

        // Fine-tuning the head alone: freeze the body, the new head stays trainable.
        model.freeze()
        model.unfreeze(keys: ["fc."])
        XCTAssertEqual(model.trainableParameterCount, 9 * 512 + 9)
    }

    func testInputChannelsAndPresetsByName() throws {
        var rng = RandomGenerator(seed: 6)
        let model = ResNet.forLoading(configuration: .resnet18, classes: 2, inputChannels: 1)
        XCTAssertEqual(model.conv1.weight.shape, [64, 1, 7, 7])
        model.eval()
        XCTAssertEqual(model(Tensor.randn([1, 1, 32, 32], generator: &rng)).shape, [1, 2])
        XCTAssertEqual(ResNet.Configuration.named("resnet34"), .resnet34)
        XCTAssertNil(ResNet.Configuration.named("resnet35"))
        XCTAssertEqual(ResNet.Configuration.resnet50.featureCount, 2048)
    }

    func testLayersAreReplaceableThroughTheTree() throws {
        var rng = RandomGenerator(seed: 7)
        let model = ResNet.forLoading(configuration: .resnet34, classes: 3)
        try model.load(ResNetFormula.stateDict(for: model))
        let blockConvs = model.namedModules().filter { KeyPattern.matches("layer*.*.conv*", $0.key) }
        XCTAssertEqual(blockConvs.count, 32)
        XCTAssertTrue(blockConvs.allSatisfy { $0.module is Conv2d })
        let downsample = model.namedModules().filter { KeyPattern.matches("layer*.*.downsample.0", $0.key) }
        XCTAssertEqual(downsample.map(\.key), ["layer2.0.downsample.0", "layer3.0.downsample.0", "layer4.0.downsample.0"])

        model.eval()
        let x = Tensor.randn([1, 3, 32, 32], generator: &rng)
        let before = model(x)
        for key in ["layer1.0.conv1", "layer3.0.downsample.0", "fc"] {
            let old = try XCTUnwrap(model.module(at: key))
            let replacement: Module = (old as? Conv2d).map { Doubled(weight: $0.weight, stride: $0.stride,
                                                                      padding: $0.padding) } ?? Linear(512, 3, generator: &rng)
            try model.replaceModule(at: key, with: replacement)
            XCTAssertTrue(model.module(at: key) === replacement, key)
        }
        XCTAssertEqual(model(x).shape, [1, 3])
        XCTAssertNotEqual(model(x).scalars, before.scalars)
        XCTAssertThrowsError(try model.replaceModule(at: "layer1.0.bn1", with: Identity()))
    }

    /// Without an activation reorder, a training step reorders only weights (into oneDNN's layout
    /// for forward and backward-data, weight gradients back to plain) and the pooled features.
    func testTrainingStepKeepsActivationsBlocked() throws {
        var rng = RandomGenerator(seed: 8)
        let model = ResNet.forLoading(configuration: .resnet18, classes: 10)
        try model.load(ResNetFormula.stateDict(for: model))
        let x = Tensor.randn([2, 3, 64, 64], generator: &rng)
        let convolutions = model.namedModules().filter { $0.module is Conv2d }.count
        XCTAssertEqual(convolutions, 20)
        _ = model(x)
        let forward = KernelTrace(), backward = KernelTrace()
        let loss = KernelTrace.record(into: forward) { model(x).sum() }
        KernelTrace.record(into: backward) { loss.backward() }
        XCTAssertEqual(forward.count("conv2d.forward"), convolutions)
        XCTAssertLessThanOrEqual(forward.count("reorder"), convolutions + 1, forward.kernels.joined(separator: " "))
        // Backward-data adds into an input's gradient so far inside the kernel where it can (a block's
        // input feeding conv1 and the downsample convolution).
        XCTAssertEqual(backward.count("conv2d.backward-data") + backward.count("conv2d.backward-data-accumulate"),
                       convolutions - 1, "the image needs no gradient")
        XCTAssertLessThanOrEqual(backward.count("reorder"), 2 * convolutions + 1,
                                 backward.kernels.joined(separator: " "))
    }

    private func convolution(_ model: Module, _ key: String) throws -> Conv2d {
        try XCTUnwrap(model.module(at: key) as? Conv2d, key)
    }
}

/// A convolution whose output is doubled, standing in for an adapted layer.
private final class Doubled: Conv2d {
    override func callAsFunction(_ x: Tensor) -> Tensor { super.callAsFunction(x) * 2 }
}
