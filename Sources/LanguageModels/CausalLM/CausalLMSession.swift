import Foundation
import LoRA
import NN
import SafeTensors
import Recipes
import Tasks
import Tensor
import Training

/// A decoder with its tokenizer, as a causal-LM run trains and uses it.
public final class CausalLMModel: TaskModel {
    public let llama: LlamaForCausalLM
    public let tokenizer: ChatTokenizer

    public init(llama: LlamaForCausalLM, tokenizer: ChatTokenizer) {
        self.llama = llama
        self.tokenizer = tokenizer
    }

    public var module: Module { llama }
    /// None: the output head is the model's own (tied to the embedding in SmolLM2).
    public var headKeys: [String] { [] }
}

/// One run of `causal_lm`: the decoder and tokenizer from `model.weights`, the splits read with
/// that tokenizer, the objective, and continuations for `predict`.
public final class CausalLMSession: TaskSession {
    public typealias Model = CausalLMModel
    public typealias Item = CausalLMExample
    public typealias Batch = CausalLMBatch
    public typealias Objective = CausalLMObjective

    public let setup: RunSetup
    private var splits: DatasetSplits<CausalLMExample, CausalLMBatch>?
    private var loadedTokenizer: ChatTokenizer?

    init(setup: RunSetup) throws {
        self.setup = setup
        splits = DatasetSplits(recipe: setup.recipe, readsFiles: true) { [unowned self] role, path in
            try self.read(role, path: path)
        }
    }

    private var recipe: Recipe { setup.recipe }

    private var dataOptions: Options { setup.dataOptions(owner: "data format \(recipe.data.format)", specs: CausalLMRecipeTask.dataOptions) }

    /// The pretrained model's location (`model.weights`).
    func baseURL() throws -> URL {
        guard let weights = recipe.model.weights else {
            throw setup.error("model.weights", "causal_lm needs a pretrained decoder: a GGUF file or a Hugging Face checkpoint directory")
        }
        return URL(fileURLWithPath: weights)
    }

    /// The tokenizer of `model.weights` (read once; without loading the model when data is read first).
    public func tokenizer() throws -> ChatTokenizer {
        if let loadedTokenizer { return loadedTokenizer }
        let tokenizer = try ChatTokenizer.load(from: try baseURL())
        loadedTokenizer = tokenizer
        return tokenizer
    }

    // MARK: - Model

    public func makeModel(weights: ModelWeights) throws -> CausalLMModel {
        let url = try baseURL()
        let llama: LlamaForCausalLM
        if LanguageModelsPlugin.isGGUF(url) {
            llama = try LlamaForCausalLM.load(gguf: url)
        } else {
            llama = try LlamaForCausalLM.load(from: url)
        }
        let options = setup.modelOptions(owner: "architecture llama", specs: CausalLMRecipeTask.modelOptions)
        llama.model.checkpointsBlocks = try options.bool("gradient_checkpointing", default: false)
        if try options.bool("dequantize", default: false) { try llama.dequantize() }
        // A complete trained model (a full fine-tuning run's model.safetensors): its weights, strictly.
        if case let .complete(file) = weights {
            do { try llama.load(try SafeTensorsFile(path: file.path).tensors(), strict: true) } catch {
                throw LlamaError.unreadableFile(path: file.path, reason: "\(error)")
            }
        }
        return CausalLMModel(llama: llama, tokenizer: try tokenizer())
    }

    public func objective(for model: CausalLMModel) throws -> CausalLMObjective {
        CausalLMObjective(model: model.llama, tokenizer: model.tokenizer, exactMatch: recipe.eval.metrics.contains("exact_match"))
    }

    /// The name of the llama.cpp adapter written beside the PEFT files.
    public static let ggufAdapterFile = "adapter.gguf"

    /// For a GGUF base, the adapter in llama.cpp's format too (`adapter.gguf`: `llama-cli -m
    /// BASE.gguf --lora adapter.gguf`).
    public func exportAdapter(_ lora: LoRAModel, of model: CausalLMModel, to directory: URL) throws {
        guard LanguageModelsPlugin.isGGUF(try baseURL()) else { return }
        try LlamaLoRAGGUF.write(lora, config: model.llama.config, to: directory.appendingPathComponent(Self.ggufAdapterFile).path)
    }

    // MARK: - Data

    public var hasValidationData: Bool { splits?.hasValidation ?? false }

    public func dataset(_ role: DataRole) throws -> TaskDataset<CausalLMExample, CausalLMBatch> {
        guard let splits else { preconditionFailure("splits are set in init") }
        return try splits.dataset(role)
    }

    private func read(_ role: DataRole, path: URL?) throws -> TaskDataset<CausalLMExample, CausalLMBatch> {
        guard let path else { throw TaskError.missingSplit(role: role, key: "data.\(role.rawValue)") }
        let tokenizer = try tokenizer()
        let options = dataOptions
        let reader = CausalLMReader(tokenizer: tokenizer, maxTokens: try options.int("max_tokens", default: 512))
        let examples: [CausalLMExample]
        switch recipe.data.format {
        case "lm_text":
            examples = try reader.plainText(path, separator: try options.string("separator", default: "\n\n"))
        default:
            let read = try reader.jsonLines(path)
            if read.cut > 0 {
                setup.log("\(path.lastPathComponent): \(read.cut) sequences longer than data.options.max_tokens were cut"
                          + (read.dropped > 0 ? ", \(read.dropped) of them left with nothing to learn and dropped" : ""))
            }
            examples = read.examples
        }
        guard !examples.isEmpty else {
            throw CausalLMDataError(location: path.path, reason: "no examples with tokens to learn")
        }
        let padding = tokenizer.tokenizer.padding ?? tokenizer.tokenizer.eos ?? 0
        if try options.bool("packing", default: false) {
            // Rows of up to max_tokens; lengths are not grouped, so that short and long sequences share rows.
            let rowLength = try options.int("max_tokens", default: 512)
            return TaskDataset(CausalLMDataset(examples: examples),
                               collate: { CausalLMBatch(packing: $0, rowLength: rowLength, padding: padding) })
        }
        return TaskDataset(CausalLMDataset(examples: examples), collate: { CausalLMBatch($0, padding: padding) },
                           lengths: examples.map(\.ids.count))
    }

    // MARK: - Predict

    public func predict(_ inputs: [String], with model: CausalLMModel) throws -> [Prediction] {
        let options = dataOptions
        let chat = try options.bool("chat_prompts", default: false)
        let settings = GenerationSettings(maxTokens: try options.int("max_new_tokens", default: 128))
        let generator = LanguageModelTextGenerator(model: model.llama, tokenizer: model.tokenizer, summary: "")
        return try inputs.map { input in
            let request: GenerationInput = chat ? .chat([ChatMessage(role: "user", content: input)]) : .text(input)
            let result: GenerationResult
            do { result = try generator.generate(request, settings: settings) { _ in } } catch {
                throw PredictionError(input: input, reason: "\(error)")
            }
            let prompt = try generator.promptTokens(request)
            let logProbabilities = try Self.logProbabilities(of: result.tokens, after: prompt, model: model.llama)
            return Prediction(input: input, fields: [
                "completion": .string(result.text), "tokens": .array(result.tokens.map { .integer($0) }),
                "token_logprobs": .array(logProbabilities.map { .number(Double($0)) }),
                "prompt_tokens": .integer(result.promptTokens),
            ], summary: "\(input) → \(result.text)")
        }
    }
}

extension CausalLMSession {
    /// The log-probability of each of `tokens` given `prompt` and the tokens before it, from one
    /// forward pass over the whole sequence (what another implementation can be compared on).
    static func logProbabilities(of tokens: [Int], after prompt: [Int], model: LlamaForCausalLM) throws -> [Float] {
        guard !tokens.isEmpty else { return [] }
        let ids = prompt + tokens
        let logits = try withNoGrad {
            try model.logits(Tensor(indices: Array(ids.dropLast()), shape: [1, ids.count - 1]))
                .slice(axis: 1, start: prompt.count - 1).logSoftmax(axis: -1)
        }
        let v = logits.shape[2], values = logits.scalars
        return tokens.enumerated().map { i, token in values[i * v + token] }
    }
}

/// Examples held in memory (token ids are small: a million tokens is 8 MB).
struct CausalLMDataset: Dataset {
    let examples: [CausalLMExample]
    var count: Int { examples.count }
    func item(at index: Int, context: inout ItemContext) throws -> CausalLMExample { examples[index] }
}
