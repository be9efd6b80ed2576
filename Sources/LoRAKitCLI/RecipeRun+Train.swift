import Foundation
import LoRA
import NN
import Recipes
import SafeTensors
import Tensor
import Training

/// What `train` produced.
struct TrainResult {
    var summary: TrainingSummary
    var trainableParameters: Int
    var totalParameters: Int
    var meanStepSeconds: Double
    var seconds: Double
    var peakBytes: Int
    /// Where the adapter (LoRA) or the model weights (full, probe) were written.
    var artifact: URL
}

extension RecipeRun {
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

    func makeSchedule(totalSteps: Int) throws -> LearningRateSchedule {
        let s = recipe.train.scheduler
        switch s.name {
        case .constant: return try ConstantSchedule(warmupSteps: s.warmupSteps)
        case .step: return try StepSchedule(stepSize: s.stepSize ?? max(1, totalSteps / 3), gamma: Float(s.gamma))
        case .linear: return try LinearSchedule(warmupSteps: s.warmupSteps, totalSteps: totalSteps)
        case .cosine: return try CosineSchedule(warmupSteps: s.warmupSteps, totalSteps: totalSteps, minMultiplier: Float(s.minLRRatio))
        }
    }

    func metrics() throws -> () -> [any Metric] {
        let names = recipe.eval.metrics
        let registry = self.registry.metrics
        _ = try registry.make(names)                         // unknown names fail before training
        return { (try? registry.make(names)) ?? [] }
    }

    /// Trains per the recipe and writes the output directory.
    func train(resume: Bool, force: Bool, log: (String) -> Void) throws -> TrainResult {
        if let threads = recipe.train.threads { Threads.set(threads) }
        let start = Date()
        let built = try buildModel()
        let lora = try prepareForTraining(built)
        let model = built.module
        let trainData = try loader(.train)
        // Generated formats (no train path) make their own validation split.
        let hasValidation = recipe.data.validation != nil || recipe.data.validationFraction != nil || recipe.data.train == nil
        let validationData = hasValidation ? try loader(.validation) : nil
        let task = ClassificationTask(classCount: try classCount, labelSmoothing: Float(recipe.train.labelSmoothing),
                                      forward: built.forward)
        let t = recipe.train
        let accumulation = t.gradientAccumulation
        let stepsPerEpoch = (trainData.batchesPerEpoch + accumulation - 1) / accumulation
        let totalSteps = t.maxSteps ?? (t.epochs ?? 1) * stepsPerEpoch
        let h = recipe.hooks
        let timer = TimerHook()
        var hooks: [TrainerHook] = [NonFiniteGuard(policy: h.nonFinite), ProgressBar(interval: h.progress.interval), timer]
        // Frozen batch norms keep the pretrained statistics (the adapter file does not carry them).
        if t.mode != .full { hooks.insert(FrozenBatchNormStatistics(), at: 0) }
        if h.metricsLog { hooks.append(MetricsLogger(directory: output)) }
        if let e = h.earlyStopping {
            hooks.append(EarlyStopping(monitor: e.monitor, mode: e.mode, patience: e.patience, minDelta: e.minDelta))
        }
        hooks.append(Checkpointing(everySteps: h.checkpoint.everySteps, eachEpoch: h.checkpoint.eachEpoch,
                                   keepBest: h.checkpoint.keepBest, monitor: h.checkpoint.monitor, mode: h.checkpoint.mode))
        let configuration = TrainerConfiguration(
            epochs: t.maxSteps == nil ? (t.epochs ?? 1) : nil, maxSteps: t.maxSteps, gradientAccumulation: accumulation,
            clipGradientNorm: t.clipGradNorm.map(Float.init), evaluateEverySteps: recipe.eval.everySteps,
            evaluateEachEpoch: recipe.eval.eachEpoch, seed: t.seed, runIdentity: recipe.flattened(),
            outputDirectory: output)
        let trainer = try Trainer(model: model, task: task, optimizer: try makeOptimizer(model),
                                  schedule: try makeSchedule(totalSteps: totalSteps), trainData: trainData,
                                  validationData: validationData, metrics: try metrics(), hooks: hooks,
                                  configuration: configuration)
        if let lora {
            trainer.exportIntoCheckpoint = { dir in try PEFTAdapterFile.save(lora, adapter: "default", to: dir.path) }
        }
        var resumeFrom: URL?
        if resume {
            guard let latest = trainer.checkpoints?.latest() else {
                throw UsageError("--resume: no complete checkpoint in \(output.appendingPathComponent("checkpoints").path)")
            }
            resumeFrom = latest
            log("resuming from \(latest.lastPathComponent)")
        }
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        try Data(loaded.yaml().utf8).write(to: output.appendingPathComponent("recipe.yaml"), options: .atomic)
        if let names = classNames {
            try JSONSerialization.data(withJSONObject: names).write(to: output.appendingPathComponent("labels.json"), options: .atomic)
        }
        log("training \(recipe.model.architecture) (\(t.mode.rawValue)): \(model.trainableParameterCount) of " +
            "\(model.parameterCount) parameters trainable, \(totalSteps) steps")
        MemoryPool.resetPeak()
        let summary = try trainer.fit(resumingFrom: resumeFrom, force: force)
        let artifact: URL
        if let lora {
            artifact = output.appendingPathComponent("adapter")
            try PEFTAdapterFile.save(lora, adapter: "default", to: artifact.path)
        } else {
            artifact = output.appendingPathComponent("model.safetensors")
            try model.saveSafeTensors(path: artifact.path)
        }
        let result = TrainResult(summary: summary, trainableParameters: model.trainableParameterCount,
                                 totalParameters: model.parameterCount - (lora.map { l in
                                     l.hosts.reduce(0) { $0 + $1.host.adapters.entries.reduce(0) { $0 + $1.module.parameterCount } }
                                 } ?? 0),
                                 meanStepSeconds: timer.meanStepSeconds, seconds: Date().timeIntervalSince(start),
                                 peakBytes: MemoryPool.peakBytes, artifact: artifact)
        try writeSummary(result)
        return result
    }

    private func writeSummary(_ r: TrainResult) throws {
        var object: [String: Any] = [
            "steps": r.summary.steps, "epochs": r.summary.epochs, "metrics": r.summary.metrics.filter { $0.value.isFinite },
            "trainable_parameters": r.trainableParameters, "total_parameters": r.totalParameters,
            "mean_step_seconds": r.meanStepSeconds, "seconds": r.seconds, "peak_tensor_bytes": r.peakBytes,
            "artifact": r.artifact.path, "mode": recipe.train.mode.rawValue,
        ]
        if let reason = r.summary.stopReason { object["stop_reason"] = reason }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: output.appendingPathComponent("summary.json"), options: .atomic)
    }

    /// The trained model for eval/predict/merge: the recipe's weights (or `weights`), then the
    /// adapter given, else the run's own output (adapter or full weights) when it exists.
    func trainedModel(adapter: String?, weights: String?) throws -> (BuiltModel, LoRAModel?) {
        var weightsPath = weights
        let ownWeights = output.appendingPathComponent("model.safetensors").path
        if adapter == nil, weights == nil, recipe.train.mode != .lora, FileManager.default.fileExists(atPath: ownWeights) {
            weightsPath = ownWeights
        }
        let built = try buildModel(weights: weightsPath)
        var adapterPath = adapter
        let ownAdapter = output.appendingPathComponent("adapter").path
        if adapterPath == nil, weights == nil, recipe.train.mode == .lora,
           FileManager.default.fileExists(atPath: ownAdapter + "/" + PEFTAdapterFile.configName) {
            adapterPath = ownAdapter
        }
        guard let adapterPath else { return (built, nil) }
        let lora = LoRAModel(wrapping: built.module)
        try PEFTAdapterFile.load(into: lora, from: adapterPath)
        return (built, lora)
    }

    /// Metrics of `model` on a split (validation by default).
    func evaluate(_ built: BuiltModel, role: DataRole) throws -> [String: Double] {
        let data = try loader(role)
        let task = ClassificationTask(classCount: try classCount, forward: built.forward)
        return try evaluateModel(built.module, task: task, data: data, metrics: try metrics())
    }
}
