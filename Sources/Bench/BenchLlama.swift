import ArgumentParser
import Foundation
import LanguageModels
import NN
import Tensor

/// `lorakit bench llama --model FILE.gguf`: generation at batch 1 with the KV cache, as a user
/// runs it: load the GGUF (weights kept quantised), read a prompt of `--prompt-tokens` ids (time
/// to first token: the prompt's forward, the head on its last position, the first greedy choice),
/// then `--new-tokens` greedy steps (tokens per second after the first). Every round runs in this
/// process after the first (warm); the process's peak resident memory (VmHWM) covers them all.
///
/// The prompt's ids are `100 + (i·7919 + 13) mod (V − 100)`, as `scripts/reference/llama_generate.py`
/// makes them for `transformers`' `generate`, which that script alternates with this command.
/// `--breakdown` times the parts of one decode step and of one prompt forward (matrix products,
/// the head, the rest: norms, RoPE, attention, elementwise).
struct BenchLlamaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llama",
        abstract: "Time generation (batch 1, KV cache) of a Llama GGUF: time to first token and tokens/s."
    )

    @Option(help: "The GGUF file (e.g. data/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf).") var model: String
    @Option(help: "Prompt length in tokens.") var promptTokens = 256
    @Option(help: "Tokens to generate per round.") var newTokens = 64
    @Option(help: "Rounds (the first includes one-time costs: primitive creation, first touches).") var rounds = 3
    @Option(help: "Kernel threads.") var threads = 2
    @Option(help: "Arithmetic of the quantised products with many input rows (the prompt): float32 or bfloat16 (the CPU's bf16 units).")
    var precision: String = "float32"
    @Flag(help: "Print one JSON object.") var json = false
    @Flag(help: "Also time the parts of a decode step and of a prompt forward.") var breakdown = false

    func validate() throws {
        guard promptTokens >= 1, newTokens >= 2, rounds >= 1, threads >= 1 else {
            throw ValidationError("--prompt-tokens and --rounds must be at least 1, --new-tokens at least 2")
        }
        guard let chosen = QuantizedMatmulPrecision(rawValue: precision) else {
            throw ValidationError("--precision must be float32 or bfloat16, got \(precision)")
        }
        guard QuantizedMatmulPrecision.isAvailable(chosen) else {
            throw ValidationError("--precision bfloat16: this CPU has no bf16 units that oneDNN uses")
        }
    }

    struct Round: Codable {
        var ttft_s: Double
        var decode_tokens_per_s: Double
        var total_s: Double
    }

    struct Result: Codable {
        var implementation = "lorakit"
        var prompt_tokens: Int
        var new_tokens: Int
        var threads: Int
        var precision: String
        var load_s: Double
        var weight_mib: Double
        var rounds: [Round]
        var peak_rss_mib: Double
        var breakdown: [String: Double]?
    }

    static func promptIds(count: Int, vocabulary: Int) -> [Int] {
        (0..<count).map { 100 + ($0 * 7919 + 13) % (vocabulary - 100) }
    }

    func run() throws {
        try withQuantizedMatmulPrecision(QuantizedMatmulPrecision(rawValue: precision) ?? .float32) { try measure() }
    }

    func measure() throws {
        Threads.set(threads)
        let start = DispatchTime.now()
        let llama = try LlamaForCausalLM.load(gguf: URL(fileURLWithPath: model))
        let load = seconds(since: start)
        let prompt = Self.promptIds(count: promptTokens, vocabulary: llama.config.vocabularySize)
        let generator = TokenGenerator(model: llama)
        var rounds: [Round] = []
        for _ in 0..<self.rounds {
            let out = try generator.generate(prompt: prompt, maxTokens: newTokens, sampler: TokenSampler(), stopTokens: [])
            rounds.append(Round(ttft_s: out.timeToFirstToken,
                                decode_tokens_per_s: Double(out.tokens.count - 1) / (out.seconds - out.timeToFirstToken),
                                total_s: out.seconds))
        }
        let parts = breakdown ? try timeParts(llama, prompt: prompt) : nil
        let result = Result(prompt_tokens: promptTokens, new_tokens: newTokens, threads: threads, precision: precision,
                            load_s: load,
                            weight_mib: Double(Self.weightBytes(llama)) / 1_048_576, rounds: rounds,
                            peak_rss_mib: BenchProcess.peakResidentMiB(), breakdown: parts)
        if json { print(try BenchProcess.json(result)); return }
        print("\(model): \(promptTokens)-token prompt, \(newTokens) new tokens, \(threads) threads, \(precision); "
              + String(format: "loaded in %.2f s, weights %.1f MiB", load, result.weight_mib))
        for (i, r) in rounds.enumerated() {
            print(String(format: "round %d: time to first token %.3f s, %.1f tokens/s, total %.2f s", i + 1, r.ttft_s,
                         r.decode_tokens_per_s, r.total_s))
        }
        print(String(format: "peak resident memory %.0f MiB", result.peak_rss_mib))
        for (key, value) in (parts ?? [:]).sorted(by: { $0.key < $1.key }) { print(String(format: "%@: %.2f ms", key, value)) }
    }

    /// Bytes of the quantised matrices and the embedding.
    static func weightBytes(_ model: LlamaForCausalLM) -> Int {
        model.namedModules().reduce(0) { sum, entry in
            switch entry.module {
            case let l as QuantizedLinear: return sum + l.weight.byteCount
            case let e as QuantizedEmbedding: return sum + e.weight.byteCount
            default: return sum
            }
        }
    }

    /// Median milliseconds of a decode step and a prompt forward, and of their parts: the
    /// projections (timed inside the model by wrapping each), the head, and the rest.
    func timeParts(_ llama: LlamaForCausalLM, prompt: [Int]) throws -> [String: Double] {
        let clock = TimedLayer.Clock()
        for (key, module) in llama.namedModules() where module is QuantizedLinear || module is Linear {
            try llama.replaceModule(at: key, with: TimedLayer(module as! any UnaryLayer, clock: clock))
        }
        defer {
            for (key, module) in llama.namedModules() {
                if let timed = module as? TimedLayer { try? llama.replaceModule(at: key, with: timed.inner as! Module) }
            }
        }
        var out: [String: Double] = [:]
        for (name, tokens) in [("decode", 1), ("prompt", prompt.count)] {
            var steps: [Double] = [], products: [Double] = [], heads: [Double] = []
            for _ in 0..<5 {
                let cache = llama.makeCache(capacity: prompt.count + 1)
                if tokens == 1 { _ = try llama.nextTokenLogits(prompt, cache: cache) }
                let ids = tokens == 1 ? [prompt[0]] : prompt
                clock.seconds = 0
                let t0 = DispatchTime.now()
                let hidden = try withNoGrad {
                    try llama.model.hiddenStates(Tensor(indices: ids, shape: [1, ids.count]), cache: cache)
                }
                let t1 = DispatchTime.now()
                _ = withNoGrad { llama.head(hidden.slice(axis: 1, start: ids.count - 1, end: ids.count)) }
                let t2 = DispatchTime.now()
                steps.append(Double(t2.uptimeNanoseconds - t0.uptimeNanoseconds) / 1e6)
                heads.append(Double(t2.uptimeNanoseconds - t1.uptimeNanoseconds) / 1e6)
                products.append(clock.seconds * 1e3)
            }
            let (step, product, head) = (BenchProcess.median(steps), BenchProcess.median(products), BenchProcess.median(heads))
            out["\(name) step"] = step
            out["\(name) projections"] = product
            out["\(name) head"] = head
            out["\(name) rest (norms, rope, attention, elementwise)"] = step - product - head
        }
        return out
    }

    private func seconds(since start: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }
}

/// A projection that adds its wall time to a clock (for `--breakdown`).
final class TimedLayer: Module, UnaryLayer {
    final class Clock { var seconds = 0.0 }
    let inner: any UnaryLayer
    let clock: Clock

    init(_ inner: any UnaryLayer, clock: Clock) {
        self.inner = inner
        self.clock = clock
        super.init()
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let start = DispatchTime.now()
        let y = inner(x)
        clock.seconds += Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        return y
    }
}
