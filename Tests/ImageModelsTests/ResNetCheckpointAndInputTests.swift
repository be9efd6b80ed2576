import Foundation
import ImageModels
import NN
import SafeTensors
import Tensor
import TestSupport
import XCTest

/// What a ResNet accepts from outside: torchvision/timm checkpoints saved without
/// `num_batches_tracked`, and batches checked against its first layer before they run.
final class ResNetCheckpointAndInputTests: XCTestCase {
    func testACheckpointWithoutNumBatchesTrackedLoadsStrictlyWithCountersAtZero() throws {
        let model = ResNet.forLoading(configuration: .resnet18, classes: 4)
        // One training forward, so that every counter is 1 and a fill of 0 is visible.
        model.train()
        _ = model(FormulaWeights.input([2, 3, 32, 32]))
        XCTAssertEqual(model.stateDict()["layer4.1.bn2.num_batches_tracked"]?.indexScalars, [1])

        var state = FormulaWeights.stateDict(for: ResNet.forLoading(configuration: .resnet18, classes: 4))
        let counters = state.keys.filter { $0.hasSuffix(".num_batches_tracked") }
        XCTAssertEqual(counters.count, 20, "bn1, two per basic block, three downsample norms")
        for key in counters { state[key] = nil }
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("resnet18-no-counters-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafeTensors.write(state, metadata: ["format": "pt"], to: path)

        try model.loadSafeTensors(path: path, strict: true)

        let loaded = model.stateDict()
        for (key, expected) in state {
            assertClose(try XCTUnwrap(loaded[key], key), expected, atol: 0, rtol: 0, key)
        }
        for key in counters {
            XCTAssertEqual(loaded[key]?.indexScalars, [0], key)
            XCTAssertEqual(loaded[key]?.dtype, .int64, key)
        }
    }

    func testACheckpointWithoutARunningMeanIsRefusedNamingIt() throws {
        let model = ResNet.forLoading(configuration: .resnet18, classes: 4)
        var state = FormulaWeights.stateDict(for: model)
        state["layer2.0.downsample.1.running_mean"] = nil
        XCTAssertThrowsError(try model.load(state)) { error in
            XCTAssertEqual(error as? ModuleError, .missingKeys(["layer2.0.downsample.1.running_mean"]))
        }
    }

    func testValidateNamesTheInputAndFirstLayerShapes() throws {
        let model = ResNet.forLoading(configuration: .resnet18, classes: 4)
        XCTAssertNoThrow(try model.validate(inputShape: [2, 3, 1, 1]))
        XCTAssertThrowsError(try model.validate(inputShape: [2, 1, 32, 32])) { error in
            guard case let .shapeMismatch(operation, lhs, rhs)? = error as? TensorError else {
                return XCTFail("expected a shape mismatch, got \(error)")
            }
            XCTAssertTrue(operation.hasPrefix("conv2d"), operation)
            XCTAssertEqual(lhs, [2, 1, 32, 32])
            XCTAssertEqual(rhs, [64, 3, 7, 7])
            XCTAssertTrue("\(error)".contains("[2, 1, 32, 32]") && "\(error)".contains("[64, 3, 7, 7]"), "\(error)")
        }
        XCTAssertThrowsError(try model.validate(inputShape: [2, 3, 32])) { error in
            XCTAssertEqual(error as? TensorError,
                           .invalidShape(operation: "conv2d", shape: [2, 3, 32], reason: "the input must be [N, C, H, W]"))
        }
        XCTAssertThrowsError(try model.validate(inputShape: [0, 3, 32, 32])) { error in
            guard case .invalidShape(_, [0, 3, 32, 32], _)? = error as? TensorError else {
                return XCTFail("expected an invalid shape naming the input, got \(error)")
            }
        }
    }
}
