import Foundation
import NN
import SafeTensors
import TestSupport
import XCTest

/// A layer of another kind that declares a buffer with a default, as a plugin would.
private final class Counting: Module {
    @Parameter var weight = Tensor.zeros([2])
    @Buffer(key: "updates", default: Tensor(indices: [7], shape: [])) var updates = Tensor(indices: [3], shape: [])
    @Buffer(key: "scale") var scale = Tensor.ones([2])
}

/// Loading checkpoints that lack buffers with a documented default (`@Buffer(…, default:)`):
/// torchvision's and timm's ImageNet ResNet files carry no `num_batches_tracked`.
final class BufferDefaultTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("nn-defaults-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// conv → batch norm, keyed `0.*` and `1.*` as PyTorch's `nn.Sequential`.
    private func makeModel() -> Sequential {
        var rng = RandomGenerator(seed: 3)
        return Sequential(Conv2d(2, 3, kernelSize: 1, bias: false, generator: &rng), BatchNorm2d(3))
    }

    /// A checkpoint of the model's keys without `1.num_batches_tracked`, values chosen here.
    private func checkpoint() -> [String: Tensor] {
        [
            "0.weight": Tensor((0..<6).map { Float($0) / 10 }, shape: [3, 2, 1, 1]),
            "1.weight": Tensor([1.5, 2.5, 3.5]),
            "1.bias": Tensor([-1, 0, 1]),
            "1.running_mean": Tensor([0.25, 0.5, 0.75]),
            "1.running_var": Tensor([2, 3, 4]),
        ]
    }

    /// The model after one training step, so that its counter is not already the default.
    private func trainedModel() -> Sequential {
        let model = makeModel()
        model.train()
        _ = model(randomTensor([2, 2, 3, 3], seed: 1))
        return model
    }

    private func batchNorm(_ model: Sequential) throws -> BatchNorm2d {
        try XCTUnwrap(model.layers[1] as? BatchNorm2d)
    }

    func testStrictLoadOfAFileWithoutNumBatchesTrackedFillsZero() throws {
        let model = trainedModel()
        XCTAssertEqual(try batchNorm(model).batchesTracked.indexScalars, [1])
        let path = directory.appendingPathComponent("torchvision-style.safetensors").path
        let values = checkpoint()
        try SafeTensors.write(values, to: path)
        XCTAssertNil(try SafeTensorsFile(path: path).info("1.num_batches_tracked"))

        try model.loadSafeTensors(path: path, strict: true)

        let state = model.stateDict()
        for (key, expected) in values { assertClose(try XCTUnwrap(state[key]), expected, atol: 0, rtol: 0, key) }
        let tracked = try batchNorm(model).batchesTracked
        XCTAssertEqual(tracked.shape, [])
        XCTAssertEqual(tracked.dtype, .int64)
        XCTAssertEqual(tracked.indexScalars, [0])
    }

    func testNonStrictLoadFillsTheDefaultOfAModuleItCovers() throws {
        let model = trainedModel()
        var values = checkpoint()
        values["extra.weight"] = Tensor([1])                                 // skipped, not an error
        try model.load(values, strict: false)
        XCTAssertEqual(try batchNorm(model).batchesTracked.indexScalars, [0])
        assertClose(try batchNorm(model).runningVar, Tensor([2, 3, 4]), atol: 0, rtol: 0)
    }

    func testNonStrictLoadLeavesTheBuffersOfModulesItDoesNotTouch() throws {
        let model = trainedModel()
        let mean = try batchNorm(model).runningMean.scalars
        try model.load(["0.weight": Tensor([Float](repeating: 1, count: 6), shape: [3, 2, 1, 1])], strict: false)
        XCTAssertEqual(try batchNorm(model).batchesTracked.indexScalars, [1])
        XCTAssertEqual(try batchNorm(model).runningMean.scalars, mean)
    }

    func testAMissingRunningMeanIsStillAnErrorAndChangesNothing() throws {
        let model = trainedModel()
        let before = model.stateDict()
        var values = checkpoint()
        values["1.running_mean"] = nil
        XCTAssertThrowsError(try model.load(values, strict: true)) { error in
            XCTAssertEqual(error as? ModuleError, .missingKeys(["1.running_mean"]))
        }
        let after = model.stateDict()
        XCTAssertEqual(after.keys.sorted(), before.keys.sorted())
        for (key, value) in before { XCTAssertEqual(after[key]?.scalars, value.scalars, key) }
    }

    func testAnyLayerCanDeclareADefaultAndRequiredBuffersStayRequired() throws {
        let layer = Counting()
        try layer.load(["weight": Tensor([1, 2]), "scale": Tensor([5, 6])])
        XCTAssertEqual(layer.updates.indexScalars, [7], "the declared default, not the initial value 3")
        XCTAssertEqual(layer.scale.scalars, [5, 6])
        XCTAssertThrowsError(try layer.load(["weight": Tensor([1, 2])])) { error in
            XCTAssertEqual(error as? ModuleError, .missingKeys(["scale"]))
        }
    }
}
