import ArgumentParser
import AudioModels
import Foundation
import LoRA
import NN
import Tensor
import Training

/// `lorakit bench audio`: a training step of the audio Transformer (`audio_transformer`, Whisper's
/// encoder layout) at a realistic size — 10 s clips (1,000 log-mel frames of 80 bins), batch 8,
/// width 256, 6 layers, 4 heads, FFN 1024, 12 classes, random weights — forward, cross-entropy,
/// backward and an AdamW step, in two modes:
///
/// - `lora-r8`: LoRA r = 8 (alpha 16, no dropout) on `q_proj`, `k_proj`, `v_proj`, `out_proj`,
///   `fc1`, `fc2`, classifier trained (`modules_to_save`);
/// - `full`: every parameter trained.
///
/// Each mode runs in a fresh process, so that each reports its own peak resident memory.
/// `scripts/reference/audio_peft.py` times the same model in PyTorch + PEFT and, given
/// `--lorakit`, alternates with this command round by round.
struct BenchAudioCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audio",
        abstract: "Time a LoRA and a full fine-tuning step of the audio Transformer (10 s clips by default)."
    )

    static let allModes = ["lora-r8", "full"]

    @Flag(help: "Print one JSON array of {mode, step_ms, items_per_s, peak_rss_mib, trainable_params, cpu_ms}.")
    var json = false
    @Option(help: "Modes to run (comma-separated): \(BenchAudioCommand.allModes.joined(separator: ", ")).")
    var modes = BenchAudioCommand.allModes.joined(separator: ",")
    @Option(help: "Timed steps per mode; the median is reported.") var steps = 5
    @Option(help: "Untimed steps before timing.") var warmup = 2
    @Option(help: "Kernel threads.") var threads = 2
    @Option(help: "Clips per batch.") var batch = 8
    @Option(help: "Log-mel frames per clip (100 per second).") var frames = 1000
    @Option(help: "Mel bins.") var mels = 80
    @Option(help: "Model width.") var width = 256
    @Option(help: "Encoder layers.") var layers = 6
    @Option(help: "Attention heads.") var heads = 4
    @Option(help: "Feed-forward width.") var ffn = 1024
    @Option(help: "Classes.") var classes = 12
    @Option(help: .hidden) var child: String?

    var config: AudioTransformerConfig { AudioTransformerConfig(mels: mels, width: width, layers: layers, heads: heads, ffn: ffn) }

    func validate() throws {
        guard steps >= 1, warmup >= 0, threads >= 1, batch >= 1, frames >= 1, classes >= 2 else {
            throw ValidationError("--steps, --threads, --batch and --frames must be at least 1, --classes at least 2")
        }
        if let problem = config.problem { throw ValidationError(problem) }
        for mode in modeList + (child.map { [$0] } ?? []) where !Self.allModes.contains(mode) {
            throw ValidationError("unknown mode \(mode); modes: \(Self.allModes.joined(separator: ", "))")
        }
    }

    private var modeList: [String] { modes.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }

    func run() throws {
        if let child {
            print(try BenchProcess.json([try step(mode: child)]))
            return
        }
        var results: [ModelBenchResult] = []
        for mode in modeList {
            results += try BenchProcess.runChild([
                "bench", "audio", "--child", mode, "--steps", "\(steps)", "--warmup", "\(warmup)", "--threads", "\(threads)",
                "--batch", "\(batch)", "--frames", "\(frames)", "--mels", "\(mels)", "--width", "\(width)", "--layers", "\(layers)",
                "--heads", "\(heads)", "--ffn", "\(ffn)", "--classes", "\(classes)",
            ])
        }
        try BenchProcess.report(results, json: json, title: "audio Transformer (width \(width), \(layers) layers), batch \(batch) × "
                                + "\(frames) frames × \(mels) mels, \(threads) threads, median of \(steps) steps after \(warmup) warm-up steps, "
                                + "each mode in its own process")
    }

    func step(mode: String) throws -> ModelBenchResult {
        Threads.set(threads)
        var rng = RandomGenerator(seed: 42)
        let model = AudioTransformer(config: config, classes: classes, generator: &rng)
        model.train()
        let learningRate: Float
        if mode == "lora-r8" {
            try LoRAModel(wrapping: model).addAdapter(config: LoRAConfig(
                rank: 8, alpha: 16, dropout: 0, targetModules: ["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"],
                modulesToSave: ["classifier"]), generator: &rng)
            learningRate = 1e-3
        } else {
            learningRate = 1e-4
        }
        let optimizer = try AdamW(parameters: model.trainableParameters(), learningRate: learningRate)
        let x = Tensor((0..<(batch * mels * frames)).map { _ in rng.nextNormal() }, shape: [batch, mels, frames])
        let labels = Tensor(indices: (0..<batch).map { _ in Int(rng.next() % UInt64(classes)) }, shape: [batch])
        return try BenchProcess.trainingSteps(mode: mode, warmup: warmup, steps: steps, items: batch, tokens: nil,
                                              trainable: model.trainableParameterCount) {
            optimizer.zeroGrad()
            let loss = crossEntropy(logits: try model.logits(x), targets: labels)
            loss.backward()
            optimizer.step()
        }
    }
}
