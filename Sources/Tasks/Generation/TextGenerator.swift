import Foundation

/// A model that continues text: a decoder language model with its tokenizer and chat template.
/// `lorakit generate` drives any registered one (`GenerativeModels`); a modality implements it.
public protocol TextGenerator: AnyObject {
    /// A line for people: the model, its size, its weights' format.
    var summary: String { get }
    /// Continues `input` (a prompt, or a conversation rendered with the model's chat template),
    /// calling `onText` with each piece of text as soon as it is decoded (for streaming).
    /// - Throws: errors naming what is wrong (an empty prompt, a prompt longer than the model's
    ///   context, settings out of range).
    func generate(_ input: GenerationInput, settings: GenerationSettings,
                  onText: (String) -> Void) throws -> GenerationResult
}

/// A generator whose loaded base carries named adapters, one chosen per request: several
/// specialists served from one copy of the base (`lorakit generate --adapter NAME=DIR …`).
public protocol AdapterServingGenerator: TextGenerator {
    /// Loads the adapter in `directory` (PEFT's format) as `name`, all or nothing; returns a line
    /// for people (what it adapts, its size).
    /// - Throws: errors naming the file, the tensor or shape that does not fit this base, or a
    ///   name already loaded.
    func loadAdapter(_ name: String, from directory: URL) throws -> String
    /// The adapters loaded, in the order loaded.
    var adapterNames: [String] { get }
    /// The adapter later generations use; nil for the base alone.
    func useAdapter(_ name: String?) throws
    /// Removes a loaded adapter (the base alone runs if it was the one in use).
    func unloadAdapter(_ name: String) throws
}

/// What to continue.
public enum GenerationInput: Equatable, Sendable {
    /// Text as it is (no template).
    case text(String)
    /// A conversation, rendered with the model's chat template and ending with the assistant's turn.
    case chat([ChatMessage])
}

/// One message of a conversation.
public struct ChatMessage: Codable, Equatable, Sendable {
    /// `system`, `user` or `assistant`.
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// How to pick tokens and when to stop.
public struct GenerationSettings: Equatable, Sendable {
    /// Tokens to generate at most.
    public var maxTokens: Int
    /// Softmax temperature; 0 picks the most likely token (greedy).
    public var temperature: Double
    /// Sample among the `topK` most likely tokens only (nil: all).
    public var topK: Int?
    /// Sample among the smallest set of tokens whose probabilities sum to at least `topP` (nil: 1).
    public var topP: Double?
    /// Seeds the sampling: the same input, settings and seed give the same text.
    public var seed: UInt64
    /// Strings that end the generation when they appear (besides the model's end-of-turn tokens);
    /// the text returned stops before them.
    public var stop: [String]

    public init(maxTokens: Int = 128, temperature: Double = 0, topK: Int? = nil, topP: Double? = nil, seed: UInt64 = 0,
                stop: [String] = []) {
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
        self.stop = stop
    }

    /// What is out of range, or nil.
    public var problem: String? {
        if maxTokens < 1 { return "max tokens must be ≥ 1, got \(maxTokens)" }
        if !(temperature >= 0) || !temperature.isFinite { return "temperature must be ≥ 0, got \(temperature)" }
        if let topK, topK < 1 { return "top-k must be ≥ 1, got \(topK)" }
        if let topP, !(topP > 0 && topP <= 1) { return "top-p must be in (0, 1], got \(topP)" }
        if stop.contains("") { return "a stop string is empty" }
        return nil
    }
}

/// What a generation produced.
public struct GenerationResult: Equatable, Sendable {
    /// Why it stopped.
    public enum StopReason: Equatable, Sendable {
        case maxTokens
        /// A token that ends the model's turn (`<|im_end|>`, the end-of-text token).
        case endToken(String)
        /// One of the settings' stop strings.
        case stopString(String)
    }

    /// The generated text (without the prompt, up to any stop string).
    public var text: String
    /// The generated token ids (the end token included when one stopped it).
    public var tokens: [Int]
    /// Tokens of the prompt as the model read it (template rendered).
    public var promptTokens: Int
    public var stopReason: StopReason
    /// Seconds from the call to the first generated token (the prompt's forward pass included).
    public var timeToFirstToken: Double
    /// Seconds of the whole call.
    public var seconds: Double

    public init(text: String, tokens: [Int], promptTokens: Int, stopReason: StopReason, timeToFirstToken: Double,
                seconds: Double) {
        self.text = text
        self.tokens = tokens
        self.promptTokens = promptTokens
        self.stopReason = stopReason
        self.timeToFirstToken = timeToFirstToken
        self.seconds = seconds
    }

    /// Generated tokens per second after the first (the decoding rate).
    public var tokensPerSecond: Double {
        let decoding = seconds - timeToFirstToken
        return tokens.count > 1 && decoding > 0 ? Double(tokens.count - 1) / decoding : 0
    }
}
