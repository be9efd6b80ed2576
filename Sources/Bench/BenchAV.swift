import ArgumentParser
import AudioModels
import AudioVisualModels
import Foundation
import LoRA
import NN
import Tensor
import Training

/// `lorakit bench av`: a training step of the audio-visual model (`AVSpeechModel`) — 3 s clips
/// (300 log-mel frames of 80 bins, 75 grey mouth frames of 48 × 48), batch 8, width 128, 4 audio,
/// 2 video and 2 fusion layers, 10 classes, random weights — forward, the landmark MSE plus the
/// class cross-entropy, backward and an AdamW step, in two modes:
///
/// - `lora-r8`: LoRA r = 8 (alpha 16, no dropout) on every projection, feed-forward layer,
///   convolution, `proj` and `temporal`; both heads trained (`modules_to_save`);
/// - `full`: every parameter trained.
///
/// Each mode runs in a fresh process. `scripts/reference/av_peft.py` times the same model in
/// PyTorch + PEFT and, given `--lorakit`, alternates with this command round by round.
struct BenchAVCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "av",
        abstract: "Time a LoRA and a full fine-tuning step of the audio-visual model (3 s clips by default)."
    )

    static let allModes = ["lora-r8", "full"]

    @Flag(help: "Print one JSON array of {mode, step_ms, items_per_s, peak_rss_mib, trainable_params, cpu_ms}.")
    var json = false
    @Option(help: "Modes to run (comma-separated): \(BenchAVCommand.allModes.joined(separator: ", ")).")
    var modes = BenchAVCommand.allModes.joined(separator: ",")
    @Option(help: "Timed steps per mode; the median is reported.") var steps = 5
    @Option(help: "Untimed steps before timing.") var warmup = 2
    @Option(help: "Kernel threads.") var threads = 2
    @Option(help: "Clips per batch.") var batch = 8
    @Option(help: "Clip length in seconds (100 audio and 25 video frames per second).") var seconds = 3.0
    @Option(help: "Mouth frame side in pixels.") var size = 48
    @Option(help: "Mel bins.") var mels = 80
    @Option(help: "Model width.") var width = 128
    @Option(help: "Attention heads.") var heads = 4
    @Option(help: "Feed-forward width.") var ffn = 512
    @Option(help: "Audio encoder layers.") var audioLayers = 4
    @Option(help: "Video encoder layers.") var videoLayers = 2
    @Option(help: "Fusion (cross-attention) layers.") var fusionLayers = 2
    @Option(help: "Classes.") var classes = 10
    @Option(help: .hidden) var child: String?

    var config: AVSpeechConfig {
        AVSpeechConfig(mels: mels, width: width, heads: heads, ffn: ffn, audioLayers: audioLayers, videoLayers: videoLayers,
                       fusionLayers: fusionLayers, frameSize: size)
    }
    var audioFrames: Int { Int((seconds * 100).rounded()) }

    func validate() throws {
        guard steps >= 1, warmup >= 0, threads >= 1, batch >= 1, seconds >= 0.1, size >= 8, classes >= 2 else {
            throw ValidationError("--steps, --threads and --batch must be at least 1, --seconds at least 0.1, --size 8, --classes 2")
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
                "bench", "av", "--child", mode, "--steps", "\(steps)", "--warmup", "\(warmup)", "--threads", "\(threads)",
                "--batch", "\(batch)", "--seconds", "\(seconds)", "--size", "\(size)", "--mels", "\(mels)", "--width", "\(width)",
                "--heads", "\(heads)", "--ffn", "\(ffn)", "--audio-layers", "\(audioLayers)", "--video-layers", "\(videoLayers)",
                "--fusion-layers", "\(fusionLayers)", "--classes", "\(classes)",
            ])
        }
        try BenchProcess.report(results, json: json, title: "audio-visual model (width \(width), \(audioLayers)+\(videoLayers)+\(fusionLayers) "
                                + "layers), batch \(batch) × \(seconds) s (\(mels) mels, \(size)×\(size) frames), \(threads) threads, median of "
                                + "\(steps) steps after \(warmup) warm-up steps, each mode in its own process")
    }

    func step(mode: String) throws -> ModelBenchResult {
        Threads.set(threads)
        var rng = RandomGenerator(seed: 42)
        let model = AVSpeechModel(config: config, classes: classes, generator: &rng)
        model.train()
        let learningRate: Float
        if mode == "lora-r8" {
            try LoRAModel(wrapping: model).addAdapter(config: LoRAConfig(
                rank: 8, alpha: 16, dropout: 0,
                targetModules: ["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2", "conv1", "conv2", "conv3", "proj", "temporal"],
                modulesToSave: ["landmark_head", "classifier"]), generator: &rng)
            learningRate = 1e-3
        } else {
            learningRate = 1e-4
        }
        let optimizer = try AdamW(parameters: model.trainableParameters(), learningRate: learningRate)
        let tv = AVSpeechModel.videoFrames(audioFrames: audioFrames)
        let audio = Tensor((0..<(batch * mels * audioFrames)).map { _ in rng.nextNormal() }, shape: [batch, mels, audioFrames])
        let video = Tensor((0..<(batch * tv * size * size)).map { _ in rng.nextUniform() }, shape: [batch, tv, 1, size, size])
        let target = Tensor((0..<(batch * tv * config.landmarks)).map { _ in rng.nextUniform() }, shape: [batch, tv, config.landmarks])
        let labels = Tensor(indices: (0..<batch).map { _ in Int(rng.next() % UInt64(classes)) }, shape: [batch])
        return try BenchProcess.trainingSteps(mode: mode, warmup: warmup, steps: steps, items: batch, tokens: nil,
                                              trainable: model.trainableParameterCount) {
            optimizer.zeroGrad()
            let (landmarks, logits) = try model(audio: audio, video: video)
            let loss = mseLoss(predictions: landmarks, targets: target) + crossEntropy(logits: logits, targets: labels)
            loss.backward()
            optimizer.step()
        }
    }
}
