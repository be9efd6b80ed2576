import Distributed
import Foundation
import NN
import SafeTensors
import Tensor

/// Settings of a training run.
public struct TrainerConfiguration {
    /// Passes over the training data; or set `maxSteps`.
    public var epochs: Int?
    /// A budget of optimizer steps (takes precedence over `epochs` when both are set).
    public var maxSteps: Int?
    /// Micro-batches whose gradients add up before each optimizer step.
    public var gradientAccumulation: Int
    /// Clip the global gradient norm to this value (nil: no clipping).
    public var clipGradientNorm: Float?
    /// Evaluate every N optimizer steps (nil: not by steps).
    public var evaluateEverySteps: Int?
    /// Evaluate at the end of each epoch.
    public var evaluateEachEpoch: Bool
    /// The run's seed: data order and per-item augmentation follow from it.
    public var seed: UInt64
    /// What identifies the run (the recipe as `key: value`), saved with checkpoints and compared
    /// on resume.
    public var runIdentity: [String: String]
    /// Where checkpoints go (`<dir>/checkpoints`); nil: no checkpoints.
    public var outputDirectory: URL?
    /// The ranks of a data-parallel run: each trains on its shard of every batch (its loaders
    /// carry a `DataShard`), the gradients of the trainable parameters are averaged over the ranks
    /// before each optimizer step, evaluation metrics are reduced, and rank 0 alone writes
    /// checkpoints. `SingleProcess` by default.
    public var communicator: Communicator

    public init(epochs: Int? = 1, maxSteps: Int? = nil, gradientAccumulation: Int = 1,
                clipGradientNorm: Float? = nil, evaluateEverySteps: Int? = nil, evaluateEachEpoch: Bool = true,
                seed: UInt64 = 0, runIdentity: [String: String] = [:], outputDirectory: URL? = nil,
                communicator: Communicator = SingleProcess()) {
        self.communicator = communicator
        self.epochs = epochs
        self.maxSteps = maxSteps
        self.gradientAccumulation = gradientAccumulation
        self.clipGradientNorm = clipGradientNorm
        self.evaluateEverySteps = evaluateEverySteps
        self.evaluateEachEpoch = evaluateEachEpoch
        self.seed = seed
        self.runIdentity = runIdentity
        self.outputDirectory = outputDirectory
    }
}

/// How a run ended.
public struct TrainingSummary {
    public var steps: Int
    public var epochs: Int
    /// Mean training loss of every optimizer step, the resumed part included.
    public var lossHistory: [Double]
    /// The last validation metrics.
    public var metrics: [String: Double]
    /// Why the run stopped before its budget (early stopping…), if it did.
    public var stopReason: String?
    /// The newest checkpoint written, if any.
    public var lastCheckpoint: URL?
}

/// Runs training for any modality: the task turns batches into losses, the trainer does the rest
/// (accumulation, clipping, scheduling, evaluation, hooks, checkpoints and exact resume).
public final class Trainer<Task: TrainingTask, Source: BatchSource> where Source.Batch == Task.Batch {
    public let model: Module
    public let task: Task
    public let optimizer: Optimizer
    public let schedule: LearningRateSchedule
    public let trainData: Source
    public let validationData: Source?
    public let hooks: [TrainerHook]
    public let configuration: TrainerConfiguration
    /// Writes extra files into each checkpoint (e.g. the adapter in PEFT's format).
    public var exportIntoCheckpoint: ((URL) throws -> Void)?

    public let context: TrainerContext
    private var state: TrainerStateRecord
    /// Seconds spent averaging gradients over the ranks, and in how many steps (data-parallel runs).
    public private(set) var allreduceSeconds = 0.0
    public private(set) var allreduceSteps = 0

    public init(model: Module, task: Task, optimizer: Optimizer, schedule: LearningRateSchedule = ConstantMultiplier(),
                trainData: Source, validationData: Source? = nil, hooks: [TrainerHook] = [], configuration: TrainerConfiguration) throws {
        guard configuration.gradientAccumulation >= 1 else {
            throw TrainingError.invalidConfiguration("gradient accumulation must be ≥ 1, got \(configuration.gradientAccumulation)")
        }
        guard configuration.epochs != nil || configuration.maxSteps != nil else {
            throw TrainingError.invalidConfiguration("set epochs or a step budget")
        }
        guard trainData.batchesPerEpoch > 0 else { throw TrainingError.invalidConfiguration("the training data has no batches") }
        self.model = model
        self.task = task
        self.optimizer = optimizer
        self.schedule = schedule
        self.trainData = trainData
        self.validationData = validationData
        self.hooks = hooks
        self.configuration = configuration
        context = TrainerContext(model: model, optimizer: optimizer, control: TrainerControl(),
                                 outputDirectory: configuration.outputDirectory)
        state = TrainerStateRecord(step: 0, epoch: 0, batchInEpoch: 0, seed: configuration.seed, generatorStates: [:],
                                   optimizerScalars: [:], hookStates: [:], runIdentity: configuration.runIdentity,
                                   runHash: runHash(configuration.runIdentity), lossHistory: [])
    }

    /// Optimizer steps per epoch (a partial accumulation group at the end of an epoch still steps).
    public var stepsPerEpoch: Int {
        (trainData.batchesPerEpoch + configuration.gradientAccumulation - 1) / configuration.gradientAccumulation
    }

    public var totalSteps: Int { configuration.maxSteps ?? (configuration.epochs ?? 0) * stepsPerEpoch }

    public var checkpoints: CheckpointStore? {
        configuration.outputDirectory.map { CheckpointStore(directory: $0.appendingPathComponent("checkpoints")) }
    }

    // MARK: - Training

    /// Trains until the budget is spent or a hook stops the run.
    /// - Parameters:
    ///   - resume: a checkpoint directory to continue from (see `CheckpointStore.latest()`).
    ///   - force: resume even if the run's identity (recipe) differs from the checkpoint's.
    public func fit(resumingFrom resume: URL? = nil, force: Bool = false) throws -> TrainingSummary {
        if let resume { try restore(from: resume, force: force) }
        if communicator.writesOutputs { checkpoints?.removeLeftovers() }
        context.totalSteps = totalSteps
        context.batchesPerEpoch = trainData.batchesPerEpoch
        context.step = state.step
        context.epoch = state.epoch
        var lastCheckpoint: URL?
        var failure: Error?
        hooks.forEach { $0.runStarted(context) }
        do {
            outer: while state.step < totalSteps {
                if state.batchInEpoch == 0 { hooks.forEach { $0.epochStarted(context) } }
                let batches = trainData.batches(epoch: state.epoch, startingAt: state.batchInEpoch)
                defer { batches.cancel() }
                while state.step < totalSteps {
                    guard let info = try trainStep(batches) else { break }      // epoch exhausted
                    state.lossHistory.append(info.loss)
                    hooks.forEach { $0.stepEnded(context, info) }
                    if let n = configuration.evaluateEverySteps, state.step % n == 0 { context.control.requestEvaluation() }
                    if context.control.consumeEvaluation() { try evaluateAndNotify() }
                    if context.control.consumeSave() { lastCheckpoint = try saveCheckpoint() }
                    if context.control.stopReason != nil { break outer }
                }
                if state.batchInEpoch >= trainData.batchesPerEpoch {
                    // End of the epoch: evaluation and the epoch hooks see the position of the next epoch.
                    state.epoch += 1
                    state.batchInEpoch = 0
                    context.epoch = state.epoch
                    if configuration.evaluateEachEpoch { try evaluateAndNotify() }
                    hooks.forEach { $0.epochEnded(context) }
                    if context.control.consumeSave() { lastCheckpoint = try saveCheckpoint() }
                    if context.control.stopReason != nil { break outer }
                }
            }
        } catch {
            failure = error
            hooks.forEach { $0.errorOccurred(context, error: error) }
        }
        hooks.forEach { $0.runEnded(context) }
        if let failure { throw failure }
        if let reason = failingReason { throw TrainingError.stopped(reason) }
        return TrainingSummary(steps: state.step, epochs: state.epoch, lossHistory: state.lossHistory,
                               metrics: context.lastMetrics, stopReason: context.control.stopReason,
                               lastCheckpoint: lastCheckpoint)
    }

    private var failingReason: String? { context.control.failureReason }

    private var communicator: Communicator { configuration.communicator }

    /// One optimizer step over up to `gradientAccumulation` micro-batches; nil at the end of the epoch.
    private func trainStep(_ batches: AnyBatchIterator<Source.Batch>) throws -> StepInfo? {
        let start = DispatchTime.now().uptimeNanoseconds
        var lossSum = 0.0, items = 0, micro = 0
        let accumulation = configuration.gradientAccumulation
        model.train()
        hooks.forEach { $0.stepStarted(context) }          // after train(): hooks may switch parts to eval
        while micro < accumulation {
            let batch: Source.Batch?
            do { batch = try batches.next() } catch {
                throw TrainingError.data(epoch: state.epoch, batch: state.batchInEpoch, underlying: error)
            }
            guard let batch else { break }
            let out = try task.run(model, on: batch)
            // Each micro-batch's mean loss counts 1/accumulation, as a larger batch would.
            (out.loss / Float(accumulation)).backward()
            lossSum += Double(out.loss.item)
            items += out.count
            micro += 1
            state.batchInEpoch += 1
        }
        guard micro > 0 else { return nil }
        var loss = lossSum / Double(micro)
        if communicator.isDistributed {
            // Every rank's shard has the same number of items, so the mean of the ranks' mean losses
            // and gradients is those of the whole batch.
            let totals = try communicator.allreduceSum([loss, Double(items)])
            loss = totals[0] / Double(communicator.size)
            items = Int(totals[1])
            let started = DispatchTime.now().uptimeNanoseconds
            try averageGradients()
            allreduceSeconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            allreduceSteps += 1
        }
        let gradients = gradientInfo()
        hooks.forEach { $0.beforeOptimizerStep(context, loss: loss, gradients: gradients) }
        let skipped = context.control.consumeSkip()
        let multiplier = schedule.multiplier(step: state.step)
        if skipped == nil {
            if let maxNorm = configuration.clipGradientNorm { clipGradientNorm(optimizer.groups, maxNorm: maxNorm) }
            optimizer.learningRateMultiplier = multiplier
            optimizer.step()
        }
        optimizer.zeroGrad()
        state.step += 1
        context.step = state.step
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return StepInfo(step: state.step, epoch: state.epoch, loss: loss,
                        learningRate: Double(optimizer.groups.first.map { $0.learningRate * multiplier } ?? 0),
                        itemsPerSecond: Double(items) / max(seconds, 1e-9), items: items,
                        gradientNorm: gradients.norm, skipped: skipped != nil, seconds: seconds)
    }

    /// Replaces every trainable parameter's gradient by its mean over the ranks: one allreduce per
    /// bucket of up to `bucketFloats` values (a parameter without a gradient on this rank counts
    /// as zeros, so that every rank packs the same layout).
    private func averageGradients() throws {
        let parameters = optimizer.groups.flatMap { $0.parameters.compactMap { $0.slot.tensor } }
        let scale = 1 / Float(communicator.size)
        var start = 0
        while start < parameters.count {
            var end = start, floats = 0
            while end < parameters.count && (end == start || floats + parameters[end].count <= Self.bucketFloats) {
                floats += parameters[end].count
                end += 1
            }
            var bucket = [Float](repeating: 0, count: floats)
            var offset = 0
            for p in parameters[start..<end] {
                if let g = p.grad?.plain() {
                    g.withUnsafeMutableFloats { src in
                        for i in 0..<src.count { bucket[offset + i] = src[i] }
                    }
                }
                offset += p.count
            }
            try bucket.withUnsafeMutableBufferPointer { try communicator.allreduceSum($0) }
            offset = 0
            for p in parameters[start..<end] {
                p.setGrad(Tensor(bucket[offset..<(offset + p.count)].map { $0 * scale }, shape: p.shape))
                offset += p.count
            }
            start = end
        }
    }

    /// Values per gradient allreduce (16 MiB).
    static var bucketFloats: Int { 4 << 20 }

    private func gradientInfo() -> GradientInfo {
        var sum = 0.0
        var bad: [String] = []
        for group in optimizer.groups {
            for (key, slot) in group.parameters {
                guard let g = slot.tensor?.grad?.plain() else { continue }
                var s = 0.0
                var finite = true
                g.withUnsafeMutableFloats { buf in
                    for v in buf { if !v.isFinite { finite = false }; s += Double(v) * Double(v) }
                }
                if !finite { bad.append(key) }
                sum += s
            }
        }
        return GradientInfo(norm: bad.isEmpty ? sum.squareRoot() : .nan, nonFiniteKeys: bad)
    }

    // MARK: - Evaluation

    /// Mean loss and the metrics over the validation data, in evaluation mode without gradients.
    public func evaluate() throws -> [String: Double] {
        guard let validationData else { return [:] }
        return try evaluateModel(model, task: task, data: validationData, communicator: communicator)
    }

    private func evaluateAndNotify() throws {
        guard validationData != nil else { return }
        let metrics = try evaluate()
        context.lastMetrics = metrics
        context.lastEvaluationStep = state.step
        hooks.forEach { $0.validationEnded(context, metrics: metrics) }
    }

    // MARK: - Checkpoints

    /// Writes a checkpoint of the current state (trainable parameters and buffers, optimizer
    /// moments, RNG states, data position, hook states, run identity) and tells the hooks.
    @discardableResult
    public func saveCheckpoint() throws -> URL {
        guard let store = checkpoints else {
            throw TrainingError.invalidConfiguration("a checkpoint needs an output directory")
        }
        hooks.forEach { $0.checkpointWillSave(context) }
        var record = state
        record.generatorStates = model.generatorStates()
        if communicator.isDistributed {
            // Every rank's RNG states, so that each resumes its own; rank 0 alone writes.
            let encoded = try communicator.allgather(Array(try JSONEncoder().encode(record.generatorStates)))
            record.rankGeneratorStates = try encoded.map { try JSONDecoder().decode([String: [UInt64]].self, from: Data($0)) }
            guard communicator.writesOutputs else {
                try communicator.barrier()
                return store.directory.appendingPathComponent(CheckpointStore.name(step: state.step))
            }
        }
        let optimizerState = optimizer.state()
        record.optimizerScalars = optimizerState.scalars
        record.hookStates = hookStates()
        let values = trainableState()
        let url = try store.save(step: state.step) { dir in
            try SafeTensors.write(values, to: dir.appendingPathComponent(CheckpointStore.modelFile).path)
            try SafeTensors.write(optimizerState.tensors, to: dir.appendingPathComponent(CheckpointStore.optimizerFile).path)
            try exportIntoCheckpoint?(dir.appendingPathComponent(CheckpointStore.adapterDirectory))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity",
                                                                          negativeInfinity: "-Infinity", nan: "NaN")
            try encoder.encode(record).write(to: dir.appendingPathComponent(CheckpointStore.stateFile))
        }
        if communicator.isDistributed { try communicator.barrier() }     // written before any rank goes on
        hooks.forEach { $0.checkpointSaved(context, directory: url) }
        return url
    }

    /// Trainable parameters and every buffer (batch-norm statistics change in training even when
    /// their layer is frozen).
    private func trainableState() -> [String: Tensor] {
        var values: [String: Tensor] = [:]
        for (k, slot) in model.namedParameterSlots() where slot.isTrainable { values[k] = slot.tensor }
        for (k, b) in model.namedBufferSlots() { values[k] = b.tensor }
        return values
    }

    private func hookStates() -> [String: [String: Double]] {
        var out: [String: [String: Double]] = [:]
        for (i, hook) in hooks.enumerated() { if let s = hook.savedState() { out["\(i).\(type(of: hook))"] = s } }
        return out
    }

    /// Restores a checkpoint written by `saveCheckpoint`.
    public func restore(from directory: URL, force: Bool = false) throws {
        let stateURL = directory.appendingPathComponent(CheckpointStore.stateFile)
        let record: TrainerStateRecord
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "Infinity",
                                                                        negativeInfinity: "-Infinity", nan: "NaN")
        do { record = try decoder.decode(TrainerStateRecord.self, from: Data(contentsOf: stateURL)) } catch {
            throw TrainingError.checkpoint(path: stateURL.path, reason: "\(error)")
        }
        if record.runHash != runHash(configuration.runIdentity) && !force {
            let keys = Set(record.runIdentity.keys).union(configuration.runIdentity.keys).sorted()
            let changes = keys.compactMap { k -> String? in
                let old = record.runIdentity[k], new = configuration.runIdentity[k]
                return old == new ? nil : "\(k): \(old ?? "(none)") → \(new ?? "(none)")"
            }
            throw TrainingError.runChanged(checkpoint: directory.path, changes: changes)
        }
        do {
            let values = try SafeTensorsFile(path: directory.appendingPathComponent(CheckpointStore.modelFile).path).tensors()
            let expected = Set(model.namedParameterSlots().filter { $0.slot.isTrainable }.map(\.key)
                               + model.namedBufferSlots().map(\.key))
            let missing = expected.subtracting(values.keys).sorted()
            guard missing.isEmpty else { throw ModuleError.missingKeys(missing) }
            try model.load(values, strict: false)
            let tensors = try SafeTensorsFile(path: directory.appendingPathComponent(CheckpointStore.optimizerFile).path).tensors()
            try optimizer.load(OptimizerState(tensors: tensors, scalars: record.optimizerScalars))
            if let ranks = record.rankGeneratorStates {
                guard ranks.count == communicator.size else {
                    throw TrainingError.checkpoint(path: directory.path, reason: "written by \(ranks.count) ranks, resumed by \(communicator.size): "
                        + "resume with as many ranks (each resumes its own RNG streams and data shard)")
                }
                try model.restoreGeneratorStates(ranks[communicator.rank])
            } else if communicator.isDistributed {
                throw TrainingError.checkpoint(path: directory.path, reason: "written by one process, resumed by \(communicator.size) ranks: "
                    + "resume with as many ranks")
            } else {
                try model.restoreGeneratorStates(record.generatorStates)
            }
        } catch let error as TrainingError {
            throw error
        } catch {
            throw TrainingError.checkpoint(path: directory.path, reason: "\(error)")
        }
        for (i, hook) in hooks.enumerated() {
            if let s = record.hookStates["\(i).\(type(of: hook))"] { hook.restore(s) }
        }
        var restored = record
        restored.runIdentity = configuration.runIdentity
        restored.runHash = runHash(configuration.runIdentity)
        state = restored
    }
}

/// A schedule of 1 at every step.
public struct ConstantMultiplier: LearningRateSchedule {
    public init() {}
    public func multiplier(step: Int) -> Float { 1 }
}

/// Mean loss and the task's metrics of `model` over `data` (epoch 0, in order), in evaluation
/// mode without gradients; the model's mode is restored afterwards.
///
/// Distributed (`communicator` of several ranks) when the task's predictions are `Codable`
/// (`evaluationIsShardable`): each rank evaluates its shard of `data` (a loader with an unpadded
/// `DataShard`), then every rank gathers every rank's predictions and adds them in rank order, so
/// that all ranks hold the same metrics (early stopping and "best" decide alike). Otherwise
/// `data` must be whole on every rank, and each evaluates all of it.
public func evaluateModel<Task: TrainingTask, Source: BatchSource>(
    _ model: Module, task: Task, data: Source, communicator: Communicator = SingleProcess()
) throws -> [String: Double] where Source.Batch == Task.Batch {
    let wasTraining = model.isTraining
    model.eval()
    defer { model.train(wasTraining) }
    let gathers = communicator.isDistributed && evaluationIsShardable(Task.self)
    var evaluation = task.makeEvaluation()
    var gathered: [Task.Evaluation.Predictions] = []
    var lossSum = 0.0, count = 0
    let batches = data.batches(epoch: 0, startingAt: 0)
    defer { batches.cancel() }
    var index = 0
    while true {
        let batch: Source.Batch?
        do { batch = try batches.next() } catch { throw TrainingError.data(epoch: 0, batch: index, underlying: error) }
        guard let batch else { break }
        let out = try withNoGrad { try task.run(model, on: batch) }
        lossSum += Double(out.loss.item) * Double(out.count)
        count += out.count
        if let predictions = out.predictions {
            if gathers { gathered.append(predictions) } else { evaluation.add(predictions) }
        }
        index += 1
    }
    if gathers {
        let totals = try communicator.allreduceSum([lossSum, Double(count)])
        (lossSum, count) = (totals[0], Int(totals[1]))
        for bytes in try communicator.allgather(try PredictionCoding.encode(gathered)) {
            for p in try PredictionCoding.decode(bytes, as: Task.Evaluation.Predictions.self) { evaluation.add(p) }
        }
    }
    var result = evaluation.values()
    result["loss"] = count > 0 ? lossSum / Double(count) : .nan
    return result
}

/// Whether `Task`'s evaluation can be sharded over ranks: its predictions are `Codable`, so that
/// ranks can exchange them.
public func evaluationIsShardable<Task: TrainingTask>(_ task: Task.Type) -> Bool {
    [Task.Evaluation.Predictions].self is any Codable.Type
}

/// Predictions as bytes between ranks (JSON; non-finite numbers as strings).
enum PredictionCoding {
    static func encode<P>(_ list: [P]) throws -> [UInt8] {
        guard let value = list as? any Encodable else { throw DistributedError("\(P.self) is not Encodable") }
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return Array(try encoder.encode(value))
    }

    static func decode<P>(_ bytes: [UInt8], as: P.Type) throws -> [P] {
        guard let type = [P].self as? any Decodable.Type else { throw DistributedError("\(P.self) is not Decodable") }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        guard let list = try decoder.decode(type, from: Data(bytes)) as? [P] else { throw DistributedError("predictions of another type") }
        return list
    }
}
