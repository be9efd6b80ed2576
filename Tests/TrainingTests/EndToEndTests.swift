import Foundation
import LoRA
import NN
import TestSupport
import Training
import Demos
import XCTest

/// Trains a LoRA-adapted convolutional network on a task its frozen random base cannot solve, with
/// early stopping and checkpointing on, and checks that it learns.
final class EndToEndTests: XCTestCase {
    typealias Loader = DataLoader<SyntheticPatterns, ClassificationBatch>

    static func loaders(seed: UInt64) -> (train: Loader, validation: Loader) {
        let train = DataLoader(dataset: SyntheticPatterns(count: 192, seed: 1), batchSize: 16, seed: seed,
                               collate: ClassificationBatch.collate)
        let validation = DataLoader(dataset: SyntheticPatterns(count: 64, seed: 2), batchSize: 32, shuffle: false,
                                    collate: ClassificationBatch.collate)
        return (train, validation)
    }

    func testLoRATrainingLearnsWhatTheFrozenBaseCannot() throws {
        let out = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("lorakit-e2e-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        let model = TinyConvNet(seed: 3)
        let lora = LoRAModel(wrapping: model)
        var rng = RandomGenerator(seed: 4)
        let report = try lora.addAdapter(config: LoRAConfig(rank: 4, alpha: 8, targetModules: ["conv1", "conv2"],
                                                            modulesToSave: ["head"]), generator: &rng)
        XCTAssertEqual(report.layers.count, 2)
        let (train, validation) = Self.loaders(seed: 5)
        let optimizer = try AdamW(parameters: model.trainableParameters(), learningRate: 1e-2, weightDecay: 0)
        let checkpointing = Checkpointing(everySteps: nil, eachEpoch: true, keepBest: 1, monitor: "accuracy", mode: .max)
        let early = EarlyStopping(monitor: "loss", patience: 2)
        let timer = TimerHook()
        let trainer = try Trainer(model: model, task: ClassificationTask(classCount: 4, metrics: { [Accuracy(), MacroF1()] }),
                                  optimizer: optimizer, schedule: try CosineSchedule(warmupSteps: 4, totalSteps: 60),
                                  trainData: train, validationData: validation,
                                  hooks: [NonFiniteGuard(), early, checkpointing, timer, MetricsLogger(directory: out)],
                                  configuration: TrainerConfiguration(epochs: 5, seed: 5, outputDirectory: out))
        trainer.exportIntoCheckpoint = { dir in try PEFTAdapterFile.save(lora, adapter: "default", to: dir.path) }
        let before = try trainer.evaluate()
        let summary = try trainer.fit()
        let after = summary.metrics

        // Stated gains: the loss falls by at least 3×, accuracy beats chance (0.25) by 0.4.
        XCTAssertLessThan(after["loss"]!, before["loss"]! / 3, "loss \(before["loss"]!) → \(after["loss"]!)")
        XCTAssertGreaterThan(after["accuracy"]!, 0.25 + 0.4)
        XCTAssertLessThan(before["accuracy"]!, 0.25 + 0.2, "the frozen random base should be near chance")
        XCTAssertEqual(summary.lossHistory.count, summary.steps)
        XCTAssertGreaterThan(timer.meanStepSeconds, 0)

        // Checkpoints: the best by accuracy and the last are kept, each complete, with the adapter.
        let store = CheckpointStore(directory: out.appendingPathComponent("checkpoints"))
        let latest = try XCTUnwrap(store.latest())
        XCTAssertLessThanOrEqual(store.all().count, 2)
        for name in [CheckpointStore.modelFile, CheckpointStore.optimizerFile, CheckpointStore.stateFile,
                     CheckpointStore.adapterDirectory + "/" + PEFTAdapterFile.configName] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: latest.appendingPathComponent(name).path), name)
        }
        let lines = try String(contentsOf: out.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n")
        XCTAssertEqual(lines.filter { $0.contains("\"event\":\"step\"") }.count, summary.steps)

        // The saved adapter reproduces the trained model's validation accuracy on a fresh base.
        let fresh = TinyConvNet(seed: 3)
        try PEFTAdapterFile.load(into: LoRAModel(wrapping: fresh), from: latest.appendingPathComponent("adapter").path)
        let check = try Trainer(model: fresh, task: ClassificationTask(classCount: 4, metrics: { [Accuracy()] }),
                                optimizer: try AdamW(parameters: fresh.trainableParameters(), learningRate: 0),
                                trainData: train, validationData: validation,
                                configuration: TrainerConfiguration(epochs: 1))
        XCTAssertEqual(try check.evaluate()["accuracy"]!, after["accuracy"]!, accuracy: 1e-9)
    }

    func testSameSeedGivesTheSameLossCurve() throws {
        func run() throws -> [Double] {
            let model = TinyConvNet(seed: 3)
            var rng = RandomGenerator(seed: 4)
            try LoRAModel(wrapping: model).addAdapter(config: LoRAConfig(rank: 2, alpha: 4, dropout: 0.1,
                                                                         targetModules: ["conv1", "conv2"],
                                                                         modulesToSave: ["head"]), generator: &rng)
            let (train, _) = Self.loaders(seed: 9)
            let trainer = try Trainer(model: model, task: ClassificationTask(classCount: 4),
                                      optimizer: try AdamW(parameters: model.trainableParameters(), learningRate: 1e-2),
                                      trainData: train, configuration: TrainerConfiguration(epochs: nil, maxSteps: 8, seed: 9))
            return try trainer.fit().lossHistory
        }
        let a = try run(), b = try run()
        XCTAssertEqual(a.count, 8)
        XCTAssertEqual(a, b)
    }

    func testNonFiniteGuardStopsWithWhereOrSkips() throws {
        let model = TinyConvNet(seed: 3)
        let (train, _) = Self.loaders(seed: 1)
        // A loss that becomes NaN at the third step.
        var calls = 0
        let task = ClassificationTask(classCount: 4) { m, x in
            calls += 1
            let y = (m as! TinyConvNet)(x)
            return calls == 3 ? y * Float.nan : y
        }
        func trainer(_ policy: NonFiniteGuard.Policy, _ guardHook: NonFiniteGuard) throws -> Trainer<ClassificationTask, Loader> {
            try Trainer(model: model, task: task, optimizer: try SGD(parameters: model.trainableParameters(), learningRate: 0.01),
                        trainData: train, hooks: [guardHook], configuration: TrainerConfiguration(epochs: nil, maxSteps: 5))
        }
        let stop = NonFiniteGuard(policy: .stop)
        XCTAssertThrowsError(try trainer(.stop, stop).fit()) { error in
            XCTAssertTrue("\(error)".contains("loss is nan at step 3"), "\(error)")
        }
        let weights = model.stateDict().mapValues(\.scalars)
        calls = 0
        let skip = NonFiniteGuard(policy: .skip)
        let summary = try trainer(.skip, skip).fit()
        XCTAssertEqual(summary.steps, 5)
        XCTAssertEqual(skip.skippedSteps.map(\.step), [3])
        for (k, v) in model.stateDict() { XCTAssertTrue(v.scalars.allSatisfy(\.isFinite), k); _ = weights }
    }

    func testEarlyStoppingStopsAfterPatience() throws {
        let hook = EarlyStopping(monitor: "loss", patience: 2, minDelta: 0.1)
        let model = TinyConvNet(seed: 1)
        let context = TrainerContext(model: model, optimizer: try SGD(parameters: model.trainableParameters(), learningRate: 0.1),
                                     control: TrainerControl(), outputDirectory: nil)
        hook.validationEnded(context, metrics: ["loss": 1.0])
        hook.validationEnded(context, metrics: ["loss": 0.95])   // not better by 0.1
        XCTAssertNil(context.control.stopReason)
        hook.validationEnded(context, metrics: ["loss": 0.5])    // better: resets
        hook.validationEnded(context, metrics: ["loss": 0.45])
        hook.validationEnded(context, metrics: ["loss": 0.6])
        XCTAssertNotNil(context.control.stopReason)
    }

    func testResumingWithAChangedRunIsRefusedNamingTheChange() throws {
        let out = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("lorakit-resume-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        let (train, _) = Self.loaders(seed: 1)
        func make(_ identity: [String: String]) throws -> Trainer<ClassificationTask, Loader> {
            let model = TinyConvNet(seed: 3)
            return try Trainer(model: model, task: ClassificationTask(classCount: 4),
                               optimizer: try AdamW(parameters: model.trainableParameters(), learningRate: 1e-3),
                               trainData: train,
                               configuration: TrainerConfiguration(epochs: nil, maxSteps: 2, runIdentity: identity,
                                                                   outputDirectory: out))
        }
        let first = try make(["lora.rank": "8", "train.lr": "0.001"])
        _ = try first.fit()
        let checkpoint = try first.saveCheckpoint()
        XCTAssertThrowsError(try make(["lora.rank": "16", "train.lr": "0.001"]).fit(resumingFrom: checkpoint)) { error in
            XCTAssertTrue("\(error)".contains("lora.rank: 8 → 16"), "\(error)")
        }
        XCTAssertNoThrow(try make(["lora.rank": "16", "train.lr": "0.001"]).fit(resumingFrom: checkpoint, force: true))
    }
}
