import Foundation

extension Recipe {
    /// Semantic checks, run before any training: ranges (rank ≥ 1, alpha > 0, 0 ≤ dropout < 1,
    /// lr > 0, batch_size ≥ 1, …), settings that need each other (`train.mode: lora` needs a
    /// `lora` section, `epochs` or `max_steps`, a monitor that is measured), files and directories
    /// that must exist, and names known to the context's registries; then the registries' per-name
    /// checks, the context's checks (the task's: `model.classes` against `class_names` for
    /// classification, options of the named entries) and `modelCheck`.
    ///
    /// - Parameter modelCheck: a check that needs the built model, such as whether every LoRA
    ///   target pattern matches a layer; run last.
    /// - Returns: every problem found, in the order of the recipe's keys (empty: valid).
    public func problems(in context: RecipeContext = RecipeContext(), modelCheck: RecipeCheck? = nil) -> [RecipeProblem] {
        var p = Problems()
        if let problem = context.tasks.problem(task, key: "task", kind: "task") { p.list.append(problem) }
        checkModel(&p, context)
        checkLoRA(&p)
        checkData(&p, context)
        checkTraining(&p)
        checkEvaluation(&p, context)
        for (i, plugin) in plugins.enumerated() {
            if let problem = context.plugins.problem(plugin, key: "plugins[\(i)]", kind: "plugin") { p.list.append(problem) }
            if plugins[..<i].contains(plugin) { p.invalid("plugins[\(i)]", "plugin \"\(plugin)\" is listed twice") }
        }
        if FileManager.default.fileExists(atPath: outputDirectory, isDirectory: nil), !Self.isDirectory(outputDirectory) {
            p.invalid("output_dir", "\(outputDirectory) is a file, not a directory")
        }

        // Checks registered for the names this recipe uses.
        let named: [(RecipeNames, String, String)] =
            [(context.tasks, task, "task"), (context.architectures, model.architecture, "model.architecture"),
             (context.dataFormats, data.format, "data.format")]
            + data.transforms.enumerated().map { (context.transforms, $1.name, "data.transforms[\($0)].name") }
            + eval.metrics.enumerated().map { (context.metrics, $1, "eval.metrics[\($0)]") }
            + plugins.enumerated().map { (context.plugins, $1, "plugins[\($0)]") }
        for (names, name, key) in named { if let check = names.checks[name] { p.list += check(self, key) } }
        for check in context.checks { p.list += check(self) }
        if let modelCheck { p.list += modelCheck(self) }
        return p.list
    }

    private struct Problems {
        var list: [RecipeProblem] = []

        mutating func invalid(_ key: String, _ message: String, suggestion: String? = nil) {
            list.append(.invalid(key, message, suggestion: suggestion))
        }

        mutating func require(_ condition: Bool, _ key: String, _ message: @autoclosure () -> String) {
            if !condition { invalid(key, message()) }
        }

        mutating func atLeast(_ value: Int?, _ minimum: Int, _ key: String) {
            if let value, value < minimum { invalid(key, "must be ≥ \(minimum), got \(value)") }
        }

        /// `value` in [low, high) or [low, high] (`closed`); nil bounds are open-ended.
        mutating func range(_ value: Double?, _ key: String, above low: Double? = nil, from lowClosed: Double? = nil,
                            below high: Double? = nil, upTo highClosed: Double? = nil) {
            guard let value else { return }
            var ok = value.isFinite
            if let low { ok = ok && value > low }
            if let lowClosed { ok = ok && value >= lowClosed }
            if let high { ok = ok && value < high }
            if let highClosed { ok = ok && value <= highClosed }
            guard !ok else { return }
            let lower = low.map { "> \(YAMLWriter.number($0))" } ?? lowClosed.map { "≥ \(YAMLWriter.number($0))" }
            let upper = high.map { "< \(YAMLWriter.number($0))" } ?? highClosed.map { "≤ \(YAMLWriter.number($0))" }
            invalid(key, "must be \([lower, upper].compactMap { $0 }.joined(separator: " and ")), got \(YAMLWriter.number(value))")
        }

        mutating func exists(_ path: String?, _ key: String, directory: Bool?) {
            guard let path else { return }
            var isDirectory: ObjCBool = false
            let expected = directory == nil ? "file or directory" : directory! ? "directory" : "file"
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                list.append(RecipeProblem(key: key, kind: .missingFile(path: path, expected: expected)))
                return
            }
            if let directory, directory != isDirectory.boolValue {
                invalid(key, "\(path) is a \(isDirectory.boolValue ? "directory" : "file"), expected a \(expected)")
            }
        }

        mutating func regex(_ pattern: String, _ key: String) {
            if (try? NSRegularExpression(pattern: pattern)) == nil { invalid(key, "\"\(pattern)\" is not a valid regular expression") }
        }
    }

    private static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    private func checkModel(_ p: inout Problems, _ context: RecipeContext) {
        if let problem = context.architectures.problem(model.architecture, key: "model.architecture", kind: "architecture") {
            p.list.append(problem)
        }
        p.exists(model.weights, "model.weights", directory: false)
        // `model.classes` and `model.class_names` belong to classification tasks, which check them.
        p.atLeast(model.inputSize, 1, "model.input_size")
    }

    private func checkLoRA(_ p: inout Problems) {
        switch (train.mode, lora) {
        case (.lora, nil):
            p.list.append(RecipeProblem(key: "lora", kind: .missingKey(reason: "train.mode is lora; add a lora section or set train.mode to full")))
        case (.full, .some), (.linearProbe, .some):
            p.invalid("lora", "a lora section with train.mode \(train.mode.rawValue); remove it (lora: null) or set train.mode to lora")
        default: break
        }
        guard let lora else { return }
        p.atLeast(lora.rank, 1, "lora.rank")
        p.range(lora.alpha.decimal, "lora.alpha", above: 0)
        p.range(lora.dropout.decimal, "lora.dropout", from: 0, below: 1)
        for (pattern, rank) in lora.rankPattern.sorted(by: { $0.key < $1.key }) {
            let key = KeyPath.appending(pattern, to: "lora.rank_pattern")
            p.regex(pattern, key)
            p.atLeast(rank, 1, key)
        }
        for (pattern, alpha) in lora.alphaPattern.sorted(by: { $0.key < $1.key }) {
            let key = KeyPath.appending(pattern, to: "lora.alpha_pattern")
            p.regex(pattern, key)
            p.range(alpha.decimal, key, above: 0)
        }
        p.require(!lora.targetModules.isEmpty, "lora.target_modules", "is empty: name the layers to adapt")
        for (key, patterns) in [("lora.target_modules", lora.targetModules), ("lora.exclude_modules", lora.excludeModules)] {
            for (i, pattern) in patterns.enumerated() {
                p.require(!pattern.isEmpty, "\(key)[\(i)]", "is empty")
                if pattern.hasPrefix("re:") { p.regex(String(pattern.dropFirst(3)), "\(key)[\(i)]") }
            }
        }
        if lora.useDoRA && lora.initialization == .pissa {
            p.invalid("lora.use_dora", "DoRA with PiSSA initialisation is not supported; choose one")
        }
    }

    private func checkData(_ p: inout Problems, _ context: RecipeContext) {
        if let problem = context.dataFormats.problem(data.format, key: "data.format", kind: "data format") { p.list.append(problem) }
        p.exists(data.train, "data.train", directory: nil)
        p.exists(data.validation, "data.validation", directory: nil)
        p.exists(data.test, "data.test", directory: nil)
        p.exists(data.imageDirectory, "data.image_directory", directory: true)
        p.range(data.validationFraction, "data.validation_fraction", above: 0, below: 1)
        if data.validation != nil && data.validationFraction != nil {
            p.invalid("data.validation_fraction", "given together with data.validation; keep one")
        }
        for (i, transform) in data.transforms.enumerated() {
            if let problem = context.transforms.problem(transform.name, key: "data.transforms[\(i)].name", kind: "transform") {
                p.list.append(problem)
            }
        }
        p.atLeast(data.batchSize, 1, "data.batch_size")
        p.atLeast(data.evalBatchSize, 1, "data.eval_batch_size")
        p.atLeast(data.prefetch, 0, "data.prefetch")
        p.atLeast(data.readThreads, 1, "data.read_threads")
    }

    private func checkTraining(_ p: inout Problems) {
        if train.epochs == nil && train.maxSteps == nil {
            p.list.append(RecipeProblem(key: "train.epochs", kind: .missingKey(reason: "give train.epochs or train.max_steps")))
        }
        p.atLeast(train.epochs, 1, "train.epochs")
        p.atLeast(train.maxSteps, 1, "train.max_steps")
        let o = train.optimizer
        p.range(o.learningRate, "train.optimizer.lr", above: 0)
        p.range(o.weightDecay, "train.optimizer.weight_decay", from: 0)
        p.range(o.momentum, "train.optimizer.momentum", from: 0, below: 1)
        if o.name != .sgd {
            p.require(o.momentum == 0, "train.optimizer.momentum", "applies to sgd only (optimizer is \(o.name.rawValue))")
            p.require(!o.nesterov, "train.optimizer.nesterov", "applies to sgd only (optimizer is \(o.name.rawValue))")
        } else if o.nesterov && o.momentum == 0 {
            p.invalid("train.optimizer.nesterov", "needs momentum > 0")
        }
        p.range(o.beta1, "train.optimizer.betas[0]", from: 0, below: 1)
        p.range(o.beta2, "train.optimizer.betas[1]", from: 0, below: 1)
        p.range(o.epsilon, "train.optimizer.eps", above: 0)
        for (i, group) in o.groups.enumerated() {
            let key = "train.optimizer.groups[\(i)]"
            p.require(!group.name.isEmpty, "\(key).name", "is empty")
            if o.groups[..<i].contains(where: { $0.name == group.name }) {
                p.invalid("\(key).name", "group name \"\(group.name)\" is used twice")
            }
            p.require(!group.patterns.isEmpty, "\(key).patterns", "is empty")
            p.range(group.learningRate, "\(key).lr", above: 0)
            p.range(group.weightDecay, "\(key).weight_decay", from: 0)
        }
        let s = train.scheduler
        p.atLeast(s.warmupSteps, 0, "train.scheduler.warmup_steps")
        p.atLeast(s.stepSize, 1, "train.scheduler.step_size")
        p.range(s.gamma, "train.scheduler.gamma", above: 0)
        p.range(s.minLRRatio, "train.scheduler.min_lr_ratio", from: 0, upTo: 1)
        p.atLeast(train.gradientAccumulation, 1, "train.gradient_accumulation")
        p.range(train.clipGradNorm, "train.clip_grad_norm", above: 0)
        p.atLeast(train.threads, 1, "train.threads")
        p.range(train.labelSmoothing, "train.label_smoothing", from: 0, below: 1)
        p.exists(train.initAdapter, "train.init_adapter", directory: true)
        if train.initAdapter != nil && train.mode != .lora {
            p.invalid("train.init_adapter", "starts a LoRA adapter; train.mode is \(train.mode.rawValue)")
        }
    }

    private func checkEvaluation(_ p: inout Problems, _ context: RecipeContext) {
        for (i, metric) in eval.metrics.enumerated() {
            if let problem = context.metrics.problem(metric, key: "eval.metrics[\(i)]", kind: "metric") { p.list.append(problem) }
            if eval.metrics[..<i].contains(metric) { p.invalid("eval.metrics[\(i)]", "metric \"\(metric)\" is listed twice") }
        }
        p.atLeast(eval.everySteps, 1, "eval.every_steps")
        checkMonitor(&p, eval.monitor, "eval.monitor")
        p.atLeast(hooks.progress.interval, 1, "hooks.progress.interval")
        if let early = hooks.earlyStopping {
            checkMonitor(&p, early.monitor, "hooks.early_stopping.monitor")
            p.atLeast(early.patience, 1, "hooks.early_stopping.patience")
            p.range(early.minDelta, "hooks.early_stopping.min_delta", from: 0)
        }
        checkMonitor(&p, hooks.checkpoint.monitor, "hooks.checkpoint.monitor")
        p.atLeast(hooks.checkpoint.everySteps, 1, "hooks.checkpoint.every_steps")
        p.atLeast(hooks.checkpoint.keepBest, 0, "hooks.checkpoint.keep_best")
        for (i, hook) in hooks.extra.enumerated() {
            if let problem = context.hooks.problem(hook.name, key: "hooks.extra[\(i)].name", kind: "hook") { p.list.append(problem) }
        }
    }

    /// A monitored value must be measured: the loss, or one of `eval.metrics`.
    private func checkMonitor(_ p: inout Problems, _ monitor: String, _ key: String) {
        let measured = ["loss"] + eval.metrics
        guard !measured.contains(monitor) else { return }
        p.invalid(key, "\"\(monitor)\" is not measured (measured: \(measured.joined(separator: ", ")); add it to eval.metrics)",
                  suggestion: Suggestion.nearest(to: monitor, in: measured))
    }
}

extension LoadedRecipe {
    /// The recipe's problems (`Recipe.problems`) as errors located where each key was written.
    public func validationErrors(in context: RecipeContext = RecipeContext(), modelCheck: RecipeCheck? = nil) -> [RecipeError] {
        recipe.problems(in: context, modelCheck: modelCheck).map(error(for:))
    }

    /// Throws the recipe's problems: the one error, or `.several` for more.
    public func validate(in context: RecipeContext = RecipeContext(), modelCheck: RecipeCheck? = nil) throws {
        let errors = validationErrors(in: context, modelCheck: modelCheck)
        if errors.count == 1 { throw errors[0] }
        if errors.count > 1 { throw RecipeError.several(errors) }
    }

    /// The problem as an error at the location of its key.
    public func error(for problem: RecipeProblem) -> RecipeError {
        let location = location(of: problem.key)
        switch problem.kind {
        case let .invalid(message):
            return .invalidValue(key: problem.key, location: location, message: message, suggestion: problem.suggestion)
        case let .missingFile(path, expected):
            return .missingFile(key: problem.key, location: location, path: path, expected: expected)
        case let .missingKey(reason):
            return .missingKey(key: problem.key, location: location, reason: reason)
        }
    }
}
