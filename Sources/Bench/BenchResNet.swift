import ArgumentParser
import Foundation
import ImageModels
import LoRA
import NN
import Tensor
import Training

/// `lorakit bench resnet34`: one training step of ResNet-34 (forward, cross-entropy, backward,
/// AdamW update) at 224×224, batch 8, in three modes — LoRA r = 16 on the 35 convolutions of
/// layer1–layer4 with a new 5-class head trained in full, full fine-tuning, and a linear probe —
/// each in a fresh process so that its peak resident memory is its own.
/// `scripts/reference/resnet34_peft.py` does the same in PyTorch + PEFT.
///
/// With `--inference` it also times batch-1 inference of the base model and of the LoRA model
/// after merging (which should cost the same).
struct BenchResNetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resnet34",
        abstract: "Time ResNet-34 training steps: LoRA r=16, full fine-tuning, linear probe."
    )

    static let trainingModes = ["lora", "full", "probe"]
    static let inferenceModes = ["base-inference", "merged-inference"]

    @Option(help: "Image size (square).") var size = 224
    @Option(help: "Batch size of a training step.") var batch = 8
    @Option(help: "Kernel threads.") var threads = 2
    @Option(help: "LoRA rank.") var rank = 16
    @Option(help: "Timed steps; the median is reported.") var repeats = 5
    @Option(help: "Untimed warm-up steps.") var warmup = 2
    @Option(help: "Arithmetic of the frozen layers: f32, or bf16 on the CPU's bf16 units (f32 with a notice without them).")
    var precision: ComputePrecision = .float32
    @Option(help: "Comma-separated modes (default: lora,full,probe).") var modes: String?
    @Flag(help: "Also time batch-1 inference of the base and the merged LoRA model.") var inference = false
    @Flag(help: "Print one JSON array instead of a table.") var json = false
    @Flag(help: ArgumentHelp("Time LoRA and full fine-tuning steps alternately in one process and report the ratio.",
                             discussion: "Both modes then see the same machine load, step by step; peak memory is the process's, not per mode."))
    var interleave = false
    @Option(help: .hidden) var childMode: String?

    func validate() throws {
        guard size >= 32, batch >= 1, threads >= 1, rank >= 1, repeats >= 1, warmup >= 0 else {
            throw ValidationError("--size must be at least 32, --batch, --threads, --rank and --repeats at least 1, --warmup at least 0")
        }
        let known = Self.trainingModes + ["inference"]
        for mode in (modes.map { $0.split(separator: ",").map(String.init) } ?? []) where !known.contains(mode) {
            throw ValidationError("unknown mode \(mode); modes: \(known.joined(separator: ", "))")
        }
        if interleave && (modes != nil || inference) { throw ValidationError("--interleave times lora and full; it takes no --modes or --inference") }
    }

    func run() throws {
        if interleave {
            try precision.benchmarking { try measureInterleaved() }
            return
        }
        if let mode = childMode {
            let results = try precision.benchmarking { mode == "inference" ? try measureInference() : [try measure(mode: mode)] }
            print(try BenchProcess.json(results))
            return
        }
        var selected = modes.map { $0.split(separator: ",").map(String.init) } ?? Self.trainingModes
        if inference { selected.append("inference") }
        let known = Self.trainingModes + ["inference"]
        for mode in selected where !known.contains(mode) { throw BenchError.unknownMode(mode, known: known) }
        var results: [ModelBenchResult] = []
        for mode in selected {
            results += try BenchProcess.runChild([
                "bench", "resnet34", "--child-mode", mode, "--size", "\(size)", "--batch", "\(batch)",
                "--threads", "\(threads)", "--rank", "\(rank)", "--repeats", "\(repeats)", "--warmup", "\(warmup)",
                "--precision", precision.rawValue,
            ])
        }
        try BenchProcess.report(results, json: json, title:
            "ResNet-34 at \(size)×\(size), batch \(batch) (inference: batch 1), \(threads) threads, median of \(repeats), "
            + "precision \(precision.rawValue)")
    }

    /// LoRA and full fine-tuning steps alternated in this process, so that a slower or faster
    /// moment of a shared machine weighs on both: prints each mode's median step and the median
    /// of the per-round ratios LoRA / full.
    func measureInterleaved() throws {
        Threads.set(threads)
        var rng = RandomGenerator(seed: 1)
        let loraModel = ResNet.resnet34(classes: 5, generator: &rng)
        let wrapped = LoRAModel(wrapping: loraModel)
        try wrapped.addAdapter(config: Self.loraConfig(rank: rank), generator: &rng)
        let fullModel = ResNet.resnet34(classes: 5, generator: &rng)
        let x = Tensor.randn([batch, 3, size, size], generator: &rng)
        let labels = Tensor(indices: (0..<batch).map { $0 % 5 }, shape: [batch])
        var steps: [() -> Void] = []
        for model in [loraModel, fullModel] {
            model.train()
            let optimizer = try AdamW(groups: [ParameterGroup(name: "trainable", parameters: model.trainableParameters(),
                                                              learningRate: 1e-4)])
            steps.append {
                crossEntropy(logits: model(x), targets: labels).backward()
                optimizer.step()
                optimizer.zeroGrad()
            }
        }
        var times: [[Double]] = [[], []]
        for round in 0..<(warmup + repeats) {
            for (i, step) in steps.enumerated() {
                let start = DispatchTime.now().uptimeNanoseconds
                step()
                if round >= warmup { times[i].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6) }
            }
        }
        let ratios = zip(times[0], times[1]).map { $0 / $1 }
        let result = InterleavedResult(lora_step_ms: BenchProcess.median(times[0]), full_step_ms: BenchProcess.median(times[1]),
                                       ratio: BenchProcess.median(ratios), rounds: repeats)
        if json {
            print(try BenchProcess.json(result))
        } else {
            print(String(format: "LoRA %.1f ms, full %.1f ms per step (medians of %d alternating rounds); LoRA / full %.3f (median per round)",
                         result.lora_step_ms, result.full_step_ms, repeats, result.ratio))
        }
    }

    struct InterleavedResult: Encodable {
        var lora_step_ms: Double
        var full_step_ms: Double
        var ratio: Double
        var rounds: Int
    }

    /// Builds the model for `mode` and times its step in this process.
    func measure(mode: String) throws -> ModelBenchResult {
        Threads.set(threads)
        var rng = RandomGenerator(seed: 1)
        let model = ResNet.resnet34(classes: 5, generator: &rng)

        switch mode {
        case "lora":
            let lora = LoRAModel(wrapping: model)
            try lora.addAdapter(config: Self.loraConfig(rank: rank), generator: &rng)
            // As `lorakit train` does in bf16: the frozen base held in BF16 only.
            if ComputePrecision.effective == .bfloat16 { model.storeFrozenWeightsInBF16() }
        case "full":
            break
        case "probe":
            model.freeze()
            model.unfreeze(keys: ["fc."])
            if ComputePrecision.effective == .bfloat16 { model.storeFrozenWeightsInBF16() }
        default:
            throw BenchError.unknownMode(mode, known: Self.trainingModes)
        }
        model.train()
        let optimizer = try AdamW(groups: [ParameterGroup(name: "trainable", parameters: model.trainableParameters(),
                                                          learningRate: 1e-4)])
        let x = Tensor.randn([batch, 3, size, size], generator: &rng)
        let labels = Tensor(indices: (0..<batch).map { $0 % 5 }, shape: [batch])
        let times = BenchProcess.time(warmup: warmup, repeats: repeats) {
            let loss = crossEntropy(logits: model(x), targets: labels)
            loss.backward()
            optimizer.step()
            optimizer.zeroGrad()
        }
        let seconds = BenchProcess.median(times)
        return ModelBenchResult(mode: mode, step_ms: seconds * 1000, items_per_s: Double(batch) / seconds,
                                peak_rss_mib: BenchProcess.peakResidentMiB(),
                                trainable_params: model.trainableParameterCount)
    }

    /// Batch-1 inference of a base ResNet-34 and of the same model with a LoRA adapter merged into
    /// it, timed alternately in one process so that both see the same machine load.
    func measureInference() throws -> [ModelBenchResult] {
        Threads.set(threads)
        var rng = RandomGenerator(seed: 1)
        let base = ResNet.resnet34(classes: 5, generator: &rng)
        let merged = ResNet.resnet34(classes: 5, generator: &rng)
        let lora = LoRAModel(wrapping: merged)
        try lora.addAdapter(config: Self.loraConfig(rank: rank), generator: &rng)
        try lora.merge()
        base.eval()
        merged.eval()
        let x = Tensor.randn([1, 3, size, size], generator: &rng)
        var times: [[Double]] = [[], []]
        withNoGrad {
            for round in 0..<(max(warmup, 3) + max(repeats, 20)) {
                for (i, model) in [base, merged].enumerated() {
                    let start = DispatchTime.now().uptimeNanoseconds
                    _ = model(x).plain()
                    if round >= max(warmup, 3) { times[i].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9) }
                }
            }
        }
        return zip(Self.inferenceModes, times).map { mode, t in
            let seconds = BenchProcess.median(t)
            return ModelBenchResult(mode: mode, step_ms: seconds * 1000, items_per_s: 1 / seconds,
                                    peak_rss_mib: BenchProcess.peakResidentMiB(), trainable_params: 0)
        }
    }

    /// LoRA on the 35 convolutions of layer1–layer4 (block convs and downsample convs), new head in full.
    static func loraConfig(rank: Int) -> LoRAConfig {
        LoRAConfig(rank: rank, alpha: Float(rank), targetModules: ["layer*.*.conv*", "layer*.*.downsample.0"],
                   modulesToSave: ["fc"])
    }
}
