import LoRA
import Tensor
import Training

/// The keys each section allows, in the order `yaml()` writes them.
enum RecipeKeys {
    static let root = ["task", "model", "lora", "data", "train", "eval", "hooks", "plugins", "output_dir"]
    static let model = ["architecture", "weights", "classes", "class_names", "head", "input_size", "options"]
    static let lora = ["rank", "alpha", "dropout", "use_rslora", "use_dora", "init", "rank_pattern", "alpha_pattern",
                       "bias", "target_modules", "exclude_modules", "modules_to_save"]
    static let data = ["format", "train", "validation", "test", "image_directory", "image_column", "label_column",
                       "text_column", "validation_fraction", "bad_files", "transforms", "batch_size", "eval_batch_size",
                       "prefetch", "read_threads", "options"]
    static let train = ["mode", "epochs", "max_steps", "optimizer", "scheduler", "gradient_accumulation",
                        "clip_grad_norm", "seed", "threads", "label_smoothing", "init_adapter", "precision"]
    static let optimizer = ["name", "lr", "weight_decay", "momentum", "nesterov", "betas", "eps", "groups"]
    static let group = ["name", "patterns", "lr", "weight_decay"]
    static let scheduler = ["name", "warmup_steps", "step_size", "gamma", "min_lr_ratio"]
    static let eval = ["metrics", "every_steps", "each_epoch", "monitor", "mode"]
    static let hooks = ["progress", "early_stopping", "checkpoint", "non_finite", "metrics_log", "extra"]
    static let progress = ["interval"]
    static let earlyStopping = ["monitor", "mode", "patience", "min_delta"]
    static let checkpoint = ["every_steps", "each_epoch", "keep_best", "monitor", "mode", "final"]
}

extension Recipe {
    /// Reads a whole recipe from its (merged, overridden) tree, filling every default.
    static func decode(_ root: SourceNode, with d: RecipeDecoder) throws -> Recipe {
        let r = try d.section(root, path: "", keys: RecipeKeys.root)
        let strings = d.list(d.string, named: "strings")
        let task = try r.required("task", d.string)
        let model = try r.required("model") { node, key in try decodeModel(d.section(node, path: key, keys: RecipeKeys.model), d) }
        let lora = try r.optional("lora") { node, key in try decodeLoRA(d.section(node, path: key, keys: RecipeKeys.lora), d) }
        let data = try r.required("data") { node, key in try decodeData(d.section(node, path: key, keys: RecipeKeys.data), d) }
        let train = try r.required("train") { node, key in
            try decodeTraining(d.section(node, path: key, keys: RecipeKeys.train), hasLoRA: lora != nil, d)
        }
        let eval = try decodeEvaluation(r.section("eval", keys: RecipeKeys.eval), d)
        let hooks = try decodeHooks(r.section("hooks", keys: RecipeKeys.hooks), eval: eval, d)
        let plugins = try r.value("plugins", default: [], strings)
        let output = try r.required("output_dir", d.path)
        return Recipe(task: task, model: model, lora: lora, data: data, train: train, eval: eval, hooks: hooks,
                      plugins: plugins, outputDirectory: output)
    }

    private static func decodeModel(_ s: SectionReader, _ d: RecipeDecoder) throws -> ModelSettings {
        let classNames = try s.optional("class_names", d.list(d.string, named: "strings"))
        return ModelSettings(
            architecture: try s.required("architecture", d.string),
            weights: try s.optional("weights", d.path),
            classes: try s.optional("classes", d.int) ?? classNames?.count,
            classNames: classNames,
            head: try s.value("head", default: RecipeDefaults.head, d.choice(ModelSettings.Head.allCases)),
            inputSize: try s.optional("input_size", d.int),
            options: try s.value("options", default: [:], d.map(d.freeForm, named: "values")))
    }

    private static func decodeLoRA(_ s: SectionReader, _ d: RecipeDecoder) throws -> LoRASettings {
        let strings = d.list(d.string, named: "strings")
        // The core's numbers are Float: a value beyond its range is a type error here, not an inf later.
        let float: (SourceNode, String) throws -> Float = { node, key in
            let v = Float(try d.double(node, key))
            guard v.isFinite else { throw d.mismatch(key, node, "a number within ±3.4e38 (32-bit float)") }
            return v
        }
        return LoRASettings(
            rank: try s.value("rank", default: RecipeDefaults.rank, d.int),
            alpha: try s.value("alpha", default: Float(RecipeDefaults.alpha), float),
            dropout: try s.value("dropout", default: Float(RecipeDefaults.dropout), float),
            useRSLoRA: try s.value("use_rslora", default: false, d.bool),
            initialization: try s.value("init", default: RecipeDefaults.initialization,
                                        d.choice([LoRAInitialization.kaiming, .gaussian, .pissa])),
            useDoRA: try s.value("use_dora", default: false, d.bool),
            rankPattern: try s.value("rank_pattern", default: [:], d.map(d.int, named: "integers")),
            alphaPattern: try s.value("alpha_pattern", default: [:], d.map(float, named: "numbers")),
            bias: try s.value("bias", default: RecipeDefaults.bias, d.choice([LoRABiasMode.none, .all, .loraOnly])),
            targetModules: try s.required("target_modules", strings),
            excludeModules: try s.value("exclude_modules", default: [], strings),
            modulesToSave: try s.value("modules_to_save", default: [], strings))
    }

    private static func decodeData(_ s: SectionReader, _ d: RecipeDecoder) throws -> DataSettings {
        let transform: (SourceNode, String) throws -> TransformSettings = { node, key in
            guard let entries = node.entries else { throw d.mismatch(key, node, "a mapping {name: …, parameters…}") }
            let reader = SectionReader(decoder: d, node: node, path: key, entries: entries)
            d.record(key, node)
            let name = try reader.required("name", d.string)
            var parameters = try d.map(d.freeForm, named: "values")(node, key)
            parameters["name"] = nil
            return TransformSettings(name: name, parameters: parameters)
        }
        return DataSettings(
            format: try s.required("format", d.string),
            train: try s.optional("train", d.path),
            validation: try s.optional("validation", d.path),
            test: try s.optional("test", d.path),
            imageDirectory: try s.optional("image_directory", d.path),
            imageColumn: try s.optional("image_column", d.string),
            labelColumn: try s.optional("label_column", d.string),
            textColumn: try s.optional("text_column", d.string),
            validationFraction: try s.optional("validation_fraction", d.double),
            badFiles: try s.value("bad_files", default: RecipeDefaults.badFiles, d.choice(DataSettings.BadFiles.allCases)),
            transforms: try s.value("transforms", default: [], d.list(transform, named: "transforms {name: …}")),
            batchSize: try s.value("batch_size", default: RecipeDefaults.batchSize, d.int),
            evalBatchSize: try s.optional("eval_batch_size", d.int),
            prefetch: try s.value("prefetch", default: RecipeDefaults.prefetch, d.int),
            readThreads: try s.value("read_threads", default: RecipeDefaults.readThreads, d.int),
            options: try s.value("options", default: [:], d.map(d.freeForm, named: "values")))
    }

    private static func decodeTraining(_ s: SectionReader, hasLoRA: Bool, _ d: RecipeDecoder) throws -> TrainingSettings {
        TrainingSettings(
            mode: try s.value("mode", default: hasLoRA ? .lora : .full, d.choice(TrainingSettings.Mode.allCases)),
            epochs: try s.optional("epochs", d.int),
            maxSteps: try s.optional("max_steps", d.int),
            optimizer: try decodeOptimizer(s.section("optimizer", keys: RecipeKeys.optimizer), d),
            scheduler: try decodeScheduler(s.section("scheduler", keys: RecipeKeys.scheduler), d),
            gradientAccumulation: try s.value("gradient_accumulation", default: RecipeDefaults.gradientAccumulation, d.int),
            clipGradNorm: try s.optional("clip_grad_norm", d.double),
            seed: try s.value("seed", default: RecipeDefaults.seed, d.unsigned),
            threads: try s.optional("threads", d.int),
            labelSmoothing: try s.value("label_smoothing", default: RecipeDefaults.labelSmoothing, d.double),
            initAdapter: try s.optional("init_adapter", d.path),
            precision: try s.value("precision", default: .float32, d.choice(ComputePrecision.allCases)))
    }

    private static func decodeOptimizer(_ s: SectionReader, _ d: RecipeDecoder) throws -> OptimizerSettings {
        let name = try s.value("name", default: RecipeDefaults.optimizer, d.choice(OptimizerSettings.Name.allCases))
        let lr = try s.value("lr", default: RecipeDefaults.learningRate, d.double)
        let decay = try s.value("weight_decay", default: RecipeDefaults.weightDecay(for: name), d.double)
        let betas: (SourceNode, String) throws -> (Double, Double) = { node, key in
            let expected = "a list of two numbers [beta1, beta2]"
            guard case let .sequence(items) = node.value, items.count == 2 else { throw d.mismatch(key, node, expected) }
            return (try d.double(items[0], "\(key)[0]"), try d.double(items[1], "\(key)[1]"))
        }
        let group: (SourceNode, String) throws -> ParameterGroupSettings = { node, key in
            let g = try d.section(node, path: key, keys: RecipeKeys.group)
            return ParameterGroupSettings(name: try g.required("name", d.string),
                                          patterns: try g.required("patterns", d.list(d.string, named: "strings")),
                                          learningRate: try g.value("lr", default: lr, d.double),
                                          weightDecay: try g.value("weight_decay", default: decay, d.double))
        }
        let (beta1, beta2) = try s.value("betas", default: RecipeDefaults.betas, betas)
        return OptimizerSettings(
            name: name, learningRate: lr, weightDecay: decay,
            momentum: try s.value("momentum", default: RecipeDefaults.momentum, d.double),
            nesterov: try s.value("nesterov", default: false, d.bool),
            beta1: beta1, beta2: beta2,
            epsilon: try s.value("eps", default: RecipeDefaults.epsilon, d.double),
            groups: try s.value("groups", default: [], d.list(group, named: "groups {name, patterns, lr}")))
    }

    private static func decodeScheduler(_ s: SectionReader, _ d: RecipeDecoder) throws -> SchedulerSettings {
        let name = try s.value("name", default: RecipeDefaults.scheduler, d.choice(SchedulerSettings.Name.allCases))
        let stepSize = name == .step
            ? try s.required("step_size", reason: "the step scheduler needs it", d.int)
            : try s.optional("step_size", d.int)
        return SchedulerSettings(
            name: name,
            warmupSteps: try s.value("warmup_steps", default: 0, d.int),
            stepSize: stepSize,
            gamma: try s.value("gamma", default: RecipeDefaults.gamma, d.double),
            minLRRatio: try s.value("min_lr_ratio", default: 0, d.double))
    }

    private static func decodeEvaluation(_ s: SectionReader, _ d: RecipeDecoder) throws -> EvaluationSettings {
        let monitor = try s.value("monitor", default: RecipeDefaults.monitor, d.string)
        return EvaluationSettings(
            metrics: try s.value("metrics", default: [], d.list(d.string, named: "strings")),
            everySteps: try s.optional("every_steps", d.int),
            eachEpoch: try s.value("each_epoch", default: true, d.bool),
            monitor: monitor,
            mode: try mode(s, monitor: monitor, evalMonitor: nil, inherited: nil, d))
    }

    /// `mode`, or its default for `monitor` (see `RecipeDefaults`).
    private static func mode(_ s: SectionReader, monitor: String, evalMonitor: String?, inherited: EarlyStopping.Mode?,
                             _ d: RecipeDecoder) throws -> EarlyStopping.Mode {
        let modes: [EarlyStopping.Mode] = [.min, .max]
        if let fallback = RecipeDefaults.mode(for: monitor, evalMonitor: evalMonitor, inherited: inherited) {
            return try s.value("mode", default: fallback, d.choice(modes))
        }
        return try s.required("mode", reason: "say min or max: is a higher \"\(monitor)\" better or worse?", d.choice(modes))
    }

    private static func decodeHooks(_ s: SectionReader, eval: EvaluationSettings, _ d: RecipeDecoder) throws -> HookSettings {
        let progress = try s.section("progress", keys: RecipeKeys.progress)
        let early = try s.optional("early_stopping") { node, key -> EarlyStoppingSettings in
            let e = try d.section(node, path: key, keys: RecipeKeys.earlyStopping)
            let monitor = try e.value("monitor", default: eval.monitor, d.string)
            return EarlyStoppingSettings(
                monitor: monitor,
                mode: try mode(e, monitor: monitor, evalMonitor: eval.monitor, inherited: eval.mode, d),
                patience: try e.value("patience", default: RecipeDefaults.patience, d.int),
                minDelta: try e.value("min_delta", default: 0, d.double))
        }
        let c = try s.section("checkpoint", keys: RecipeKeys.checkpoint)
        let monitor = try c.value("monitor", default: eval.monitor, d.string)
        let checkpoint = CheckpointSettings(
            everySteps: try c.optional("every_steps", d.int),
            eachEpoch: try c.value("each_epoch", default: true, d.bool),
            keepBest: try c.value("keep_best", default: RecipeDefaults.keepBest, d.int),
            monitor: monitor,
            mode: try mode(c, monitor: monitor, evalMonitor: eval.monitor, inherited: eval.mode, d),
            final: try c.value("final", default: RecipeDefaults.finalArtifact, d.choice(FinalArtifact.allCases)))
        let extra: (SourceNode, String) throws -> NamedSettings = { node, key in
            guard let entries = node.entries else { throw d.mismatch(key, node, "a mapping {name: …, options…}") }
            let reader = SectionReader(decoder: d, node: node, path: key, entries: entries)
            d.record(key, node)
            let name = try reader.required("name", d.string)
            var parameters = try d.map(d.freeForm, named: "values")(node, key)
            parameters["name"] = nil
            return NamedSettings(name: name, parameters: parameters)
        }
        return HookSettings(
            progress: ProgressSettings(interval: try progress.value("interval", default: RecipeDefaults.progressInterval, d.int)),
            earlyStopping: early,
            checkpoint: checkpoint,
            nonFinite: try s.value("non_finite", default: RecipeDefaults.nonFinite, d.choice([NonFiniteGuard.Policy.skip, .stop])),
            metricsLog: try s.value("metrics_log", default: true, d.bool),
            extra: try s.value("extra", default: [], d.list(extra, named: "hooks {name: …}")))
    }
}
