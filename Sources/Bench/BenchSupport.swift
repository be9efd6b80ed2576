import ArgumentParser
import Tensor
import Foundation

/// What a model benchmark reports for one mode (the `--json` schema of `lorakit bench resnet34`
/// and `lorakit bench bert`).
struct ModelBenchResult: Codable {
    var mode: String
    /// Median time of one step in milliseconds.
    var step_ms: Double
    /// Items (images, sequences) per second at the median step time.
    var items_per_s: Double
    /// The process's peak resident memory (VmHWM) in MiB.
    var peak_rss_mib: Double
    var trainable_params: Int
    /// Tokens per second (text models).
    var tokens_per_s: Double?
    /// Median processor time (user + system, all threads) of a step: the work done, which other
    /// processes on the machine inflate far less than the wall time.
    var cpu_ms: Double?
    /// The most bytes tensors held at once (MiB), and the bytes the caching allocator held from
    /// the system at the end (MiB): what of the resident memory is tensors.
    var peak_tensor_mib: Double? = MemoryPool.peakBytes.mib
    var reserved_mib: Double? = MemoryPool.reservedBytes.mib
}

private extension Int {
    var mib: Double { Double(self) / 1_048_576 }
}

/// Helpers for benchmarks that run each mode in a fresh process, so that each mode's peak
/// resident memory is its own.
enum BenchProcess {
    /// The process's peak resident set size in MiB (`VmHWM` of /proc/self/status); 0 where unknown.
    static func peakResidentMiB() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kib = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
            return kib / 1024
        }
        return 0
    }

    /// User plus system time of the whole process (every thread) so far, in milliseconds.
    static func processorMilliseconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e3
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e3
    }

    /// The median of `values` (which must not be empty).
    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }

    /// Times `step` `repeats` times after `warmup` untimed runs; returns seconds per run.
    static func time(warmup: Int, repeats: Int, _ step: () throws -> Void) rethrows -> [Double] {
        for _ in 0..<warmup { try step() }
        var times: [Double] = []
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            try step()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return times
    }

    /// Runs this executable again with `arguments` and decodes the JSON array of results it
    /// prints on its last line of standard output.
    static func runChild(_ arguments: [String]) throws -> [ModelBenchResult] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0,
              let line = text.split(separator: "\n").last,
              let result = try? JSONDecoder().decode([ModelBenchResult].self, from: Data(line.utf8)) else {
            throw BenchError.childFailed(arguments: arguments, status: process.terminationStatus, output: text)
        }
        return result
    }

    /// `value` as one line of JSON with sorted keys (stable output for scripts).
    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Prints `results` as one JSON array (keys sorted) or as a table (with CPU time and tokens/s
    /// columns when the results have them).
    static func report(_ results: [ModelBenchResult], json: Bool, title: String) throws {
        if json {
            print(try Self.json(results))
            return
        }
        let text = results.contains { $0.tokens_per_s != nil }
        print(title)
        print("mode                 step ms" + (text ? "    CPU ms" : "") + "    items/s" + (text ? "   tokens/s" : "")
              + "   peak RSS MiB   trainable params")
        for r in results {
            let mode = r.mode.padding(toLength: max(18, r.mode.count), withPad: " ", startingAt: 0)
            print(mode + String(format: " %9.1f", r.step_ms) + (text ? String(format: " %9.0f", r.cpu_ms ?? 0) : "")
                  + String(format: " %10.2f", r.items_per_s) + (text ? String(format: " %10.1f", r.tokens_per_s ?? 0) : "")
                  + String(format: " %14.0f %18d", r.peak_rss_mib, r.trainable_params))
        }
    }

    /// Times a training `step` (forward, loss, backward, optimizer) `steps` times after `warmup`
    /// untimed runs, and reports the median wall and processor time of a step with this
    /// process's peak memory; `items` and `tokens` are what one step processes.
    static func trainingSteps(mode: String, warmup: Int, steps: Int, items: Int, tokens: Int?, trainable: Int,
                              _ step: () throws -> Void) rethrows -> ModelBenchResult {
        var times: [Double] = [], cpuTimes: [Double] = []
        for index in 0..<(warmup + steps) {
            let start = DispatchTime.now().uptimeNanoseconds, cpuStart = processorMilliseconds()
            try step()
            let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
            if index >= warmup {
                times.append(ms)
                cpuTimes.append(processorMilliseconds() - cpuStart)
            }
        }
        let perSecond = Double(items) / (median(times) / 1000)
        func rounded(_ x: Double, _ places: Double) -> Double { (x * places).rounded() / places }
        return ModelBenchResult(mode: mode, step_ms: rounded(median(times), 10), items_per_s: rounded(perSecond, 100),
                                peak_rss_mib: rounded(peakResidentMiB(), 10), trainable_params: trainable,
                                tokens_per_s: tokens.map { rounded(perSecond * Double($0) / Double(items), 10) },
                                cpu_ms: rounded(median(cpuTimes), 10))
    }
}

enum BenchError: Error, CustomStringConvertible {
    case childFailed(arguments: [String], status: Int32, output: String)
    case unknownMode(String, known: [String])

    var description: String {
        switch self {
        case let .childFailed(arguments, status, output):
            return "benchmark process `lorakit \(arguments.joined(separator: " "))` failed (status \(status)): \(output.suffix(2000))"
        case let .unknownMode(mode, known):
            return "unknown benchmark mode '\(mode)' (known: \(known.joined(separator: ", ")))"
        }
    }
}

extension ComputePrecision: ExpressibleByArgument {}

extension ComputePrecision {
    /// Runs `body` in this precision, first printing the fallback notice (to standard error)
    /// where the CPU has no bf16 units.
    func benchmarking<R>(_ body: () throws -> R) rethrows -> R {
        if let notice = ComputePrecision.fallbackNotice(for: self) {
            FileHandle.standardError.write(Data((notice + "\n").utf8))
        }
        return try withComputePrecision(self, body)
    }
}
