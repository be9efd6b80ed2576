import Foundation
import Recipes
import Tasks

/// Causal language modelling as recipes name it (`task: causal_lm`): a decoder learns to continue
/// text — plain documents, completions of prompts, or the assistant's turns of conversations —
/// with LoRA on its frozen base, which stays quantised as the GGUF file stores it (QLoRA's setting),
/// or in full on the decoded weights for comparison.
///
/// - `model.architecture: llama`, `model.weights`: a GGUF file (the tokenizer and chat template
///   come from it) or a Hugging Face checkpoint's `model.safetensors` (with `config.json`,
///   `tokenizer.json`, and `tokenizer_config.json` for the chat template, beside it).
/// - `train.mode`: `lora` on the frozen base, or `full` on Float32 weights
///   (`model.options.dequantize: true` for a GGUF), which writes `model.safetensors` under
///   `transformers`' keys.
/// - `data.format`: `lm_jsonl` (one JSON object per line: `text`, `prompt`/`completion` or
///   `messages`; see `CausalLMReader`) or `lm_text` (documents of a plain-text file).
/// - Metrics: the loss (mean over target tokens), `perplexity`, `token_accuracy`, and
///   `exact_match` (greedy completions of prompted examples) when `eval.metrics` lists it.
/// - `predict` continues each input (a prompt, or a user message with `data.options.chat_prompts`).
public struct CausalLMRecipeTask: RecipeTask {
    public let name = "causal_lm"
    public let summary = "a decoder continues text (plain, prompt/completion or chat); loss on targets only; perplexity, exact match"

    public static let architectures = ["llama"]
    public static let formats = ["lm_jsonl", "lm_text"]
    public static let metrics = ["exact_match", "perplexity", "token_accuracy"]

    public static let modelOptions: [OptionSpec] = [
        .boolean("dequantize", default: false,
                 help: "decode the GGUF's quantised matrices to Float32 weights (needed for full fine-tuning; 4 bytes per weight)"),
        .boolean("gradient_checkpointing", default: false,
                 help: "recompute each decoder block in backward instead of keeping its activations (less memory, more time)"),
    ]
    public static let dataOptions: [OptionSpec] = [
        .integer("max_tokens", min: 2, default: 512, help: "longest sequence in tokens; longer ones are cut"),
        .boolean("packing", default: false,
                 help: "pack each batch's sequences into rows of up to max_tokens (positions restart, no attention across sequences) instead of padding each"),
        .string("separator", help: "lm_text: what separates documents (default: a blank line)"),
        .boolean("chat_prompts", default: false, help: "predict renders each input as a user message with the chat template"),
        .integer("max_new_tokens", min: 1, default: 128, help: "predict: tokens generated at most per input"),
    ]

    public init() {}

    public func makeSession(_ setup: RunSetup) throws -> CausalLMSession { try CausalLMSession(setup: setup) }

    public func validation(of recipe: Recipe, registry: Registry) -> TaskValidation {
        TaskValidation(architectures: RecipeNames(Self.architectures), dataFormats: RecipeNames(Self.formats),
                       metrics: RecipeNames(Self.metrics), checks: [{ recipe in self.problems(in: recipe) }],
                       pathOptions: RecipeChecks.pathOptions(recipe, model: Self.modelOptions, data: Self.dataOptions, transforms: []))
    }

    public func listing(in registry: Registry) -> [String] {
        ["architectures (model.architecture): llama — a Llama-architecture decoder from a GGUF file (kept quantised) or a Hugging Face checkpoint",
         "data formats (data.format; data.options): lm_jsonl (text | prompt, completion | messages per line), lm_text (plain documents)"]
            + optionListing(Self.dataOptions)
            + ["metrics (eval.metrics): " + Self.metrics.joined(separator: ", ")]
    }

    func problems(in recipe: Recipe) -> [RecipeProblem] {
        var list = RecipeChecks.modelOptions(recipe, specs: Self.modelOptions) + RecipeChecks.dataOptions(recipe, specs: Self.dataOptions)
        if recipe.model.weights == nil {
            list.append(RecipeProblem(key: "model.weights", kind: .missingKey(
                reason: "causal_lm starts from a pretrained decoder: a GGUF file or a Hugging Face checkpoint directory")))
        }
        if recipe.train.mode == .linearProbe {
            list.append(.invalid("train.mode", "causal_lm has no separate head for a linear probe; use lora or full"))
        }
        var dequantize = false
        if case .bool(true)? = recipe.model.options["dequantize"] { dequantize = true }
        if recipe.train.mode == .full, recipe.model.weights?.hasSuffix(".gguf") == true, !dequantize {
            list.append(.invalid("train.mode", "full fine-tuning trains every weight, and a GGUF's are quantised: "
                                 + "set model.options.dequantize: true (Float32 weights, 4 bytes each)"))
        }
        if !recipe.data.transforms.isEmpty {
            list.append(.invalid("data.transforms", "causal_lm data takes no transforms"))
        }
        return list
    }
}
