import ArgumentParser
import Foundation
import LoRA
import NN
import Recipes
import Tensor
import Training

/// A recipe and `key=value` overrides, shared by the recipe commands.
struct RecipeArguments: ParsableArguments {
    @Argument(help: "The recipe (.yaml).") var recipe: String
    @Argument(help: "Overrides of recipe keys, e.g. lora.rank=32 train.epochs=1.") var overrides: [String] = []

    /// The recipe, validated; missing files under `unused` keys are not errors (see `RecipeRun.validate`).
    func load(ignoringMissingFilesOf unused: Set<String> = []) throws -> RecipeRun {
        let run = try RecipeRun(path: recipe, overrides: overrides, plugins: LoRAKitCLI.plugins)
        try run.validate(ignoringMissingFilesOf: unused)
        return run
    }
}

func standardError(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }

func printJSON(_ object: Any) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

/// `lorakit train RECIPE [key=value …] [--resume]`.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train per a recipe; writes the adapter (or weights), checkpoints, metrics and the resolved recipe."
    )

    @OptionGroup var arguments: RecipeArguments
    @Flag(help: "Continue from the last complete checkpoint in the output directory.") var resume = false
    @Flag(help: "With --resume: accept a recipe that differs from the checkpoint's.") var force = false

    func run() throws {
        let run = try arguments.load()
        let r = try run.train(resume: resume, force: force, log: standardError)
        let m = r.summary.metrics
        print(String(format: "trained %d steps in %.1f s (%.3f s/step); trainable parameters %d of %d (%.2f %%)",
                     r.summary.steps, r.seconds, r.meanStepSeconds, r.trainableParameters, r.totalParameters,
                     100 * Double(r.trainableParameters) / Double(max(r.totalParameters, 1))))
        if !m.isEmpty {
            print("validation: " + m.sorted { $0.key < $1.key }.map { String(format: "%@ %.4f", $0.key, $0.value) }
                .joined(separator: ", "))
        }
        if let reason = r.summary.stopReason { print("stopped early: \(reason)") }
        print("wrote \(r.artifact.path)")
    }
}

/// `lorakit eval RECIPE [--adapter DIR] [--weights FILE] [key=value …] [--json]`.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Metrics of the recipe's model (with an adapter or trained weights) on the validation or test split."
    )

    @OptionGroup var arguments: RecipeArguments
    @Option(help: "A PEFT adapter directory (default: the run's own output, if any).") var adapter: String?
    @Option(help: "A safetensors file replacing the recipe's weights.") var weights: String?
    @Option(help: "The split: validation or test.") var split = "validation"
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        guard let role = DataRole(rawValue: split), role != .train else {
            throw UsageError("--split must be validation or test, got \(split)")
        }
        let run = try arguments.load()
        let (built, _) = try run.trainedModel(adapter: adapter, weights: weights)
        let metrics = try run.evaluate(built, role: role)
        if json { try printJSON(metrics.mapValues { $0.isFinite ? $0 as Any : NSNull() }) } else {
            for (k, v) in metrics.sorted(by: { $0.key < $1.key }) { print(String(format: "%@: %.4f", k, v)) }
        }
    }
}

/// `lorakit predict RECIPE [--weights FILE] [--adapter DIR] --input PATH… [--json]`.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Predict classes for inputs with the recipe's model and preprocessing; one JSON object per input."
    )

    @OptionGroup var arguments: RecipeArguments
    @Option(help: "A PEFT adapter directory (default: the run's own output, if any).") var adapter: String?
    @Option(help: "A safetensors file replacing the recipe's weights.") var weights: String?
    @Option(parsing: .upToNextOption, help: "Inputs: image files, texts, or a file with one text per line.") var input: [String] = []
    @Flag(help: "Print one JSON object per input.") var json = false

    func validate() throws {
        if input.isEmpty { throw ValidationError("give at least one --input") }
    }

    func run() throws {
        // Predict reads no data split (class names come from them only when they exist), nor the
        // recipe's weights when --weights replaces them.
        var unused: Set<String> = ["data.train", "data.validation", "data.test", "data.image_directory"]
        if weights != nil { unused.insert("model.weights") }
        let run = try arguments.load(ignoringMissingFilesOf: unused)
        let (built, _) = try run.trainedModel(adapter: adapter, weights: weights)
        built.module.eval()
        guard let makeLoader = run.registry.inputLoaders[run.recipe.data.format] else {
            throw UsageError("data format \(run.recipe.data.format) cannot read single inputs for predict")
        }
        let load = try makeLoader(run.dataRequest(.validation))
        let names = run.classNames
        for path in try expandedInputs(textual: run.registry.textInputFormats.contains(run.recipe.data.format)) {
            let x: Tensor
            do { x = try load(path) } catch { throw UsageError("\(path): \(error)") }
            let logits = try withNoGrad { try built.forward(built.module, x.unsqueezed(0)) }
            let values = logits.scalars
            let probabilities = logits.softmax(axis: -1).scalars
            let best = probabilities.indices.max { probabilities[$0] < probabilities[$1] } ?? 0
            let label: Any = names.map { $0.indices.contains(best) ? $0[best] : String(best) } ?? best
            if json {
                try printJSON(["input": path, "logits": values, "probabilities": probabilities, "label": label,
                               "class_index": best])
            } else {
                print("\(path): \(label) (p = \(String(format: "%.3f", probabilities[best])))")
            }
        }
    }
}

extension PredictCommand {
    /// The inputs to predict: as given, except that for text formats an input naming an existing
    /// file stands for its lines (one text per line; blank lines skipped).
    func expandedInputs(textual: Bool) throws -> [String] {
        guard textual else { return input }
        var texts: [String] = []
        for item in input {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: item, isDirectory: &isDirectory), !isDirectory.boolValue else {
                texts.append(item)
                continue
            }
            let content: String
            do { content = try String(contentsOfFile: item, encoding: .utf8) } catch {
                throw UsageError("\(item): cannot read it as UTF-8 text (\(error.localizedDescription))")
            }
            texts += content.split(whereSeparator: \.isNewline).map(String.init)
                .filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        }
        return texts
    }
}

/// `lorakit merge RECIPE --adapter DIR --out FILE`.
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge an adapter into the base weights and write plain safetensors under the base keys."
    )

    @OptionGroup var arguments: RecipeArguments
    @Option(help: "The PEFT adapter directory.") var adapter: String
    @Option(help: "The merged safetensors file to write.") var out: String

    func run() throws {
        let run = try arguments.load()
        let (_, lora) = try run.trainedModel(adapter: adapter, weights: nil)
        guard let lora else { throw UsageError("--adapter \(adapter) holds no adapter") }
        try lora.saveMerged(to: out)
        print("wrote \(out)")
    }
}

/// `lorakit validate RECIPE…`.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "validate", abstract: "Check recipes without running them.")

    @Argument(help: "Recipes to check.") var recipes: [String]

    func run() throws {
        var failed = 0
        for path in recipes {
            do {
                _ = try RecipeArguments.parse([path]).load()
                print("ok: \(path)")
            } catch {
                failed += 1
                standardError("\(error)")
            }
        }
        if failed > 0 { throw UsageError("\(failed) of \(recipes.count) recipes are invalid") }
    }
}
