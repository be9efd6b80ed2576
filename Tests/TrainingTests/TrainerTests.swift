import Foundation
import LoRA
import NN
import TestSupport
import Training
import Demos
import XCTest

/// A dataset of fixed items, for trainer unit tests.
struct FixedItems: Dataset {
    var items: [(input: Tensor, label: Int)]
    var count: Int { items.count }
    func item(at index: Int, context: inout ItemContext) throws -> (input: Tensor, label: Int) { items[index] }
}

final class TrainerTests: XCTestCase {
    func data(_ n: Int) -> [(input: Tensor, label: Int)] {
        (0..<n).map { i in (randomTensor([1, 12, 12], seed: UInt64(i)), i % 4) }
    }

    /// Accumulating two micro-batches of 8 gives the update of one batch of 16 (mean losses).
    func testGradientAccumulationEqualsALargerBatch() throws {
        func train(batch: Int, accumulation: Int) throws -> [String: [Float]] {
            let model = TinyConvNet(seed: 1)
            let loader = DataLoader(dataset: FixedItems(items: data(16)), batchSize: batch, shuffle: false,
                                    collate: ClassificationBatch.collate)
            let trainer = try Trainer(model: model, task: ClassificationTask(classCount: 4),
                                      optimizer: try SGD(parameters: model.trainableParameters(), learningRate: 0.1),
                                      trainData: loader,
                                      configuration: TrainerConfiguration(epochs: 1, gradientAccumulation: accumulation))
            XCTAssertEqual(trainer.stepsPerEpoch, 1)
            _ = try trainer.fit()
            return model.stateDict().mapValues(\.scalars)
        }
        let big = try train(batch: 16, accumulation: 1), small = try train(batch: 8, accumulation: 2)
        for (k, v) in big {
            for (a, b) in zip(v, small[k]!) { XCTAssertEqual(a, b, accuracy: 1e-5, k) }
        }
    }

    func testClippingBoundsTheUpdateAndScheduleSetsTheRate() throws {
        let model = TinyConvNet(seed: 2)
        let before = model.stateDict().mapValues { $0.copy() }
        let loader = DataLoader(dataset: FixedItems(items: data(8)), batchSize: 8, shuffle: false,
                                collate: ClassificationBatch.collate)
        let monitor = LearningRateMonitor()
        let trainer = try Trainer(model: model, task: ClassificationTask(classCount: 4),
                                  optimizer: try SGD(parameters: model.trainableParameters(), learningRate: 1),
                                  schedule: try LinearSchedule(warmupSteps: 2, totalSteps: 4), trainData: loader,
                                  hooks: [monitor],
                                  configuration: TrainerConfiguration(epochs: nil, maxSteps: 1, clipGradientNorm: 1e-3))
        _ = try trainer.fit()
        // SGD with lr 1 × warmup multiplier 0 at step 0: nothing moves.
        XCTAssertEqual(monitor.history.first?.rates, [0])
        for (k, v) in model.stateDict() { XCTAssertEqual(v.scalars, before[k]!.scalars, k) }
        // Step 2 of a fresh run: multiplier 0.5; the update's norm is lr·0.5·(clip 1e-3).
        let model2 = TinyConvNet(seed: 2)
        let start = model2.stateDict().mapValues { $0.copy() }
        let t2 = try Trainer(model: model2, task: ClassificationTask(classCount: 4),
                             optimizer: try SGD(parameters: model2.trainableParameters(), learningRate: 1),
                             schedule: try LinearSchedule(warmupSteps: 2, totalSteps: 4), trainData: loader,
                             configuration: TrainerConfiguration(epochs: nil, maxSteps: 2, clipGradientNorm: 1e-3))
        _ = try t2.fit()
        var squared = 0.0
        for (k, v) in model2.stateDict() {
            for (a, b) in zip(v.scalars, start[k]!.scalars) { squared += Double(a - b) * Double(a - b) }
        }
        XCTAssertEqual(squared.squareRoot(), 0.5e-3, accuracy: 1e-5)
    }

    func testProgressBarPrintsPlainLinesWhenNotATerminal() throws {
        var lines: [String] = []
        let model = TinyConvNet(seed: 3)
        let loader = DataLoader(dataset: FixedItems(items: data(8)), batchSize: 2, shuffle: false,
                                collate: ClassificationBatch.collate)
        let trainer = try Trainer(model: model, task: ClassificationTask(classCount: 4),
                                  optimizer: try SGD(parameters: model.trainableParameters(), learningRate: 0.01),
                                  trainData: loader, hooks: [ProgressBar(interval: 2, terminal: false) { lines.append($0) }],
                                  configuration: TrainerConfiguration(epochs: 1))
        _ = try trainer.fit()
        XCTAssertEqual(lines.count, 2)                               // steps 2 and 4 of 4
        XCTAssertTrue(lines[1].hasPrefix("step 4/4 "), lines[1])
        XCTAssertTrue(lines.allSatisfy { $0.hasSuffix("\n") && !$0.contains("\r") })
        XCTAssertTrue(lines[0].contains("loss ") && lines[0].contains("items/s") && lines[0].contains("ETA"))
    }

    func testCheckpointingKeepsBestKAndLast() throws {
        let out = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("lorakit-keep-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        let hook = Checkpointing(everySteps: nil, eachEpoch: true, keepBest: 2, monitor: "accuracy", mode: .max)
        let model = TinyConvNet(seed: 3)
        let context = TrainerContext(model: model, optimizer: try SGD(parameters: model.trainableParameters(), learningRate: 0),
                                     control: TrainerControl(), outputDirectory: out)
        let store = CheckpointStore(directory: out.appendingPathComponent("checkpoints"))
        // Simulate five epochs with these accuracies; save as the trainer would.
        for (step, accuracy) in [(1, 0.5), (2, 0.9), (3, 0.6), (4, 0.8), (5, 0.7)] {
            let url = try store.save(step: step) { dir in try Data("{}".utf8).write(to: dir.appendingPathComponent("trainer_state.json")) }
            let ctx = context
            ctx.lastMetrics = ["accuracy": accuracy]
            ctx.lastEvaluationStep = step                  // evaluated at the checkpoint's own step
            setStep(ctx, step)
            hook.checkpointSaved(ctx, directory: url)
        }
        XCTAssertEqual(store.all().map(\.lastPathComponent), ["step-000002", "step-000004", "step-000005"])
        XCTAssertEqual(hook.bestStep, 2)
        XCTAssertEqual(store.latest()?.lastPathComponent, "step-000005")
    }

    private func setStep(_ context: TrainerContext, _ step: Int) { context.setStepForTesting(step) }
}
