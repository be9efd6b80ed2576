import Distributed
import Foundation
import LoRA
import NN
import Recipes
import SafeTensors
import Tasks
import Tensor
import Training

extension RecipeRun {
    /// Trains per the recipe and writes the output directory: the adapter (LoRA, in PEFT's format)
    /// or the model's weights with what rebuilds it (full fine-tuning, linear probe), checkpoints,
    /// metrics, `summary.json`, the resolved recipe and the task's run files (class names).
    ///
    /// When the recipe monitors a metric and keeps checkpoints (`hooks.checkpoint.keep_best ≥ 1`),
    /// the artifact is the best checkpoint's model unless `hooks.checkpoint.final: last`.
    ///
    /// Under `mpirun` (`Distributed.world()` of several ranks) it trains data-parallel: every rank
    /// holds the model and trains on its shard of each batch (`data.batch_size` per rank), the
    /// gradients are averaged, evaluation is sharded and reduced, and rank 0 alone writes the
    /// output directory. Every rank must run the same recipe (its hash is compared).
    /// - Parameters:
    ///   - resume: continue from the last complete checkpoint in the output directory.
    ///   - force: with `resume`, accept a recipe that differs from the checkpoint's.
    public func train(resume: Bool = false, force: Bool = false) throws -> TrainResult {
        try inRecipePrecision { try train(try task(), resume: resume, force: force) }
    }

    private func train<T: RecipeTask>(_ task: T, resume: Bool, force: Bool) throws -> TrainResult {
        let communicator = try Distributed.world()
        let writes = communicator.writesOutputs
        let log: (String) -> Void = writes ? self.log : { _ in }
        // Threads are process-wide: set for this run, restored after it. Ranks on one machine share
        // its cores.
        let threadsBefore = Threads.count
        if let threads = recipe.train.threads {
            Threads.set(threads)
        } else if communicator.localSize > 1 {
            Threads.set(max(1, ProcessInfo.processInfo.activeProcessorCount / communicator.localSize))
        }
        defer { Threads.set(threadsBefore) }
        if communicator.isDistributed { try checkSameRecipe(communicator) }
        let start = Date()
        let session = try task.makeSession(setup(training: true))
        let model = try session.makeModel(weights: pretrainedWeights)
        let lora = try prepareForTraining(model)
        let module = model.module
        // bf16: the frozen base's convolution and linear weights are held in BF16 only (half their
        // memory). LoRA mode writes no base weight, so their rounding reaches no file; DoRA reads
        // them for its magnitude, so it keeps F32.
        if ComputePrecision.effective == .bfloat16, recipe.train.mode == .lora, recipe.lora?.useDoRA != true {
            let converted = module.storeFrozenWeightsInBF16()
            log("bf16: \(converted) frozen weights held in BF16 (\(converted * 2 / 1_048_576) MiB instead of \(converted * 4 / 1_048_576))")
        }
        let objective = try session.objective(for: model)
        var trainData = loader(try session.dataset(.train), role: .train)
        var validationData = session.hasValidationData ? loader(try session.dataset(.validation), role: .validation) : nil
        let wholeValidation = validationData
        if communicator.isDistributed {
            trainData.shard = DataShard(rank: communicator.rank, ranks: communicator.size, pad: true)
            if evaluationIsShardable(type(of: objective)) {
                validationData?.shard = DataShard(rank: communicator.rank, ranks: communicator.size, pad: false)
            }
            // Dropout draws differ between ranks, as between the items of one larger batch.
            module.reseedGenerators(offset: UInt64(communicator.rank))
            log("data-parallel over \(communicator.size) ranks: \(recipe.data.batchSize) items per rank and step, "
                + "\(recipe.data.batchSize * communicator.size) in all; \(Threads.count) kernel thread\(Threads.count == 1 ? "" : "s") per rank")
        }
        let t = recipe.train
        let stepsPerEpoch = (trainData.batchesPerEpoch + t.gradientAccumulation - 1) / t.gradientAccumulation
        let totalSteps = t.maxSteps ?? (t.epochs ?? 1) * stepsPerEpoch
        let h = recipe.hooks
        let timer = TimerHook()
        let checkpointing = Checkpointing(everySteps: h.checkpoint.everySteps, eachEpoch: h.checkpoint.eachEpoch,
                                          keepBest: h.checkpoint.keepBest, monitor: h.checkpoint.monitor,
                                          mode: h.checkpoint.mode)
        var hooks: [TrainerHook] = [NonFiniteGuard(policy: h.nonFinite), timer]
        if let progress, writes { hooks.insert(ProgressBar(interval: h.progress.interval, output: progress), at: 1) }
        // Frozen batch norms keep the pretrained statistics (the adapter file does not carry them).
        if t.mode != .full { hooks.insert(FrozenBatchNormStatistics(), at: 0) }
        if h.metricsLog && writes { hooks.append(MetricsLogger(directory: output)) }
        if let e = h.earlyStopping {
            hooks.append(EarlyStopping(monitor: e.monitor, mode: e.mode, patience: e.patience, minDelta: e.minDelta))
        }
        for (i, extra) in h.extra.enumerated() {
            let factory = try registry.lookup(Hooks.self, extra.name)
            hooks.append(try factory.make(Options(extra.parameters, owner: "hook \(extra.name)", keyPrefix: "hooks.extra[\(i)]",
                                                  specs: factory.options)))
        }
        hooks.append(checkpointing)
        let configuration = TrainerConfiguration(
            epochs: t.maxSteps == nil ? (t.epochs ?? 1) : nil, maxSteps: t.maxSteps, gradientAccumulation: t.gradientAccumulation,
            clipGradientNorm: t.clipGradNorm.map(Float.init), evaluateEverySteps: recipe.eval.everySteps,
            evaluateEachEpoch: recipe.eval.eachEpoch, seed: t.seed, runIdentity: recipe.flattened(), outputDirectory: output,
            communicator: communicator)
        let trainer = try Trainer(model: module, task: objective, optimizer: try makeOptimizer(module),
                                  schedule: try makeSchedule(totalSteps: totalSteps), trainData: trainData,
                                  validationData: validationData, hooks: hooks, configuration: configuration)
        if let lora {
            trainer.exportIntoCheckpoint = { dir in try PEFTAdapterFile.save(lora, adapter: "default", to: dir.path) }
        }
        var resumeFrom: URL?
        if resume {
            // Rank 0 picks the checkpoint; every rank reads that one (the output directory is shared).
            let latest = try communicator.broadcast(Array((trainer.checkpoints?.latest()?.path ?? "").utf8), root: 0)
            guard !latest.isEmpty else {
                throw RunError("--resume: no complete checkpoint in \(output.appendingPathComponent("checkpoints").path)")
            }
            let url = URL(fileURLWithPath: String(decoding: latest, as: UTF8.self))
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw RunError("--resume: rank \(communicator.rank) cannot read \(url.path), the checkpoint rank 0 resumes from: "
                    + "ranks on other machines need the output directory on a shared file system")
            }
            resumeFrom = url
            log("resuming from \(url.lastPathComponent)")
        }
        if writes {
            try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
            try Data(loaded.yaml().utf8).write(to: output.appendingPathComponent("recipe.yaml"), options: .atomic)
            try session.writeRunFiles(to: output)
        }
        log("training \(recipe.model.architecture) (\(t.mode.rawValue)): \(module.trainableParameterCount) of "
            + "\(module.parameterCount) parameters trainable, \(totalSteps) steps"
            + (ComputePrecision.effective == .bfloat16 ? ", frozen layers in bf16" : ""))
        MemoryPool.resetPeak()
        let summary = try trainer.fit(resumingFrom: resumeFrom, force: force)
        let peak = MemoryPool.peakBytes
        guard writes else {
            return TrainResult(summary: summary, trainableParameters: module.trainableParameterCount, totalParameters: module.parameterCount,
                               meanStepSeconds: timer.meanStepSeconds, seconds: Date().timeIntervalSince(start), peakBytes: peak,
                               artifact: output, final: .last, finalStep: summary.steps, metrics: summary.metrics, threads: Threads.count,
                               started: start)
        }

        // The artifact: the best checkpoint's model, or the last.
        var final = Recipe.FinalArtifact.last
        var finalStep = summary.steps
        var metrics = summary.metrics
        let wantsBest = h.checkpoint.final == .best && h.checkpoint.keepBest >= 1
        // Candidates: the evaluated checkpoints still on disk (a resumed run's records may name
        // pruned ones), and the model as training left it when it was evaluated at its last step.
        let onDisk = Set((trainer.checkpoints?.all() ?? []).compactMap(CheckpointStore.step(of:)))
        let bestCheckpoint = wantsBest ? checkpointing.best(among: onDisk) : nil
        let lastValue = trainer.context.lastEvaluationStep == summary.steps ? summary.metrics[h.checkpoint.monitor] : nil
        let lastIsBest = bestCheckpoint.map { b in
            b.step == summary.steps || lastValue.map { !checkpointing.isBetter(b.value, than: $0) } == true
        } ?? false
        if let validationData = wholeValidation, let best = bestCheckpoint?.step, !lastIsBest, let store = trainer.checkpoints {
            let directory = store.directory.appendingPathComponent(CheckpointStore.name(step: best))
            do {
                try module.load(try SafeTensorsFile(path: directory.appendingPathComponent(CheckpointStore.modelFile).path).tensors(),
                                strict: false)
            } catch {
                throw TrainingError.checkpoint(path: directory.path, reason: "restoring the best checkpoint: \(error)")
            }
            metrics = try evaluateModel(module, task: objective, data: validationData)
            final = .best
            finalStep = best
            log("the best checkpoint by \(h.checkpoint.monitor) is step \(best) (last: \(summary.steps)); writing its model")
        } else if lastIsBest, validationData != nil {
            final = .best
        }
        let artifact: URL
        if let lora {
            artifact = output.appendingPathComponent("adapter")
            try PEFTAdapterFile.save(lora, adapter: "default", to: artifact.path)
            try session.exportAdapter(lora, of: model, to: artifact)
        } else {
            artifact = output.appendingPathComponent("model.safetensors")
            try module.saveSafeTensors(path: artifact.path)
            try model.writeCompanions(to: output)
        }
        let adapterParameters = lora.map { l in
            l.hosts.reduce(0) { $0 + $1.host.adapters.entries.reduce(0) { $0 + $1.module.parameterCount } }
        } ?? 0
        let result = TrainResult(summary: summary, trainableParameters: module.trainableParameterCount,
                                 totalParameters: module.parameterCount - adapterParameters,
                                 meanStepSeconds: timer.meanStepSeconds, seconds: Date().timeIntervalSince(start),
                                 peakBytes: peak, artifact: artifact, final: final, finalStep: finalStep, metrics: metrics,
                                 threads: Threads.count, started: start)
        try writeSummary(result)
        if trainer.allreduceSteps > 0 {
            log(String(format: "gradient allreduce: %.2f ms per step (%d ranks, %d trainable values)",
                       1000 * trainer.allreduceSeconds / Double(trainer.allreduceSteps), communicator.size, module.trainableParameterCount))
        }
        return result
    }

    /// Refuses to train data-parallel when the ranks' recipes (resolved, overrides included) differ.
    func checkSameRecipe(_ communicator: Communicator) throws {
        let hashes = try communicator.allgather(Array(runHash(recipe.flattened()).utf8)).map { String(decoding: $0, as: UTF8.self) }
        let differing = hashes.indices.filter { hashes[$0] != hashes[0] }
        guard differing.isEmpty else {
            throw RunError("the recipe of rank\(differing.count > 1 ? "s" : "") \(differing.map(String.init).joined(separator: ", ")) differs from "
                + "rank 0's (hash \(hashes[differing[0]].prefix(12)) against \(hashes[0].prefix(12))): every rank must train the same recipe")
        }
    }

    /// Sets which parameters train for the recipe's mode; returns the LoRA wrapper in LoRA mode.
    func prepareForTraining<M: TaskModel>(_ model: M) throws -> LoRAModel? {
        let module = model.module
        switch recipe.train.mode {
        case .full:
            module.unfreeze()
            return nil
        case .linearProbe:
            guard !model.headKeys.isEmpty else {
                throw located("train.mode", "linear_probe trains the head alone, and \(recipe.model.architecture) has none")
            }
            module.freeze()
            module.unfreeze(keys: model.headKeys.map { $0 + "." })
            return nil
        case .lora:
            guard let settings = recipe.lora else { throw located("lora", "train.mode lora needs a lora section") }
            let lora = LoRAModel(wrapping: module)
            var rng = RandomGenerator(seed: recipe.train.seed &+ 17)
            try lora.addAdapter("default", config: try loraConfig(settings, headKeys: model.headKeys), generator: &rng)
            if let source = recipe.train.initAdapter { try startAdapter(lora, from: source) }
            return lora
        }
    }

    /// Sets the run's adapter's factors to those of the PEFT adapter in `directory` (transfer of
    /// LoRA factors): every adapted layer must have them there, with the same shapes (the same
    /// ranks and targets); the saved modules of that adapter (a head for its own task) are not taken.
    func startAdapter(_ lora: LoRAModel, from directory: String) throws {
        let path = URL(fileURLWithPath: directory).appendingPathComponent(PEFTAdapterFile.weightsName).path
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(path: path) } catch { throw located("train.init_adapter", "\(error)") }
        var copied = 0
        for (key, host) in lora.hosts {
            guard let adapter = host.adapters["default"] else { continue }
            var values: [String: Tensor] = [:]
            for (name, current) in adapter.stateDict() {
                let stored = PEFTAdapterFile.prefix + key + "." + name
                guard file.names.contains(stored) else {
                    throw located("train.init_adapter", "\(path) has no \(stored): it adapts other layers than lora.target_modules")
                }
                let tensor = try file.tensor(named: stored)
                guard tensor.shape == current.shape else {
                    throw located("train.init_adapter", "\(stored) is \(tensor.shape) in \(path), the run's is \(current.shape) "
                                  + "(lora.rank, rank_pattern)")
                }
                values[name] = tensor
            }
            try adapter.load(values, strict: true)
            copied += values.count
        }
        log("started the adapter from \(directory) (\(copied) tensors)")
    }

    /// A loader of a split with the recipe's batch sizes, shuffling the training split only.
    func loader<Item, Batch>(_ data: TaskDataset<Item, Batch>, role: DataRole) -> DataLoader<TaskDataset<Item, Batch>, Batch> {
        let d = recipe.data
        return DataLoader(dataset: data, batchSize: role == .train ? d.batchSize : d.evalBatchSize, shuffle: role == .train,
                          seed: recipe.train.seed, prefetch: d.prefetch, readThreads: d.readThreads, lengths: data.lengths,
                          collate: data.collate)
    }

    func makeOptimizer(_ model: Module) throws -> Optimizer {
        let o = recipe.train.optimizer
        let groups = try ParameterGroup.grouping(model.trainableParameters(), rules: o.parameterGroupRules(),
                                                 learningRate: Float(o.learningRate), weightDecay: Float(o.weightDecay))
        switch o.name {
        case .adamw:
            return try AdamW(groups: groups, beta1: Float(o.beta1), beta2: Float(o.beta2), epsilon: Float(o.epsilon))
        case .sgd:
            return try SGD(groups: groups, momentum: Float(o.momentum), nesterov: o.nesterov)
        }
    }

    /// The recipe's schedule over `totalSteps`; a setting that does not fit the run's length (more
    /// warm-up steps than steps) is an error at its key.
    func makeSchedule(totalSteps: Int) throws -> LearningRateSchedule {
        do { return try schedule(totalSteps: totalSteps) } catch let error as ScheduleError {
            let key = recipe.train.scheduler.warmupSteps > totalSteps ? "train.scheduler.warmup_steps" : "train.scheduler"
            throw located(key, "\(error) (the run has \(totalSteps) optimizer steps)")
        }
    }

    private func schedule(totalSteps: Int) throws -> LearningRateSchedule {
        let s = recipe.train.scheduler
        switch s.name {
        case .constant: return try ConstantSchedule(warmupSteps: s.warmupSteps)
        case .step: return try StepSchedule(stepSize: s.stepSize ?? max(1, totalSteps / 3), gamma: Float(s.gamma))
        case .linear: return try LinearSchedule(warmupSteps: s.warmupSteps, totalSteps: totalSteps)
        case .cosine: return try CosineSchedule(warmupSteps: s.warmupSteps, totalSteps: totalSteps, minMultiplier: Float(s.minLRRatio))
        }
    }

    private func writeSummary(_ r: TrainResult) throws {
        var object: [String: JSONValue] = [
            "steps": .integer(r.summary.steps), "epochs": .integer(r.summary.epochs),
            "metrics": .object(r.metrics.filter { $0.value.isFinite }.mapValues { .number($0) }),
            "last_metrics": .object(r.summary.metrics.filter { $0.value.isFinite }.mapValues { .number($0) }),
            "final": .string(r.final.rawValue), "final_step": .integer(r.finalStep),
            "trainable_parameters": .integer(r.trainableParameters), "total_parameters": .integer(r.totalParameters),
            "mean_step_seconds": .number(r.meanStepSeconds), "seconds": .number(r.seconds),
            "peak_tensor_bytes": .integer(r.peakBytes), "artifact": .string(r.artifact.path),
            "mode": .string(recipe.train.mode.rawValue), "task": .string(recipe.task),
            "machine": .string(RunInfo.machine), "threads": .integer(r.threads), "lorakit_version": .string(RunInfo.version),
            "started": .string(ISO8601DateFormatter().string(from: r.started)),
        ]
        if let commit = RunInfo.commit { object["commit"] = .string(commit) }
        if let reason = r.summary.stopReason { object["stop_reason"] = .string(reason) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(JSONValue.object(object)).write(to: output.appendingPathComponent("summary.json"), options: .atomic)
    }
}
