import ArgumentParser
import Foundation
import LoRA
import NN
import Tensor

/// `lorakit bench lora-layers`: a training step (forward + backward) of one layer with LoRA r=16
/// against the same layer trained in full: Linear 4096→4096 on 2048 tokens and Conv2d 256→256 3×3
/// at 14×14, batch 32. Reports time, bytes the forward leaves on the tape, and the step's peak bytes.
struct BenchLoRALayersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lora-layers",
        abstract: "Time a LoRA training step of a Linear and a Conv2d layer against full training."
    )

    @Option(help: "Timed runs; the median is reported.") var repeats = 5
    @Option(help: "Untimed warm-up runs.") var warmup = 2
    @Option(help: "LoRA rank.") var rank = 16
    @Option(help: "Kernel threads (default: the machine's cores).") var threads: Int?
    @Flag(help: "Print JSON instead of a table.") var json = false

    func validate() throws {
        guard repeats >= 1, warmup >= 0, rank >= 1 else {
            throw ValidationError("--repeats and --rank must be at least 1, --warmup at least 0")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    struct Result: Codable {
        var layer: String
        var mode: String
        var ms: Double
        var retainedBytes: Int
        var peakBytes: Int
    }

    func run() throws {
        if let threads { Threads.set(threads) }
        var rng = RandomGenerator(seed: 0)
        var results: [Result] = []

        // The layer's input comes from trainable layers below, so it requires a gradient in both modes.
        let tokens = Tensor.randn([2048, 4096], generator: &rng).requiringGrad()
        for lora in [false, true] {
            let (layer, forward) = try adapt(Linear(4096, 4096, generator: &rng), lora: lora, rng: &rng)
            results.append(measure("linear-4096", lora, clear: [tokens] + layer.namedParameters().map(\.tensor)) {
                forward(tokens)
            })
        }
        let images = Tensor.randn([32, 256, 14, 14], generator: &rng).requiringGrad()
        for lora in [false, true] {
            let (layer, forward) = try adapt(Conv2d(256, 256, kernelSize: 3, padding: 1, generator: &rng), lora: lora, rng: &rng)
            results.append(measure("conv-256@14", lora, clear: [images] + layer.namedParameters().map(\.tensor)) {
                forward(images)
            })
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(results), as: UTF8.self))
            return
        }
        print("threads: \(Threads.count), rank \(rank), median of \(repeats) steps (forward + backward)")
        print("layer         mode   ms/step   retained MB   peak MB   time LoRA/full")
        for r in results {
            let full = results.first { $0.layer == r.layer && $0.mode == "full" }!
            print(String(format: "%-13@ %-5@ %9.1f %13.1f %9.1f %@", r.layer as NSString, r.mode as NSString, r.ms,
                         Double(r.retainedBytes) / 1e6, Double(r.peakBytes) / 1e6,
                         r.mode == "lora" ? String(format: "%.2f", r.ms / full.ms) : ""))
        }
    }

    /// The layer, frozen with a LoRA adapter (B non-zero, as after some training), or trainable in
    /// full; with its forward.
    private func adapt<L: LoRAAdaptable & UnaryLayer>(_ layer: L, lora: Bool,
                                                      rng: inout RandomGenerator) throws -> (Module, (Tensor) -> Tensor) {
        guard lora else { return (layer, { layer($0) }) }
        let host = try layer.makeLoRAHost()
        guard let unary = host as? UnaryLayer else { throw BenchError.unknownMode("\(type(of: host)) is not a UnaryLayer", known: []) }
        host.freeze()
        try host.addAdapter("default", settings: AdapterSettings(rank: rank, alpha: Float(2 * rank)), seed: 1,
                            generator: &rng)
        let adapter = host.adapters["default"]!
        adapter.b = Tensor.randn(adapter.b.shape, std: 0.01, generator: &rng)
        return (host, { unary($0) })
    }

    private func measure(_ name: String, _ lora: Bool, clear: [Tensor], _ forward: () -> Tensor) -> Result {
        var times: [Double] = []
        var retained = 0, peak = 0
        for i in 0..<(warmup + repeats) {
            for t in clear { t.setGrad(nil) }
            let before = MemoryPool.liveBytes
            MemoryPool.resetPeak()
            let start = DispatchTime.now().uptimeNanoseconds
            let y = forward()
            let afterForward = MemoryPool.liveBytes
            y.backward(Tensor.ones(y.shape))
            let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
            if i >= warmup {
                times.append(ms)
                // What the forward holds beyond its output: the activations kept for backward.
                retained = afterForward - before - y.count * 4
                peak = MemoryPool.peakBytes - before
            }
        }
        times.sort()
        return Result(layer: name, mode: lora ? "lora" : "full", ms: times[times.count / 2], retainedBytes: retained,
                      peakBytes: peak)
    }
}
