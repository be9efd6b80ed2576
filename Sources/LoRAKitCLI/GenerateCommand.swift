import ArgumentParser
import Foundation
import Runtime
import Tasks

/// `lorakit generate MODEL --prompt TEXT | --user TEXT | --chat FILE`: continues text with a
/// generative model (any registered format, e.g. a GGUF Llama), streaming it to the terminal.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate text with a language model (e.g. a GGUF Llama), streamed; --json for one JSON object.",
        discussion: """
            Give the text to continue with --prompt, or a conversation rendered with the model's chat template: --user (and --system) for one turn, --chat FILE for a JSON array of {role, content} messages.

            Several adapters on one base: --adapter NAME=DIR (repeatable) loads PEFT adapters (a causal_lm run's adapter/) onto the one loaded model; --use NAME picks the one a single input runs with (with one adapter, it is the default). --requests FILE runs many inputs, one JSON object per line ({"adapter": NAME or null for the base, and "prompt", "user" (with "system") or "messages"; optional "id", "max_tokens"}), switching adapters per request, and prints one JSON line per request.
            """
    )

    @Argument(help: "The model file or directory (e.g. data/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf).") var model: String
    @Option(help: "Text to continue as it is (no chat template).") var prompt: String?
    @Option(help: "A user message, rendered with the model's chat template.") var user: String?
    @Option(help: "A system message (with --user).") var system: String?
    @Option(help: "A JSON file of chat messages [{\"role\": …, \"content\": …}] ('-' reads standard input).") var chat: String?
    @Option(help: "Tokens to generate at most.") var maxTokens = 128
    @Option(help: "Sampling temperature; 0 is greedy.") var temperature = 0.0
    @Option(help: "Sample among the k most likely tokens.") var topK: Int?
    @Option(help: "Sample among the most likely tokens whose probabilities sum to p.") var topP: Double?
    @Option(help: "Seed of the sampling.") var seed: UInt64 = 0
    @Option(help: "A string that ends the generation (repeatable).") var stop: [String] = []
    @Option(name: .customLong("adapter"), help: "A PEFT adapter to load onto the base as NAME=DIR (repeatable; DIR alone names it 'default').")
    var adapters: [String] = []
    @Option(help: "The loaded adapter a single input runs with ('base' for none).") var use: String?
    @Option(help: "A JSON-lines file of requests, each with its adapter ('-' reads standard input).") var requests: String?
    @Flag(help: "Print one JSON object (text, tokens, timings) instead of streaming.") var json = false

    var settings: GenerationSettings {
        GenerationSettings(maxTokens: maxTokens, temperature: temperature, topK: topK, topP: topP, seed: seed, stop: stop)
    }

    func validate() throws {
        let inputs = [prompt != nil, user != nil, chat != nil, requests != nil].filter { $0 }.count
        guard inputs == 1 else { throw ValidationError("give exactly one of --prompt, --user, --chat or --requests") }
        if use != nil && requests != nil { throw ValidationError("--use picks the adapter of a single input; each request names its own") }
        let named = try namedAdapters()
        for (name, directory) in named where !FileManager.default.fileExists(atPath: directory) {
            throw ValidationError("--adapter \(name): \(directory): no such directory")
        }
        let names = named.map(\.name)
        if let dup = names.first(where: { n in names.filter { $0 == n }.count > 1 }) {
            throw ValidationError("--adapter: the name '\(dup)' is given twice")
        }
        if let use, use != "base", !names.contains(use) {
            throw ValidationError("--use \(use): no adapter of that name (loaded: \(names.isEmpty ? "none" : names.joined(separator: ", ")); 'base' runs without one)")
        }
        if system != nil && user == nil { throw ValidationError("--system goes with --user") }
        if let problem = settings.problem { throw ValidationError(problem) }
    }

    /// `--adapter` values as (name, directory).
    func namedAdapters() throws -> [(name: String, directory: String)] {
        try adapters.map { value in
            guard let eq = value.firstIndex(of: "=") else { return ("default", value) }
            let name = String(value[..<eq]), directory = String(value[value.index(after: eq)...])
            guard !name.isEmpty, !directory.isEmpty, name != "base" else {
                throw ValidationError("--adapter \(value): expected NAME=DIR (NAME not empty and not 'base')")
            }
            return (name, directory)
        }
    }

    func input() throws -> GenerationInput {
        if let prompt { return .text(prompt) }
        if let user { return .chat((system.map { [ChatMessage(role: "system", content: $0)] } ?? []) + [ChatMessage(role: "user", content: user)]) }
        guard let chat else { throw ValidationError("give --prompt, --user or --chat") }
        let data: Data
        do {
            data = chat == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: chat))
        } catch { throw UsageError("\(chat): \(error.localizedDescription)") }
        let messages: [ChatMessage]
        do { messages = try JSONDecoder().decode([ChatMessage].self, from: data) } catch {
            throw UsageError("\(chat): expected a JSON array of {\"role\": …, \"content\": …} messages (\(error))")
        }
        guard !messages.isEmpty else { throw UsageError("\(chat): the conversation is empty") }
        return .chat(messages)
    }

    func run() throws {
        let invocation = LoRAKitCLI.invocation
        var registry = try Registry.standard(builtIns: invocation.builtIns, plugins: invocation.plugins)
        try registry.load(plugins: invocation.plugins.map { $0.name })
        let url = URL(fileURLWithPath: model)
        guard FileManager.default.fileExists(atPath: url.path) else { throw UsageError("\(model): no such file or directory") }
        let formats = registry.entries(GenerativeModels.self)
        guard let format = formats.first(where: { $0.entry.accepts(url) }) else {
            throw UsageError("\(model): no generative model format reads it (known: "
                             + formats.map { "\($0.name): \($0.entry.summary)" }.joined(separator: "; ") + ")")
        }
        let generator = try format.entry.load(url)
        standardError(generator.summary)
        let named = try namedAdapters()
        if !named.isEmpty {
            guard let serving = generator as? AdapterServingGenerator else {
                throw UsageError("\(model): this model format takes no adapters")
            }
            for (name, directory) in named {
                standardError(try serving.loadAdapter(name, from: URL(fileURLWithPath: directory)))
            }
            let chosen = use ?? (named.count == 1 ? named[0].name : nil)
            try serving.useAdapter(chosen == "base" ? nil : chosen)
        }
        if let requests { return try serve(requests, generator: generator) }
        let input = try input()
        let out = FileHandle.standardOutput
        let result = try generator.generate(input, settings: settings) { piece in
            if !json { out.write(Data(piece.utf8)) }
        }
        if json {
            try printJSON(.object(Self.fields(result)))
        } else {
            print("")
            standardError(String(format: "%d prompt tokens, %d generated; first token after %.2f s, then %.1f tokens/s",
                                 result.promptTokens, result.tokens.count, result.timeToFirstToken, result.tokensPerSecond))
        }
    }

    /// The JSON fields of a result.
    static func fields(_ result: GenerationResult) -> [String: JSONValue] {
        let reason: String
        switch result.stopReason {
        case .maxTokens: reason = "max_tokens"
        case let .endToken(token): reason = "end_token:\(token)"
        case let .stopString(text): reason = "stop_string:\(text)"
        }
        return ["text": .string(result.text), "tokens": .array(result.tokens.map { .integer($0) }),
                "prompt_tokens": .integer(result.promptTokens), "stop_reason": .string(reason),
                "time_to_first_token_s": .number(result.timeToFirstToken), "seconds": .number(result.seconds),
                "tokens_per_s": .number(result.tokensPerSecond)]
    }

    /// One request of `--requests`.
    struct Request: Decodable {
        var id: JSONValue?
        var adapter: String?
        var prompt: String?
        var user: String?
        var system: String?
        var messages: [ChatMessage]?
        var maxTokens: Int?

        enum CodingKeys: String, CodingKey {
            case id, adapter, prompt, user, system, messages
            case maxTokens = "max_tokens"
        }

        func input() throws -> GenerationInput {
            switch (prompt, user, messages) {
            case let (prompt?, nil, nil): return .text(prompt)
            case let (nil, user?, nil):
                return .chat((system.map { [ChatMessage(role: "system", content: $0)] } ?? []) + [ChatMessage(role: "user", content: user)])
            case let (nil, nil, messages?) where !messages.isEmpty: return .chat(messages)
            default: throw ValidationError("give exactly one of \"prompt\", \"user\" or a non-empty \"messages\"")
            }
        }
    }

    /// Runs every request of the JSON-lines file at `path`, each with its adapter, printing one
    /// JSON line per request as it finishes. Every line is checked before the first runs.
    func serve(_ path: String, generator: TextGenerator) throws {
        let data: Data
        do {
            data = path == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: path))
        } catch { throw UsageError("\(path): \(error.localizedDescription)") }
        let serving = generator as? AdapterServingGenerator
        let loaded = serving?.adapterNames ?? []
        var parsed: [(line: Int, request: Request, input: GenerationInput)] = []
        for (index, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            let where_ = "\(path):\(index + 1)"
            let request: Request
            do { request = try JSONDecoder().decode(Request.self, from: Data(line.utf8)) } catch {
                throw UsageError("\(where_): not a request object (\(error))")
            }
            if let name = request.adapter, name != "base", !loaded.contains(name) {
                throw UsageError("\(where_): no adapter '\(name)' (loaded: \(loaded.isEmpty ? "none" : loaded.joined(separator: ", ")))")
            }
            if let n = request.maxTokens, n < 1 { throw UsageError("\(where_): max_tokens must be ≥ 1, got \(n)") }
            do { parsed.append((index + 1, request, try request.input())) } catch {
                throw UsageError("\(where_): \(error)")
            }
        }
        guard !parsed.isEmpty else { throw UsageError("\(path): no requests") }
        for (line, request, input) in parsed {
            let name = request.adapter == "base" ? nil : request.adapter
            try serving?.useAdapter(name)
            var settings = self.settings
            if let n = request.maxTokens { settings.maxTokens = n }
            let result: GenerationResult
            do { result = try generator.generate(input, settings: settings) { _ in } } catch {
                throw UsageError("\(path):\(line): \(error)")
            }
            var fields = Self.fields(result)
            fields["adapter"] = name.map { .string($0) } ?? .null
            if let id = request.id { fields["id"] = id }
            try printJSON(.object(fields))
        }
    }
}
