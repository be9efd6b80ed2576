import ArgumentParser
import Distributed
import Foundation
import Recipes
import Runtime
import Tasks

/// A recipe and `key=value` overrides, shared by the recipe commands.
struct RecipeArguments: ParsableArguments {
    @Argument(help: "The recipe (.yaml).") var recipe: String
    @Argument(help: "Overrides of recipe keys, e.g. lora.rank=32 train.epochs=1.") var overrides: [String] = []

    /// The recipe with this program's registry (not yet validated).
    func run(overrides extra: [String] = []) throws -> RecipeRun {
        let invocation = LoRAKitCLI.invocation
        let run = try RecipeRun(path: recipe, overrides: overrides + extra, builtIns: invocation.builtIns,
                                plugins: invocation.plugins, log: standardError)
        run.progress = { FileHandle.standardError.write(Data($0.utf8)) }
        return run
    }
}

/// Which model `eval` and `predict` use.
struct ModelOptions: ParsableArguments {
    @Option(help: "A PEFT adapter directory (default: the run's own, for LoRA recipes).") var adapter: String?
    @Option(help: "A complete safetensors model replacing the recipe's weights (default: the run's own, for full and probe recipes).")
    var weights: String?
    @Flag(help: "Use the recipe's base model as it is, without the run's adapter or trained weights.") var base = false

    func validate() throws {
        if base && (adapter != nil || weights != nil) {
            throw ValidationError("--base takes no --adapter or --weights")
        }
    }

    var choice: ModelChoice {
        ModelChoice(weights: weights.map { URL(fileURLWithPath: $0) }, adapter: adapter.map { URL(fileURLWithPath: $0) }, base: base)
    }
}

func standardError(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }

/// Prints one line of JSON.
func printJSON(_ value: JSONValue) throws { print(try value.jsonText()) }

/// `lorakit train RECIPE [key=value …] [--resume]`.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train per a recipe; writes the adapter (or weights), checkpoints, metrics and the resolved recipe."
    )

    @OptionGroup var arguments: RecipeArguments
    @Flag(help: "Continue from the last complete checkpoint in the output directory.") var resume = false
    @Flag(help: "With --resume: accept a recipe that differs from the checkpoint's.") var force = false

    func validate() throws {
        if force && !resume { throw ValidationError("--force applies with --resume only") }
    }

    func run() throws {
        let run = try arguments.run()
        try run.validate(training: true)
        let r = try run.train(resume: resume, force: force)
        guard Distributed.current?.writesOutputs ?? true else { return }      // rank 0 reports
        print(String(format: "trained %d steps in %.1f s (%.3f s/step); trainable parameters %d of %d (%.2f %%)",
                     r.summary.steps, r.seconds, r.meanStepSeconds, r.trainableParameters, r.totalParameters,
                     100 * Double(r.trainableParameters) / Double(max(r.totalParameters, 1))))
        if !r.metrics.isEmpty {
            let which = r.final == .best ? "best checkpoint (step \(r.finalStep))" : "validation"
            print("\(which): " + r.metrics.sorted { $0.key < $1.key }.map { String(format: "%@ %.4f", $0.key, $0.value) }
                .joined(separator: ", "))
        }
        if let reason = r.summary.stopReason { print("stopped early: \(reason)") }
        print("wrote \(r.artifact.path)")
    }
}

/// `lorakit eval RECIPE [--adapter DIR] [--weights FILE] [--base] [key=value …] [--json]`.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Metrics of the recipe's trained model (or an adapter, weights, or the base model) on the validation or test split."
    )

    @OptionGroup var arguments: RecipeArguments
    @OptionGroup var model: ModelOptions
    @Option(help: "The split: validation or test.") var split = "validation"
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        guard let role = DataRole(rawValue: split), role != .train else {
            throw ValidationError("--split must be validation or test, got \(split)")
        }
    }

    func run() throws {
        let run = try arguments.run()
        let weights = (try? run.resolve(model.choice))?.weights
        // A trained or named complete model does not need the recipe's pretrained file.
        try run.validate(ignoringMissingFilesOf: weights?.isComplete == true ? ["model.weights"] : [], weights: weights)
        let metrics = try run.evaluate(model.choice, split: DataRole(rawValue: split) ?? .validation)
        if json {
            try printJSON(.object(metrics.mapValues { $0.isFinite ? .number($0) : .null }))
        } else {
            for (k, v) in metrics.sorted(by: { $0.key < $1.key }) { print(String(format: "%@: %.4f", k, v)) }
        }
    }
}

/// `lorakit predict RECIPE [--weights FILE] [--adapter DIR] [--base] --input X… [--json]`.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Predict for inputs with the recipe's model and preprocessing; one JSON object per input with --json."
    )

    @OptionGroup var arguments: RecipeArguments
    @OptionGroup var model: ModelOptions
    @Option(parsing: .upToNextOption, help: "Inputs: image files, texts, or a file with one text per line.") var input: [String] = []
    @Flag(help: "Print one JSON object per input.") var json = false

    func validate() throws {
        if input.isEmpty { throw ValidationError("give at least one --input") }
    }

    func run() throws {
        let run = try arguments.run()
        // Predict reads no data split (class names come from them only when they exist), nor the
        // recipe's weights when --weights replaces them.
        var unused = RecipeRun.dataFileKeys
        let weights = (try? run.resolve(model.choice))?.weights
        if weights?.isComplete == true { unused.insert("model.weights") }
        try run.validate(ignoringMissingFilesOf: unused, weights: weights)
        for prediction in try run.predict(input, with: model.choice) {
            if json { try printJSON(prediction.json) } else { print(prediction.summary) }
        }
    }
}

/// `lorakit merge RECIPE --adapter DIR --out FILE`.
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge an adapter into the base weights and write plain safetensors under the base keys.",
        discussion: "Merged weights are Float32: a quantised base is decoded, never silently re-quantised. --quantize TYPE writes a decoder's GGUF instead (q8_0, q4_0, q4_1, f16, bf16, f32, or base: each matrix in the base file's type) and reports the error the quantisation adds."
    )

    @OptionGroup var arguments: RecipeArguments
    @Option(help: "The PEFT adapter directory.") var adapter: String
    @Option(help: "The merged file to write (.safetensors; .gguf with --quantize).") var out: String
    @Option(help: "Re-quantise the merged matrices into a GGUF (causal_lm on a GGUF base): q8_0, q4_0, q4_1, f16, bf16, f32 or base.")
    var quantize: String?

    func run() throws {
        let run = try arguments.run()
        try run.validate(ignoringMissingFilesOf: RecipeRun.dataFileKeys)
        for line in try run.merge(adapter: URL(fileURLWithPath: adapter), to: URL(fileURLWithPath: out), quantize: quantize) {
            print(line)
        }
    }
}

/// `lorakit validate RECIPE… [--no-data]`.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check recipes without training: keys, names, options, files, the model and its LoRA targets, and one batch of the data through the model."
    )

    @Argument(help: "Recipes to check.") var recipes: [String]
    @Flag(help: "Skip reading one batch of the data through the model.") var noData = false

    func validate() throws {
        if recipes.isEmpty { throw ValidationError("give at least one recipe") }
    }

    func run() throws {
        var failed = 0
        for path in recipes {
            do {
                let run = try RecipeArguments.parse([path]).run()
                try run.validate(checkingData: !noData)
                print("ok: \(path)")
            } catch {
                failed += 1
                standardError("\(error)")
            }
        }
        if failed > 0 { throw UsageError("\(failed) of \(recipes.count) recipes are invalid") }
    }
}
