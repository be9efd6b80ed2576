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
        discussion: "Give the text to continue with --prompt, or a conversation rendered with the model's chat template: --user (and --system) for one turn, --chat FILE for a JSON array of {role, content} messages."
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
    @Flag(help: "Print one JSON object (text, tokens, timings) instead of streaming.") var json = false

    var settings: GenerationSettings {
        GenerationSettings(maxTokens: maxTokens, temperature: temperature, topK: topK, topP: topP, seed: seed, stop: stop)
    }

    func validate() throws {
        let inputs = [prompt != nil, user != nil, chat != nil].filter { $0 }.count
        guard inputs == 1 else { throw ValidationError("give exactly one of --prompt, --user or --chat") }
        if system != nil && user == nil { throw ValidationError("--system goes with --user") }
        if let problem = settings.problem { throw ValidationError(problem) }
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
        let input = try input()
        let out = FileHandle.standardOutput
        let result = try generator.generate(input, settings: settings) { piece in
            if !json { out.write(Data(piece.utf8)) }
        }
        if json {
            let reason: String
            switch result.stopReason {
            case .maxTokens: reason = "max_tokens"
            case let .endToken(token): reason = "end_token:\(token)"
            case let .stopString(text): reason = "stop_string:\(text)"
            }
            try printJSON(.object([
                "text": .string(result.text), "tokens": .array(result.tokens.map { .integer($0) }),
                "prompt_tokens": .integer(result.promptTokens), "stop_reason": .string(reason),
                "time_to_first_token_s": .number(result.timeToFirstToken), "seconds": .number(result.seconds),
                "tokens_per_s": .number(result.tokensPerSecond),
            ]))
        } else {
            print("")
            standardError(String(format: "%d prompt tokens, %d generated; first token after %.2f s, then %.1f tokens/s",
                                 result.promptTokens, result.tokens.count, result.timeToFirstToken, result.tokensPerSecond))
        }
    }
}
