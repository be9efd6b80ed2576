import Foundation
import LoRA
import NN
import SafeTensors
import TestSupport
import XCTest

/// Loading a PEFT adapter is all or nothing: a file that fails on any layer leaves the model
/// exactly as it was, and the same load succeeds once the file is fixed.
final class PEFTAdapterFileTests: XCTestCase {
    /// Six 4 → 4 layers (`layers.0` … `layers.5`) and a head.
    final class Stack: Module {
        @ChildList var layers: [Linear]
        @Child var head: Linear

        override init() {
            var rng = RandomGenerator(seed: 31)
            layers = (0..<6).map { _ in Linear(4, 4, generator: &rng) }
            head = Linear(4, 2, generator: &rng)
            super.init()
        }

        func callAsFunction(_ x: Tensor) -> Tensor { head(layers.reduce(x) { $1($0).tanh() }) }
    }

    let input = randomTensor([3, 4], seed: 5)
    var directory = ""

    override func setUp() {
        directory = NSTemporaryDirectory() + "lorakit-peft-load-\(UUID().uuidString)"
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    /// Saves an adapter with non-zero factors on every layer and a saved head; returns the
    /// adapted model's output.
    func saveAdapter(_ config: LoRAConfig) throws -> Tensor {
        let model = Stack()
        let lora = LoRAModel(wrapping: model)
        var rng = RandomGenerator(seed: 1)
        try lora.addAdapter(config: config, generator: &rng)
        var noise = RandomGenerator(seed: 2)
        for (_, slot) in model.trainableParameters() {
            let t = slot.tensor!
            slot.tensor = withNoGrad { t + Tensor.randn(t.shape, std: 0.3, generator: &noise) }
        }
        model.eval()
        try PEFTAdapterFile.save(lora, adapter: "default", to: directory)
        return withNoGrad { model(input) }
    }

    /// A model that already has an adapter, so that trainable flags and active lists are not trivial.
    func makeTarget() throws -> (Stack, LoRAModel) {
        let model = Stack()
        model.eval()
        let lora = LoRAModel(wrapping: model)
        var rng = RandomGenerator(seed: 7)
        try lora.addAdapter("first", config: LoRAConfig(rank: 1, targetModules: ["layers.1", "layers.4"]), generator: &rng)
        return (model, lora)
    }

    var weightsPath: String { directory + "/" + PEFTAdapterFile.weightsName }

    /// Rewrites the adapter's tensors with `edit`, keeping the original to put back.
    func editTensors(_ edit: (inout [String: Tensor]) -> Void) throws -> [String: Tensor] {
        let original = try SafeTensorsFile(path: weightsPath).tensors()
        var edited = original
        edit(&edited)
        try SafeTensors.write(edited, metadata: ["format": "pt"], to: weightsPath)
        return original
    }

    /// Loads, expects `check` to accept the error and the model to be unchanged; then restores
    /// the file and loads again, which must reproduce the saved model's output.
    func assertFailsCleanlyThenLoads(expected: Tensor, restore: [String: Tensor]? = nil,
                                     file: StaticString = #filePath, line: UInt = #line,
                                     _ check: (Error) -> Void) throws {
        let (model, lora) = try makeTarget()
        let before = ModelSnapshot(model)
        XCTAssertThrowsError(try PEFTAdapterFile.load(into: lora, from: directory), file: file, line: line, check)
        assertUnchanged(model, since: before, file: file, line: line)
        XCTAssertEqual(lora.adapterNames, ["first"], file: file, line: line)
        XCTAssertEqual(lora.activeAdapters, ["first"], file: file, line: line)
        if let restore { try SafeTensors.write(restore, metadata: ["format": "pt"], to: weightsPath) }
        try PEFTAdapterFile.load(into: lora, from: directory)
        model.eval()
        assertClose(withNoGrad { model(input) }, expected, atol: 1e-6, "retry", file: file, line: line)
    }

    let config = LoRAConfig(rank: 2, alpha: 4, targetModules: ["re:layers\\.\\d"], modulesToSave: ["head"])

    func testMissingTensorOnTheFifthLayerLeavesNothingBehind() throws {
        let expected = try saveAdapter(config)
        let original = try editTensors { $0["base_model.model.layers.4.lora_B.weight"] = nil }
        try assertFailsCleanlyThenLoads(expected: expected, restore: original) { e in
            XCTAssertTrue("\(e)".contains("missing tensor base_model.model.layers.4.lora_B.weight"), "\(e)")
        }
    }

    func testShapeMismatchOnTheFifthLayerLeavesNothingBehind() throws {
        let expected = try saveAdapter(config)
        let original = try editTensors { $0["base_model.model.layers.4.lora_A.weight"] = Tensor.zeros([3, 4]) }
        try assertFailsCleanlyThenLoads(expected: expected, restore: original) { e in
            guard case .shapeMismatch(key: "base_model.model.layers.4.lora_A.weight", expected: [2, 4], got: [3, 4])? = e as? LoRAError
            else { return XCTFail("\(e)") }
        }
    }

    func testMissingSavedModuleAndUnexpectedTensorsLeaveNothingBehind() throws {
        let expected = try saveAdapter(config)
        let original = try editTensors { $0["base_model.model.head.weight"] = nil }
        try assertFailsCleanlyThenLoads(expected: expected, restore: original) { e in
            XCTAssertTrue("\(e)".contains("missing saved-module tensor base_model.model.head.weight"), "\(e)")
        }
        try FileManager.default.removeItem(atPath: directory)
        _ = try saveAdapter(config)
        let clean = try editTensors { $0["base_model.model.layers.9.lora_A.weight"] = Tensor.zeros([2, 4]) }
        try assertFailsCleanlyThenLoads(expected: expected, restore: clean) { e in
            XCTAssertTrue("\(e)".contains("tensors that fit no adapted layer or saved module: base_model.model.layers.9"), "\(e)")
        }
    }

    func testCorruptFileLeavesNothingBehind() throws {
        let expected = try saveAdapter(config)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: weightsPath))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: weightsPath))
        let (model, lora) = try makeTarget()
        let before = ModelSnapshot(model)
        XCTAssertThrowsError(try PEFTAdapterFile.load(into: lora, from: directory)) { e in
            guard case .invalidAdapterFile(path: weightsPath, reason: _)? = e as? LoRAError else { return XCTFail("\(e)") }
        }
        assertUnchanged(model, since: before)
        try bytes.write(to: URL(fileURLWithPath: weightsPath))
        try PEFTAdapterFile.load(into: lora, from: directory)
        model.eval()
        assertClose(withNoGrad { model(input) }, expected, atol: 1e-6)
    }

    /// A PiSSA adapter rewrites base weights when injected; a file that fails must not leave the
    /// residuals behind.
    func testFailedPiSSALoadKeepsTheBaseWeights() throws {
        var pissa = config
        pissa.initialization = .pissa
        _ = try saveAdapter(pissa)
        _ = try editTensors { $0["base_model.model.layers.5.lora_B.weight"] = nil }
        let (model, lora) = try makeTarget()
        let before = ModelSnapshot(model)
        XCTAssertThrowsError(try PEFTAdapterFile.load(into: lora, from: directory))
        assertUnchanged(model, since: before)
    }
}
