import ArgumentParser
import Foundation
import Tensor

/// `lorakit bench kernels`: GEMM and ResNet-34's convolutions (batch 8) on oneDNN, timed in
/// the layouts oneDNN chose (reorders excluded). `scripts/reference/kernels.py` times the same
/// in PyTorch and prints both side by side.
struct BenchKernelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "Time sgemm and ResNet-34 convolution kernels (forward, backward-data, backward-weights)."
    )

    @Flag(help: "Print one JSON array of {name, op, ms, gflops} instead of a table.")
    var json = false

    @Option(help: "Timed runs per kernel; the median is reported.")
    var repeats = 10

    @Option(help: "Untimed runs before timing.")
    var warmup = 3

    @Option(help: "Kernel threads (default: the machine's).")
    var threads: Int?

    @Option(help: "Batch size of the convolutions.")
    var batch = 8

    @Flag(help: "Also time the inference forward primitive, the Tensor API's conv2d forward (blocked input, weight reorder included), the weight reorder alone and backward-data's weight preparation.")
    var extra = false

    @Flag(help: "Print oneDNN's implementation and layouts per convolution (table mode).")
    var verbose = false

    func validate() throws {
        guard repeats >= 1, warmup >= 0, batch >= 1 else {
            throw ValidationError("--repeats and --batch must be at least 1, --warmup at least 0")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        if let threads { Threads.set(threads) }
        var results: [KernelTiming] = []
        for n in [1024, 2048] {
            var rng = RandomGenerator(seed: UInt64(n))
            let a = Tensor.uniform([n, n], low: -1, high: 1, generator: &rng)
            let b = Tensor.uniform([n, n], low: -1, high: 1, generator: &rng)
            let ms = medianMilliseconds { _ = a.matmul(b) }
            results.append(KernelTiming(name: "sgemm-\(n)", op: "gemm", ms: ms, flops: 2 * pow(Double(n), 3)))
        }
        var notes: [String] = []
        for shape in ConvolutionShape.resnet34 {
            let bench = ConvolutionBenchmark(batch: batch, inChannels: shape.inChannels,
                                             outChannels: shape.outChannels, size: shape.size, kernel: shape.kernel,
                                             stride: shape.stride, padding: shape.padding)
            let kernels: [(String, () -> Void)] = [("forward", bench.forward), ("backward-data", bench.backwardData),
                                                   ("backward-weights", bench.backwardWeights)]
            for (op, body) in kernels {
                results.append(KernelTiming(name: shape.name, op: op, ms: medianMilliseconds(body), flops: bench.flops))
            }
            if extra {
                results.append(KernelTiming(name: shape.name, op: "forward-inference",
                                            ms: medianMilliseconds(bench.forwardInference), flops: bench.flops))
                var rng = RandomGenerator(seed: 3)
                let x = Tensor.uniform([batch, shape.inChannels, shape.size, shape.size], low: -1, high: 1,
                                       generator: &rng)
                let w = Tensor.uniform([shape.outChannels, shape.inChannels, shape.kernel, shape.kernel],
                                       low: -0.1, high: 0.1, generator: &rng)
                // A blocked input, as the previous layer leaves it (its own layout choice).
                let blocked = x.conv2d(weight: Tensor.eye(shape.inChannels)
                    .reshaped([shape.inChannels, shape.inChannels, 1, 1]))
                let ms = medianMilliseconds {
                    _ = blocked.conv2d(weight: w, stride: IntPair(integerLiteral: shape.stride),
                                       padding: IntPair(integerLiteral: shape.padding))
                }
                results.append(KernelTiming(name: shape.name, op: "forward-api", ms: ms, flops: bench.flops))
                let reorder = medianMilliseconds(bench.reorderWeight)
                results.append(KernelTiming(name: shape.name, op: "weight-reorder", ms: reorder, flops: 0))
                let prepare = medianMilliseconds(bench.prepareBackwardDataWeight)
                results.append(KernelTiming(name: shape.name, op: "bwd-data-weight-prep", ms: prepare, flops: 0))
            }
            notes.append("\(shape.name): \(shape.description); \(bench.implementations.joined(separator: ", ")); "
                         + "layouts \(bench.layouts)")
        }
        if json {
            let data = try JSONSerialization.data(withJSONObject: results.map(\.json), options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("threads: \(Threads.count), batch: \(batch), median of \(repeats) after \(warmup) warm-up runs")
            print(pad("name", 12) + pad("op", 18) + pad("ms", 10, right: true) + pad("GFLOP/s", 10, right: true))
            for r in results {
                print(pad(r.name, 12) + pad(r.op, 18) + pad(String(format: "%.2f", r.ms), 10, right: true)
                      + pad(String(format: "%.1f", r.gflops), 10, right: true))
            }
            if verbose { notes.forEach { print($0) } }
        }
    }

    /// Median wall time of `repeats` runs after `warmup` runs, in milliseconds.
    func medianMilliseconds(_ body: () -> Void) -> Double {
        for _ in 0..<warmup { body() }
        var times: [Double] = []
        let clock = ContinuousClock()
        for _ in 0..<repeats {
            let d = clock.measure(body)
            times.append(Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) * 1e-15)
        }
        times.sort()
        return times.count % 2 == 1 ? times[times.count / 2] : (times[times.count / 2 - 1] + times[times.count / 2]) / 2
    }

    private func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - s.count))
        return right ? fill + s : s + fill
    }
}

/// One timed kernel.
struct KernelTiming {
    var name: String
    var op: String
    var ms: Double
    var flops: Double

    var gflops: Double { flops / (ms * 1e6) }

    var json: [String: Any] {
        ["name": name, "op": op, "ms": (ms * 1000).rounded() / 1000, "gflops": (gflops * 10).rounded() / 10]
    }
}

/// A convolution of ResNet-34 (torchvision), named as in the kernel benchmark.
struct ConvolutionShape {
    var name: String
    var inChannels: Int
    var outChannels: Int
    var size: Int
    var kernel: Int
    var stride: Int
    var padding: Int

    var description: String {
        "\(inChannels)→\(outChannels) \(kernel)×\(kernel)/\(stride) pad \(padding) @\(size)"
    }

    /// The four 3×3 stage convolutions and the 7×7 stem.
    static let resnet34: [ConvolutionShape] = [
        ConvolutionShape(name: "conv-a", inChannels: 64, outChannels: 64, size: 56, kernel: 3, stride: 1, padding: 1),
        ConvolutionShape(name: "conv-b", inChannels: 128, outChannels: 128, size: 28, kernel: 3, stride: 1, padding: 1),
        ConvolutionShape(name: "conv-c", inChannels: 256, outChannels: 256, size: 14, kernel: 3, stride: 1, padding: 1),
        ConvolutionShape(name: "conv-d", inChannels: 512, outChannels: 512, size: 7, kernel: 3, stride: 1, padding: 1),
        ConvolutionShape(name: "conv-e", inChannels: 3, outChannels: 64, size: 224, kernel: 7, stride: 2, padding: 3),
    ]
}
