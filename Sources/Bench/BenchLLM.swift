import ArgumentParser
import Foundation
import LanguageModels
import LoRA
import NN
import Tensor
import Training

/// `lorakit bench llm --model FILE.gguf`: a LoRA training step of a decoder whose base stays
/// quantised (QLoRA's setting), as `causal_lm` runs it: forward over a batch of random token
/// sequences, the shifted cross-entropy on every position (logits recomputed chunk by chunk in
/// backward), backward, and an AdamW step on the adapters. Modes:
///
///     lora-qv-r8     r = 8, alpha 16, dropout 0.05 on q_proj, v_proj
///     lora-all-r16   r = 16, alpha 32, dropout 0.05 on q, k, v, o, gate, up and down projections
///
/// Each mode runs in its own process, so that each reports its own peak resident memory.
/// `scripts/reference/llm_peft.py` times the same steps with transformers + PEFT (the model
/// loaded from the same GGUF, in float32) and, given `--lorakit`, alternates the two.
struct BenchLLMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llm",
        abstract: "Time a LoRA training step of a decoder from GGUF (base kept quantised)."
    )

    static let allModes = ["lora-qv-r8", "lora-all-r16"]

    @Option(help: "The GGUF file (e.g. data/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf).") var model: String
    @Flag(help: "Print one JSON array of {mode, step_ms, items_per_s, tokens_per_s, peak_rss_mib, trainable_params, cpu_ms}.")
    var json = false
    @Option(help: "Modes to run (comma-separated): \(BenchLLMCommand.allModes.joined(separator: ", ")).")
    var modes = BenchLLMCommand.allModes.joined(separator: ",")
    @Option(help: "Timed steps per mode; the median is reported.") var steps = 5
    @Option(help: "Untimed steps before timing.") var warmup = 2
    @Option(help: "Kernel threads.") var threads = 2
    @Option(help: "Sequences per batch.") var batch = 4
    @Option(help: "Tokens per sequence.") var sequence = 256
    @Flag(help: "Recompute each decoder block in backward (gradient checkpointing).") var gradientCheckpointing = false
    @Option(help: .hidden) var child: String?

    func validate() throws {
        guard steps >= 1, warmup >= 0, threads >= 1, batch >= 1, sequence >= 2 else {
            throw ValidationError("--steps, --threads and --batch must be at least 1, --sequence at least 2")
        }
        for mode in modeList where !Self.allModes.contains(mode) {
            throw ValidationError("unknown mode \(mode) (known: \(Self.allModes.joined(separator: ", ")))")
        }
    }

    private var modeList: [String] { modes.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }

    func run() throws {
        if let child {
            print(try BenchProcess.json([try LLMStepBenchmark(settings: self).run(mode: child)]))
            return
        }
        var results: [ModelBenchResult] = []
        for mode in modeList {
            results += try BenchProcess.runChild([
                "bench", "llm", "--model", model, "--child", mode, "--steps", "\(steps)", "--warmup", "\(warmup)",
                "--threads", "\(threads)", "--batch", "\(batch)", "--sequence", "\(sequence)",
            ] + (gradientCheckpointing ? ["--gradient-checkpointing"] : []))
        }
        try BenchProcess.report(results, json: json, title: "\(model): batch \(batch) × \(sequence) tokens, \(threads) threads, "
                                + (gradientCheckpointing ? "gradient checkpointing, " : "")
                                + "median of \(steps) steps after \(warmup) warm-up steps, each mode in its own process")
    }
}

/// One mode of `lorakit bench llm`, in the current process.
struct LLMStepBenchmark {
    let settings: BenchLLMCommand

    func run(mode: String) throws -> ModelBenchResult {
        Threads.set(settings.threads)
        var rng = RandomGenerator(seed: 42)
        let model = try LlamaForCausalLM.load(gguf: URL(fileURLWithPath: settings.model))
        model.train()
        model.model.checkpointsBlocks = settings.gradientCheckpointing
        let config = mode == "lora-qv-r8"
            ? LoRAConfig(rank: 8, alpha: 16, dropout: 0.05, targetModules: ["q_proj", "v_proj"])
            : LoRAConfig(rank: 16, alpha: 32, dropout: 0.05,
                         targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
        try LoRAModel(wrapping: model).addAdapter(config: config, generator: &rng)
        let optimizer = try AdamW(parameters: model.trainableParameters(), learningRate: 1e-4)
        let (n, t) = (settings.batch, settings.sequence)
        let vocabulary = model.config.vocabularySize
        let examples = (0..<n).map { _ in
            CausalLMExample(ids: (0..<t).map { _ in Int(rng.next() % UInt64(vocabulary)) }, targets: [Bool](repeating: true, count: t))
        }
        let batch = CausalLMBatch(examples, padding: 0)
        return try BenchProcess.trainingSteps(mode: mode, warmup: settings.warmup, steps: settings.steps, items: n, tokens: n * t,
                                              trainable: model.trainableParameterCount) {
            optimizer.zeroGrad()
            let (loss, _) = try CausalLMObjective.tokenLoss(model, batch)
            loss.backward()
            optimizer.step()
        }
    }
}
