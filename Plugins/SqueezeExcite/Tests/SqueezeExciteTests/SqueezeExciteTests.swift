import Demos
import LoRAKit
import SqueezeExcite
import TestSupport
import XCTest

final class SqueezeExciteTests: XCTestCase {
    let input = randomTensor([2, 1, 12, 12], seed: 1)

    func testLoRAFormPassesTheAdapterContract() throws {
        try checkAdapter(makeModel: { SEConvNet(seed: 2) },
                         config: LoRAConfig(rank: 2, alpha: 4, targetModules: ["se", "conv2"]),
                         input: input, gradientEpsilon: 1e-3) { m, x in (m as! SEConvNet)(x) }
    }

    func testSqueezeExcitationGradients() {
        var rng = RandomGenerator(seed: 3)
        let se = SqueezeExcitation(channels: 4, reduction: 2, generator: &rng)
        checkGradients([randomTensor([2, 4, 3, 3], seed: 4)]) { xs in se(xs[0]) }
    }

    /// Trained end to end: the plugin's adapter parameters get gradients and change.
    func testPluginLayerTrainsEndToEnd() throws {
        let model = SEConvNet(seed: 5)
        let lora = LoRAModel(wrapping: model)
        var rng = RandomGenerator(seed: 6)
        try lora.addAdapter(config: LoRAConfig(rank: 2, alpha: 4, targetModules: ["conv1", "conv2", "se"],
                                               modulesToSave: ["head"]), generator: &rng)
        XCTAssertTrue(model.se is LoRASqueezeExcitation)
        let adapter = (model.se as! LoRASqueezeExcitation).adapters["default"]!
        let before = (adapter.a.scalars, adapter.b.scalars)
        let loader = DataLoader(dataset: SyntheticPatterns(count: 64, seed: 1), batchSize: 16, seed: 1,
                                collate: ClassificationBatch.collate)
        let trainer = try Trainer(model: model, task: ClassificationTask(classCount: 4),
                                  optimizer: try AdamW(parameters: model.trainableParameters(), learningRate: 1e-2),
                                  trainData: loader, configuration: TrainerConfiguration(epochs: 2))
        let summary = try trainer.fit()
        XCTAssertNotEqual(adapter.a.scalars, before.0)
        XCTAssertNotEqual(adapter.b.scalars, before.1)
        XCTAssertLessThan(summary.lossHistory.suffix(2).reduce(0, +), summary.lossHistory.prefix(2).reduce(0, +))
    }
}

/// The user's path: the plugin's tool trains the shipped recipe that names the plugin.
final class SqueezeExciteRecipeTests: XCTestCase {
    func testRecipeTrainsWithThePluginTool() throws {
        let tool = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("lorakit-se")
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let recipe = root.appendingPathComponent("recipes/examples/se_convnet_lora.yaml").path
        let out = NSTemporaryDirectory() + "lorakit-se-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let p = Process()
        p.executableURL = tool
        p.arguments = ["train", recipe, "output_dir=\(out)", "train.epochs=1"]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        try p.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, text)
        let config = try String(contentsOfFile: out + "/adapter/adapter_config.json", encoding: .utf8)
        XCTAssertTrue(config.contains("\"se\""), config)
        let adapter = try SafeTensorsFile(path: out + "/adapter/adapter_model.safetensors")
        XCTAssertTrue(adapter.names.contains("base_model.model.se.lora_A.weight"), "\(adapter.names)")
    }
}
