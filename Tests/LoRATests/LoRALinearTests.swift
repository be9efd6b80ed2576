import LoRA
import NN
import TestSupport
import XCTest

/// A two-layer MLP whose layers have the keys a transformer's attention would have.
final class TinyMLP: Module {
    @Child var query: Linear
    @Child var value: Linear
    @Child var head: Linear

    init(seed: UInt64) {
        var rng = RandomGenerator(seed: seed)
        query = Linear(6, 8, generator: &rng)
        value = Linear(8, 5, generator: &rng)
        head = Linear(5, 3, generator: &rng)
        super.init()
    }

    func callAsFunction(_ x: Tensor) -> Tensor { head(value(query(x).tanh())) }
}

final class LoRALinearTests: XCTestCase {
    let input = randomTensor([4, 6], seed: 42)

    func testAdapterContract() throws {
        try checkAdapter(makeModel: { TinyMLP(seed: 1) },
                         config: LoRAConfig(rank: 2, alpha: 4, targetModules: ["query", "value"]),
                         input: input) { m, x in (m as! TinyMLP)(x) }
    }

    func testAdapterContractWithRSLoRAPatternsBiasAndSavedHead() throws {
        try checkAdapter(makeModel: { TinyMLP(seed: 1) },
                         config: LoRAConfig(rank: 2, alpha: 4, useRSLoRA: true, rankPattern: ["value": 3],
                                            alphaPattern: ["query": 8], bias: .loraOnly,
                                            targetModules: ["query", "value"], modulesToSave: ["head"]),
                         input: input) { m, x in (m as! TinyMLP)(x) }
    }

    func testAdapterContractDoRA() throws {
        try checkAdapter(makeModel: { TinyMLP(seed: 2) },
                         config: LoRAConfig(rank: 2, alpha: 2, useDoRA: true, targetModules: ["query"]),
                         input: input) { m, x in (m as! TinyMLP)(x) }
    }

    func testAdapterContractGaussianAndPiSSA() throws {
        for initialization in [LoRAInitialization.gaussian, .pissa] {
            try checkAdapter(makeModel: { TinyMLP(seed: 3) },
                             config: LoRAConfig(rank: 2, alpha: 4, initialization: initialization,
                                                targetModules: ["value"]),
                             input: input) { m, x in (m as! TinyMLP)(x) }
        }
    }

    func testScalingFollowsAlphaRankAndRSLoRA() {
        XCTAssertEqual(AdapterSettings(rank: 4, alpha: 8).scaling, 2)
        XCTAssertEqual(AdapterSettings(rank: 4, alpha: 8, useRSLoRA: true).scaling, 4)
    }

    func testDeltaWeightIsScaledBA() throws {
        let model = TinyMLP(seed: 4)
        let lora = LoRAModel(wrapping: model)
        var rng = RandomGenerator(seed: 1)
        try lora.addAdapter(config: LoRAConfig(rank: 2, alpha: 6, targetModules: ["query"]), generator: &rng)
        let host = model.query as! LoRALinear
        let adapter = host.adapters["default"]!
        adapter.a = Tensor([1, 0, 0, 0, 0, 2, 0, 1, 0, 0, 0, 0], shape: [2, 6])
        adapter.b = Tensor((0..<16).map { Float($0) }, shape: [8, 2])
        let delta = host.deltaWeight(adapter).scalars
        // ΔW[i][j] = 3 · Σ_k B[i][k]·A[k][j]; B[i] = (2i, 2i+1).
        for i in 0..<8 {
            let b0 = Float(2 * i), b1 = Float(2 * i + 1)
            XCTAssertEqual(delta[i * 6 + 0], 3 * b0)
            XCTAssertEqual(delta[i * 6 + 1], 3 * b1)
            XCTAssertEqual(delta[i * 6 + 5], 3 * 2 * b0)
            XCTAssertEqual(delta[i * 6 + 2], 0)
        }
    }

    func testInjectionReplacesOnlyTargetsAndFreezesTheBase() throws {
        let model = TinyMLP(seed: 5)
        let lora = LoRAModel(wrapping: model)
        var rng = RandomGenerator(seed: 1)
        let report = try lora.addAdapter(config: LoRAConfig(rank: 2, alpha: 2, targetModules: ["query"]), generator: &rng)
        XCTAssertTrue(model.query is LoRALinear)
        XCTAssertFalse(model.value is LoRALinear)
        XCTAssertEqual(report.layers.map(\.key), ["query"])
        XCTAssertEqual(report.adapterParameters, 2 * 6 + 8 * 2)
        XCTAssertEqual(model.trainableParameterCount, 2 * 6 + 8 * 2)
        XCTAssertEqual(report.modelParameters, (6 * 8 + 8) + (8 * 5 + 5) + (5 * 3 + 3))
    }

    func testTargetThatMatchesNothingIsAnErrorNamingIt() {
        let lora = LoRAModel(wrapping: TinyMLP(seed: 1))
        var rng = RandomGenerator(seed: 1)
        XCTAssertThrowsError(try lora.addAdapter(config: LoRAConfig(targetModules: ["query", "kee"]), generator: &rng)) { e in
            guard case .targetMatchedNothing(pattern: "kee", candidates: let c)? = e as? LoRAError else { return XCTFail("\(e)") }
            XCTAssertEqual(c, ["query", "value", "head"])
        }
        XCTAssertTrue(lora.hosts.isEmpty, "a failed injection must leave the model unchanged")
    }

    func testExcludesComeFirstAndPatternsForms() throws {
        let m = TinyMLP(seed: 1)
        let lora = LoRAModel(wrapping: m)
        let report = try lora.dryRun(LoRAConfig(targetModules: ["re:(query|value|head)"], excludeModules: ["head"]))
        XCTAssertEqual(report.layers.map(\.key), ["query", "value"])
        XCTAssertTrue(lora.hosts.isEmpty, "a dry run changes nothing")
        XCTAssertEqual(try lora.dryRun(LoRAConfig(targetModules: ["*e*"])).layers.map(\.key), ["query", "value", "head"])
    }

    func testDryRunWarnsWhenAdapterIsNotSmaller() throws {
        let report = try LoRAModel(wrapping: TinyMLP(seed: 1)).dryRun(LoRAConfig(rank: 3, targetModules: ["head"]))
        XCTAssertEqual(report.warnings.count, 1)   // r=3 on a 5→3 layer: 3·5 + 3·3 = 24 ≥ 18
    }

    func testNamedAdaptersActivateDisableDeleteAndHotSwap() throws {
        let model = TinyMLP(seed: 6)
        let lora = LoRAModel(wrapping: model)
        var rng = RandomGenerator(seed: 1)
        let cfg = LoRAConfig(rank: 2, alpha: 2, targetModules: ["query"])
        let base = withNoGrad { model(input) }
        try lora.addAdapter("one", config: cfg, generator: &rng)
        try lora.addAdapter("two", config: cfg, generator: &rng)
        let host = model.query as! LoRALinear
        host.adapters["one"]!.b = Tensor.full(0.1, shape: [8, 2])
        host.adapters["two"]!.b = Tensor.full(-0.3, shape: [8, 2])
        XCTAssertEqual(lora.activeAdapters, ["two"])
        let outTwo = withNoGrad { model(input) }
        try lora.setActiveAdapters(["one"])
        let outOne = withNoGrad { model(input) }
        XCTAssertNotEqual(outOne.scalars, outTwo.scalars)
        XCTAssertEqual(model.trainableParameterCount, 2 * 6 + 8 * 2, "only the active adapter trains")
        lora.disableAdapters()
        assertClose(withNoGrad { model(input) }, base)
        lora.enableAdapters()
        try lora.setActiveAdapters(["one", "two"])
        // Both active: the deltas add.
        let both = withNoGrad { model(input) }
        try lora.deleteAdapter("two")
        assertClose(withNoGrad { model(input) }, outOne)
        XCTAssertNotEqual(both.scalars, outOne.scalars)
        XCTAssertThrowsError(try lora.setActiveAdapters(["two"]))
    }

    func testWeightedCatCombinationIsExact() throws {
        let model = TinyMLP(seed: 7)
        let lora = LoRAModel(wrapping: model)
        var rng = RandomGenerator(seed: 1)
        try lora.addAdapter("a", config: LoRAConfig(rank: 2, alpha: 4, targetModules: ["query"]), generator: &rng)
        try lora.addAdapter("b", config: LoRAConfig(rank: 3, alpha: 3, targetModules: ["query"]), generator: &rng)
        let host = model.query as! LoRALinear
        var noise = RandomGenerator(seed: 2)
        for n in ["a", "b"] { host.adapters[n]!.b = Tensor.randn(host.adapters[n]!.b.shape, generator: &noise) }
        let expected = host.deltaWeight(host.adapters["a"]!) * 0.7 + host.deltaWeight(host.adapters["b"]!) * 0.5
        try lora.addWeightedAdapter("mix", sources: [("a", 0.7), ("b", 0.5)])
        assertClose(host.deltaWeight(host.adapters["mix"]!), expected, atol: 1e-5)
        XCTAssertEqual(host.adapters["mix"]!.rank, 5)
    }

    func testMergeRefusesNonFiniteAndChangesNothing() throws {
        let model = TinyMLP(seed: 8)
        let lora = LoRAModel(wrapping: model)
        var rng = RandomGenerator(seed: 1)
        try lora.addAdapter(config: LoRAConfig(rank: 2, alpha: 2, targetModules: ["query", "value"]), generator: &rng)
        (model.value as! LoRALinear).adapters["default"]!.b = Tensor.full(.infinity, shape: [5, 2])
        let before = model.stateDict().mapValues(\.scalars)
        XCTAssertThrowsError(try lora.merge()) { e in
            guard case .nonFiniteMerge(key: "value", adapter: _)? = e as? LoRAError else { return XCTFail("\(e)") }
        }
        for (k, v) in model.stateDict() { XCTAssertEqual(v.scalars, before[k], k) }
    }

    func testMergedStateDictHasBaseKeysAndMergedWeights() throws {
        let model = TinyMLP(seed: 9)
        let lora = LoRAModel(wrapping: model)
        var rng = RandomGenerator(seed: 1)
        try lora.addAdapter(config: LoRAConfig(rank: 2, alpha: 2, targetModules: ["query"]), generator: &rng)
        let host = model.query as! LoRALinear
        host.adapters["default"]!.b = Tensor.full(0.5, shape: [8, 2])
        let merged = try lora.mergedStateDict()
        XCTAssertEqual(merged.keys.sorted(), TinyMLP(seed: 1).stateDict().keys.sorted())
        let plain = TinyMLP(seed: 0)
        try plain.load(merged)
        assertClose(withNoGrad { plain(input) }, withNoGrad { model(input) }, atol: 1e-5)
        let path = NSTemporaryDirectory() + "merged-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try lora.saveMerged(to: path)
        let fromFile = TinyMLP(seed: 0)
        try fromFile.loadSafeTensors(path: path)
        assertClose(withNoGrad { fromFile(input) }, withNoGrad { model(input) }, atol: 1e-5)
    }

    func testTrainedBiasesTravelWithTheAdapterFile() throws {
        for mode in [LoRABiasMode.loraOnly, .all] {
            let model = TinyMLP(seed: 10)
            let lora = LoRAModel(wrapping: model)
            var rng = RandomGenerator(seed: 1)
            try lora.addAdapter(config: LoRAConfig(rank: 2, alpha: 2, bias: mode, targetModules: ["query"]), generator: &rng)
            for (key, slot) in model.trainableParameters() where key.hasSuffix(".bias") {
                slot.tensor = withNoGrad { slot.tensor! + 0.5 }
            }
            let dir = NSTemporaryDirectory() + "lorakit-bias-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try PEFTAdapterFile.save(lora, adapter: "default", to: dir)
            let fresh = TinyMLP(seed: 10)
            try PEFTAdapterFile.load(into: LoRAModel(wrapping: fresh), from: dir)
            assertClose(withNoGrad { fresh(input) }, withNoGrad { model(input) }, atol: 1e-6, "\(mode)")
        }
    }

    func testLoadingRejectsUnknownConfigFields() throws {
        let dir = NSTemporaryDirectory() + "lorakit-bad-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lora = LoRAModel(wrapping: TinyMLP(seed: 1))
        var rng = RandomGenerator(seed: 1)
        try lora.addAdapter(config: LoRAConfig(rank: 2, alpha: 2, targetModules: ["query"]), generator: &rng)
        try PEFTAdapterFile.save(lora, adapter: "default", to: dir)
        let path = dir + "/adapter_config.json"
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        json["fan_in_fan_out"] = true
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try PEFTAdapterFile.loadConfig(from: dir)) { e in
            XCTAssertTrue("\(e)".contains("fan_in_fan_out"), "\(e)")
        }
        json["fan_in_fan_out"] = false
        json["lora_magic"] = 3
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try PEFTAdapterFile.loadConfig(from: dir)) { e in
            XCTAssertTrue("\(e)".contains("unknown field 'lora_magic'"), "\(e)")
        }
    }
}
