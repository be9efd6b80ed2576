import Foundation
@testable import LoRA
import NN
import SafeTensors
import TestSupport
import XCTest

/// torchvision's `BasicBlock`, key for key; mirrored by `Block` in scripts/check_peft_interop.py.
final class MiniBlock: Module {
    @Child var conv1: Conv2d
    @Child var bn1: BatchNorm2d
    @Child var conv2: Conv2d
    @Child var bn2: BatchNorm2d
    @OptionalChild var downsample: Sequential?

    init(_ cin: Int, _ cout: Int, stride: Int, _ rng: inout RandomGenerator) {
        conv1 = Conv2d(cin, cout, kernelSize: 3, stride: IntPair(integerLiteral: stride), padding: 1, bias: false, generator: &rng)
        bn1 = BatchNorm2d(cout)
        conv2 = Conv2d(cout, cout, kernelSize: 3, padding: 1, bias: false, generator: &rng)
        bn2 = BatchNorm2d(cout)
        downsample = stride == 1 && cin == cout ? nil
            : Sequential(Conv2d(cin, cout, kernelSize: 1, stride: IntPair(integerLiteral: stride), bias: false, generator: &rng),
                         BatchNorm2d(cout))
        super.init()
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let out = bn2(conv2(bn1(conv1(x)).relu()))
        return (out + (downsample?(x) ?? x)).relu()
    }
}

/// A two-stage ResNet with torchvision's keys (`conv1`, `layer1.0.conv1`, `layer2.0.downsample.0`,
/// `fc`); mirrored by `MiniResNet` in scripts/check_peft_interop.py.
final class MiniResNet: Module {
    @Child var conv1: Conv2d
    @Child var bn1: BatchNorm2d
    @ChildList var layer1: [MiniBlock]
    @ChildList var layer2: [MiniBlock]
    @Child var fc: Linear

    override init() {
        var rng = RandomGenerator(seed: 41)
        conv1 = Conv2d(3, 4, kernelSize: 3, padding: 1, bias: false, generator: &rng)
        bn1 = BatchNorm2d(4)
        layer1 = [MiniBlock(4, 4, stride: 1, &rng)]
        layer2 = [MiniBlock(4, 8, stride: 2, &rng)]
        fc = Linear(8, 3, generator: &rng)
        super.init()
    }

    func callAsFunction(_ x: Tensor) -> Tensor {                                  // [N, 3, H, W]
        var h = bn1(conv1(x)).relu()
        for block in layer1 + layer2 { h = block(h) }
        return fc(h.mean(axes: [2, 3]))                                           // [N, 3]
    }
}

/// Adapters saved with each target form a recipe may use are written so that PEFT adapts the same
/// layers, and load back into LoRAKit with the same outputs. With `LORAKIT_TARGETS_OUT=DIR` the
/// adapters and outputs are kept for `python3 scripts/check_peft_interop.py targets DIR`, which
/// loads them into PEFT; PEFT's own adapter with a regex target is a fixture from that script.
final class PEFTTargetModulesTests: XCTestCase {
    let input = randomTensor([2, 3, 8, 8], seed: 3)
    let convs = ["layer1.0.conv1", "layer1.0.conv2", "layer2.0.conv1", "layer2.0.conv2"]
    var fixtures: String { Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.path + "/peft/targets" }

    /// The base model of the fixtures (torch's initialisation, batch norms with non-trivial statistics).
    func loadBase() throws -> MiniResNet {
        let model = MiniResNet()
        try model.loadSafeTensors(path: fixtures + "/base.safetensors")
        model.eval()
        return model
    }

    func testBaseModelMatchesPyTorch() throws {
        let io = try SafeTensorsFile(path: fixtures + "/io.safetensors").tensors()
        let model = try loadBase()
        assertClose(withNoGrad { model(io["input"]!) }, io["base_output"]!, atol: 1e-5)
    }

    /// PEFT's string form of `target_modules` (a full-match regex), with `exclude_modules`,
    /// `rank_pattern`, `alpha_pattern` and `modules_to_save`, saved by PEFT itself.
    func testLoadsAPEFTAdapterWithARegexStringExcludesAndPatterns() throws {
        let io = try SafeTensorsFile(path: fixtures + "/io.safetensors").tensors()
        let model = try loadBase()
        let lora = LoRAModel(wrapping: model)
        let config = try PEFTAdapterFile.load(into: lora, from: fixtures + "/regex")
        model.eval()
        XCTAssertEqual(config.targetModules, [#"re:layer\d\.\d+\.(conv\d|downsample\.0)"#])
        XCTAssertEqual(lora.hosts.map(\.key), ["layer1.0.conv1", "layer1.0.conv2", "layer2.0.conv2", "layer2.0.downsample.0"],
                       "layer2.0.conv1 is excluded")
        let ranks = lora.hosts.map { $0.host.adapters["default"]?.rank }
        XCTAssertEqual(ranks, [2, 3, 3, 2], "rank_pattern conv2: 3")
        XCTAssertEqual(lora.hosts.last?.host.adapters["default"]?.settings.alpha, 6, "alpha_pattern downsample.0: 6")
        assertClose(withNoGrad { model(io["input"]!) }, io["regex_output"]!, atol: 1e-5, rtol: 1e-4)
    }

    /// PEFT's reading of `target_modules`/`exclude_modules` (peft 0.21, tuners_utils.py
    /// `check_target_module_exists`), written out here independently of `PEFTTargetModules`.
    func peftAdapts(_ json: [String: Any], _ key: String) -> Bool {
        func listed(_ list: [String]) -> Bool { list.contains { key == $0 || key.hasSuffix("." + $0) } }
        func fullMatch(_ pattern: String) -> Bool {
            key.range(of: "^(?:\(pattern))$", options: .regularExpression) != nil
        }
        switch json["exclude_modules"] {
        case let s as String where fullMatch(s): return false
        case let list as [String] where listed(list): return false
        default: break
        }
        switch json["target_modules"] {
        case let s as String: return fullMatch(s)
        case let list as [String]: return listed(list)
        default: return false
        }
    }

    /// Saves an adapter on `targets`, checks what PEFT would adapt from the written config and
    /// what LoRAKit loads from it; returns the written `target_modules`.
    @discardableResult
    func roundTrip(_ name: String, _ targets: [String], excludes: [String] = [], adapts expected: [String],
                   file: StaticString = #filePath, line: UInt = #line) throws -> Any? {
        let model = try loadBase()
        let lora = LoRAModel(wrapping: model)
        var rng = RandomGenerator(seed: 1)
        let report = try lora.addAdapter(config: LoRAConfig(rank: 2, alpha: 4, targetModules: targets, excludeModules: excludes,
                                                            modulesToSave: ["fc"]), generator: &rng)
        XCTAssertEqual(report.layers.map(\.key), expected, "LoRAKit's own selection", file: file, line: line)
        var noise = RandomGenerator(seed: 2)
        for (_, slot) in model.trainableParameters() {
            let t = slot.tensor!
            slot.tensor = withNoGrad { t + Tensor.randn(t.shape, std: 0.3, generator: &noise) }
        }
        model.eval()
        let output = withNoGrad { model(input) }
        let kept = ProcessInfo.processInfo.environment["LORAKIT_TARGETS_OUT"].map { $0 + "/" + name }
        let dir = kept ?? NSTemporaryDirectory() + "lorakit-targets-\(UUID().uuidString)"
        defer { if kept == nil { try? FileManager.default.removeItem(atPath: dir) } }
        try PEFTAdapterFile.save(lora, adapter: "default", to: dir)
        if kept != nil { try SafeTensors.write(["input": input, "output": output], to: dir + "/expected.safetensors") }

        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + PEFTAdapterFile.configName))
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let allKeys = model.namedModules().map(\.key).filter { !$0.isEmpty && !$0.contains("adapters") }
        XCTAssertEqual(allKeys.filter { peftAdapts(json, $0) }, expected, "PEFT's reading of \(json["target_modules"] ?? "nil")",
                       file: file, line: line)

        let fresh = try loadBase()
        let loaded = LoRAModel(wrapping: fresh)
        try PEFTAdapterFile.load(into: loaded, from: dir)
        fresh.eval()
        XCTAssertEqual(loaded.hosts.map(\.key), expected, "LoRAKit's reading", file: file, line: line)
        assertClose(withNoGrad { fresh(input) }, output, atol: 1e-6, "outputs after the round trip", file: file, line: line)
        return json["target_modules"]
    }

    func testExactKeysAndSuffixNamesAreWrittenAsTheyAre() throws {
        let exact = try roundTrip("exact", ["layer1.0.conv1", "layer2.0.downsample.0"], adapts: ["layer1.0.conv1", "layer2.0.downsample.0"])
        XCTAssertEqual(exact as? [String], ["layer1.0.conv1", "layer2.0.downsample.0"])
        let suffix = try roundTrip("suffix", ["conv2"], adapts: ["layer1.0.conv2", "layer2.0.conv2"])
        XCTAssertEqual(suffix as? [String], ["conv2"])
        let excluded = try roundTrip("names_excluded", ["conv1", "conv2"], excludes: ["layer2.0.conv1"],
                                     adapts: ["conv1", "layer1.0.conv1", "layer1.0.conv2", "layer2.0.conv2"])
        XCTAssertEqual(excluded as? [String], ["conv1", "conv2"])
    }

    /// The retina recipe's targets: written as one regex of the adapted keys, which PEFT matches whole.
    func testGlobsAreWrittenAsARegexOfTheAdaptedKeys() throws {
        let written = try roundTrip("glob", ["layer*.*.conv*", "layer*.*.downsample.0"], adapts: convs + ["layer2.0.downsample.0"])
        XCTAssertEqual(written as? String,
                       #"layer1\.0\.conv1|layer1\.0\.conv2|layer2\.0\.conv1|layer2\.0\.conv2|layer2\.0\.downsample\.0"#)
        try roundTrip("glob_excluded", ["*conv*"], excludes: ["layer2*"], adapts: ["conv1", "layer1.0.conv1", "layer1.0.conv2"])
    }

    /// A regex that also matches a container with no LoRA form (`downsample`, a Sequential): LoRAKit
    /// skips it, PEFT would refuse it, so the adapted keys are written instead of the pattern.
    func testRegexesAreWrittenAsTheAdaptedKeys() throws {
        let written = try roundTrip("regex", [#"re:layer\d\.\d+\.(conv\d|downsample.*)"#],
                                    adapts: convs + ["layer2.0.downsample.0"])
        XCTAssertEqual(written as? String,
                       #"layer1\.0\.conv1|layer1\.0\.conv2|layer2\.0\.conv1|layer2\.0\.conv2|layer2\.0\.downsample\.0"#)
    }

    /// A name PEFT reads more widely than LoRAKit adapts (`0` is a Sequential's conv and also a
    /// block): written as the adapted keys.
    func testNamesThatPEFTWouldReadDifferentlyAreResolved() throws {
        let written = try roundTrip("name_resolved", ["0"], adapts: ["layer2.0.downsample.0"])
        XCTAssertEqual(written as? String, #"layer2\.0\.downsample\.0"#)
    }

    func testGlobModulesToSaveAreWrittenAsModuleKeys() {
        let config = LoRAConfig(targetModules: ["fc"], modulesToSave: ["bn*", "layer*.*.bn2", "re:layer2\\.0\\.downsample.*"])
        let keys = MiniResNet().namedModules().map(\.key).filter { !$0.isEmpty }
        let written = PEFTTargetModules.peftReadable(config, adapted: ["fc"], moduleKeys: keys)
        XCTAssertEqual(written.modulesToSave, ["bn1", "layer1.0.bn2", "layer2.0.bn2", "layer2.0.downsample"],
                       "outermost matches only: downsample.0 and .1 travel inside downsample")
        XCTAssertEqual(written.targetModules, ["fc"])
    }
}
