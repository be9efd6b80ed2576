import LoRA
import Tensor
import Training

extension Recipe {
    /// The recipe as YAML, every key explicit, in schema order; it decodes back to an equal
    /// recipe. This is what a run writes to `recipe.yaml` in its output directory.
    public func yaml() -> String { YAMLWriter.document(tree()) }

    /// Every leaf as `dotted.key: value` (`lora.rank: 8`, `data.transforms[0].size: 224`,
    /// `lora.target_modules: [conv1, conv2]`), values in YAML flow syntax as `yaml()` writes them.
    /// It is the run's identity for checkpoints: comparing two of these says exactly which keys
    /// changed, and each entry is a valid override (`key=value`).
    public func flattened() -> [String: String] {
        var result: [String: String] = [:]
        YAMLWriter.flatten(.map(tree()), prefix: "", into: &result)
        return result
    }

    typealias Tree = YAMLWriter.Tree

    /// The recipe as an ordered tree; optional values that are nil are left out.
    func tree() -> [(String, Tree)] {
        var root: [(String, Tree)] = [("task", str(task)), ("model", .map(model.tree()))]
        if let lora { root.append(("lora", .map(lora.tree()))) }
        root += [("data", .map(data.tree())), ("train", .map(train.tree())), ("eval", .map(eval.tree())),
                 ("hooks", .map(hooks.tree())), ("plugins", .list(plugins.map(str))),
                 ("output_dir", str(outputDirectory))]
        return root
    }
}

private func str(_ s: String) -> YAMLWriter.Tree { .scalar(YAMLWriter.string(s)) }
private func int(_ v: Int) -> YAMLWriter.Tree { .scalar(String(v)) }
private func num(_ v: Double) -> YAMLWriter.Tree { .scalar(YAMLWriter.number(v)) }
private func bool(_ v: Bool) -> YAMLWriter.Tree { .scalar(v ? "true" : "false") }
private func free(_ m: [String: RecipeValue]) -> YAMLWriter.Tree { YAMLWriter.Tree(.map(m)) }

/// Appends `(key, value)` when the value is not nil.
private func add<T>(_ entries: inout [(String, YAMLWriter.Tree)], _ key: String, _ value: T?,
                    _ make: (T) -> YAMLWriter.Tree) {
    if let value { entries.append((key, make(value))) }
}

extension Recipe.ModelSettings {
    func tree() -> [(String, YAMLWriter.Tree)] {
        var e: [(String, YAMLWriter.Tree)] = [("architecture", str(architecture))]
        add(&e, "weights", weights, str)
        add(&e, "classes", classes, int)
        add(&e, "class_names", classNames) { .list($0.map(str)) }
        e.append(("head", str(head.rawValue)))
        add(&e, "input_size", inputSize, int)
        e.append(("options", free(options)))
        return e
    }
}

/// The `lora:` section (the core's `LoRAConfig`) as YAML, in `RecipeKeys.lora` order.
extension LoRAConfig {
    func tree() -> [(String, YAMLWriter.Tree)] {
        [("rank", int(rank)), ("alpha", num(alpha.decimal)), ("dropout", num(dropout.decimal)), ("use_rslora", bool(useRSLoRA)),
         ("use_dora", bool(useDoRA)), ("init", str(initialization.rawValue)),
         ("rank_pattern", .map(rankPattern.keys.sorted().map { ($0, int(rankPattern[$0]!)) })),
         ("alpha_pattern", .map(alphaPattern.keys.sorted().map { ($0, num(alphaPattern[$0]!.decimal)) })),
         ("bias", str(bias.rawValue)), ("target_modules", .list(targetModules.map(str))),
         ("exclude_modules", .list(excludeModules.map(str))), ("modules_to_save", .list(modulesToSave.map(str)))]
    }
}

extension Recipe.DataSettings {
    func tree() -> [(String, YAMLWriter.Tree)] {
        var e: [(String, YAMLWriter.Tree)] = [("format", str(format))]
        add(&e, "train", train, str)
        add(&e, "validation", validation, str)
        add(&e, "test", test, str)
        add(&e, "image_directory", imageDirectory, str)
        add(&e, "image_column", imageColumn, str)
        add(&e, "label_column", labelColumn, str)
        add(&e, "text_column", textColumn, str)
        add(&e, "validation_fraction", validationFraction, num)
        e += [("bad_files", str(badFiles.rawValue)),
              ("transforms", .list(transforms.map { t in
                  .map([("name", str(t.name))] + t.parameters.keys.sorted().map { ($0, YAMLWriter.Tree(t.parameters[$0]!)) })
              })),
              ("batch_size", int(batchSize)), ("eval_batch_size", int(evalBatchSize)), ("prefetch", int(prefetch)),
              ("read_threads", int(readThreads)), ("options", free(options))]
        return e
    }
}

extension Recipe.TrainingSettings {
    func tree() -> [(String, YAMLWriter.Tree)] {
        var e: [(String, YAMLWriter.Tree)] = [("mode", str(mode.rawValue))]
        add(&e, "epochs", epochs, int)
        add(&e, "max_steps", maxSteps, int)
        var opt: [(String, YAMLWriter.Tree)] = [
            ("name", str(optimizer.name.rawValue)), ("lr", num(optimizer.learningRate)),
            ("weight_decay", num(optimizer.weightDecay)), ("momentum", num(optimizer.momentum)),
            ("nesterov", bool(optimizer.nesterov)), ("betas", .list([num(optimizer.beta1), num(optimizer.beta2)])),
            ("eps", num(optimizer.epsilon)),
        ]
        opt.append(("groups", .list(optimizer.groups.map { g in
            .map([("name", str(g.name)), ("patterns", .list(g.patterns.map(str))), ("lr", num(g.learningRate)),
                  ("weight_decay", num(g.weightDecay))])
        })))
        var sched: [(String, YAMLWriter.Tree)] = [("name", str(scheduler.name.rawValue)),
                                                   ("warmup_steps", int(scheduler.warmupSteps))]
        add(&sched, "step_size", scheduler.stepSize, int)
        sched += [("gamma", num(scheduler.gamma)), ("min_lr_ratio", num(scheduler.minLRRatio))]
        e += [("optimizer", .map(opt)), ("scheduler", .map(sched)), ("gradient_accumulation", int(gradientAccumulation))]
        add(&e, "clip_grad_norm", clipGradNorm, num)
        e.append(("seed", .scalar(String(seed))))
        add(&e, "threads", threads, int)
        e.append(("label_smoothing", num(labelSmoothing)))
        add(&e, "init_adapter", initAdapter, str)
        e.append(("precision", str(precision.rawValue)))
        return e
    }
}

extension Recipe.EvaluationSettings {
    func tree() -> [(String, YAMLWriter.Tree)] {
        var e: [(String, YAMLWriter.Tree)] = [("metrics", .list(metrics.map(str)))]
        add(&e, "every_steps", everySteps, int)
        e += [("each_epoch", bool(eachEpoch)), ("monitor", str(monitor)), ("mode", str(mode.rawValue))]
        return e
    }
}

extension Recipe.HookSettings {
    func tree() -> [(String, YAMLWriter.Tree)] {
        var e: [(String, YAMLWriter.Tree)] = [("progress", .map([("interval", int(progress.interval))]))]
        add(&e, "early_stopping", earlyStopping) { s in
            .map([("monitor", str(s.monitor)), ("mode", str(s.mode.rawValue)), ("patience", int(s.patience)),
                  ("min_delta", num(s.minDelta))])
        }
        var c: [(String, YAMLWriter.Tree)] = []
        add(&c, "every_steps", checkpoint.everySteps, int)
        c += [("each_epoch", bool(checkpoint.eachEpoch)), ("keep_best", int(checkpoint.keepBest)),
              ("monitor", str(checkpoint.monitor)), ("mode", str(checkpoint.mode.rawValue)),
              ("final", str(checkpoint.final.rawValue))]
        e += [("checkpoint", .map(c)), ("non_finite", str(nonFinite.rawValue)), ("metrics_log", bool(metricsLog)),
              ("extra", .list(extra.map { h in
                  .map([("name", str(h.name))] + h.parameters.keys.sorted().map { ($0, YAMLWriter.Tree(h.parameters[$0]!)) })
              }))]
        return e
    }
}

extension Float {
    /// The Double with this Float's shortest decimal form (`Float(0.1)` → `0.1`), so that LoRA
    /// numbers print and read back as written.
    var decimal: Double { Double(description) ?? Double(self) }
}
