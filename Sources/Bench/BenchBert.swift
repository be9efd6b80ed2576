import ArgumentParser
import Foundation
import LoRA
import NN
import Tensor
import TextModels
import Training

/// `lorakit bench bert`: a training step of a BERT-base-shaped encoder (hidden 768, 12 layers,
/// 12 heads, FFN 3072, vocabulary 30522, random weights) with a 2-class head, batch 8 × 128
/// tokens: forward, cross-entropy, backward and an AdamW step, in three modes:
///
/// - `lora-qv-r8`: LoRA r = 8 (alpha 16, dropout 0.1) on `query` and `value`, classifier trained;
/// - `lora-all-r16`: LoRA r = 16 (alpha 32, dropout 0.1) on every encoder `Linear` (`query`,
///   `key`, `value`, `dense`; not the pooler), classifier trained;
/// - `full`: every parameter trained.
///
/// Each mode runs in a fresh process (the command runs itself with a hidden `--child` option), so
/// that each reports its own peak resident memory (`VmHWM`). `scripts/reference/bert_peft.py`
/// does the same with transformers + PEFT.
struct BenchBertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bert",
        abstract: "Time a LoRA and a full fine-tuning step of a BERT-base-shaped encoder."
    )

    static let allModes = ["lora-qv-r8", "lora-all-r16", "full"]

    @Flag(help: "Print one JSON array of {mode, step_ms, items_per_s, tokens_per_s, peak_rss_mib, trainable_params, cpu_ms}.")
    var json = false

    @Option(help: "Modes to run (comma-separated): \(BenchBertCommand.allModes.joined(separator: ", ")).")
    var modes = BenchBertCommand.allModes.joined(separator: ",")

    @Option(help: "Timed steps per mode; the median is reported.") var steps = 5
    @Option(help: "Untimed steps before timing.") var warmup = 2
    @Option(help: "Kernel threads.") var threads = 2
    @Option(help: "Sequences per batch.") var batch = 8
    @Option(help: "Tokens per sequence.") var sequence = 128
    @Option(help: "Encoder layers (12 for BERT-base; fewer for a quick run).") var layers = 12
    @Option(help: "Vocabulary size (30522 for BERT-base; smaller for a quick run).") var vocabulary = 30522
    @Option(help: "Arithmetic of the frozen layers: f32, or bf16 on the CPU's bf16 units (f32 with a notice without them).")
    var precision: ComputePrecision = .float32

    /// Runs one mode in this process and prints its result as one JSON object.
    @Option(help: .hidden) var child: String?

    func validate() throws {
        guard steps >= 1, warmup >= 0, threads >= 1, batch >= 1, sequence >= 2, layers >= 1, vocabulary >= 2 else {
            throw ValidationError("--steps, --threads, --batch and --layers must be at least 1, --sequence and --vocabulary at least 2")
        }
        guard sequence <= BertConfig.base.maxPositionEmbeddings else {
            throw ValidationError("--sequence must be at most \(BertConfig.base.maxPositionEmbeddings)")
        }
        for mode in modeList + (child.map { [$0] } ?? []) where !BenchBertCommand.allModes.contains(mode) {
            throw ValidationError("unknown mode \(mode); modes: \(BenchBertCommand.allModes.joined(separator: ", "))")
        }
    }

    private var modeList: [String] { modes.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }

    func run() throws {
        if let child {
            print(try BenchProcess.json([try precision.benchmarking { try BertStepBenchmark(settings: self).run(mode: child) }]))
            return
        }
        var results: [ModelBenchResult] = []
        for mode in modeList {
            results += try BenchProcess.runChild([
                "bench", "bert", "--child", mode, "--steps", "\(steps)", "--warmup", "\(warmup)",
                "--threads", "\(threads)", "--batch", "\(batch)", "--sequence", "\(sequence)",
                "--layers", "\(layers)", "--vocabulary", "\(vocabulary)", "--precision", precision.rawValue,
            ])
        }
        try BenchProcess.report(results, json: json, title: "BERT-base shape (\(layers) layers), batch \(batch) × \(sequence) tokens, "
                                + "\(threads) threads, median of \(steps) steps after \(warmup) warm-up steps, each mode in its own process, "
                                + "precision \(precision.rawValue)")
    }
}

/// One mode of `lorakit bench bert`, in the current process.
struct BertStepBenchmark {
    let settings: BenchBertCommand

    func run(mode: String) throws -> ModelBenchResult {
        Threads.set(settings.threads)
        var rng = RandomGenerator(seed: 42)
        var config = BertConfig.base
        config.layerCount = settings.layers
        config.vocabularySize = settings.vocabulary
        let model = BertForSequenceClassification(config: config, classes: 2, pooling: .pooler, generator: &rng)
        model.train()
        let learningRate: Float
        switch mode {
        case "lora-qv-r8":
            try LoRAModel(wrapping: model).addAdapter(config: LoRAConfig(
                rank: 8, alpha: 16, dropout: 0.1, targetModules: ["query", "value"], modulesToSave: ["classifier"]),
                generator: &rng)
            learningRate = 1e-4
        case "lora-all-r16":
            try LoRAModel(wrapping: model).addAdapter(config: LoRAConfig(
                rank: 16, alpha: 32, dropout: 0.1, targetModules: ["query", "key", "value", "dense"],
                excludeModules: ["pooler.dense"], modulesToSave: ["classifier"]), generator: &rng)
            learningRate = 1e-4
        default:
            learningRate = 2e-5
        }
        // As `lorakit train` does in bf16: the frozen base held in BF16 only.
        if mode != "full" && ComputePrecision.effective == .bfloat16 { model.storeFrozenWeightsInBF16() }
        let optimizer = try AdamW(parameters: model.trainableParameters(), learningRate: learningRate)
        let (n, t) = (settings.batch, settings.sequence)
        let ids = Tensor(indices: (0..<(n * t)).map { _ in 1 + Int(rng.next() % UInt64(config.vocabularySize - 1)) },
                         shape: [n, t])
        let labels = Tensor(indices: (0..<n).map { _ in Int(rng.next() % 2) }, shape: [n])
        return try BenchProcess.trainingSteps(mode: mode, warmup: settings.warmup, steps: settings.steps, items: n, tokens: n * t,
                                              trainable: model.trainableParameterCount) {
            optimizer.zeroGrad()
            let loss = crossEntropy(logits: model(ids), targets: labels)
            loss.backward()
            optimizer.step()
        }
    }
}
