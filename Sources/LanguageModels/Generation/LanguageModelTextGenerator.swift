import Foundation
import LoRA
import Tasks

/// A `TextGenerator` from a decoder and its tokenizer: renders a chat with the tokenizer's
/// template (or takes the text as it is), encodes it, generates with a KV cache
/// (`TokenGenerator`) and streams the decoded text.
///
/// Generation stops at the settings' `maxTokens`, at an end-of-turn token (the tokenizer's and
/// the model's end ids: `<|im_end|>`, the end-of-text token), at one of the settings' stop strings
/// (the text returned stops before it), or when the model's context is full.
public final class LanguageModelTextGenerator<Model: CausalLanguageModel>: TextGenerator {
    public let model: Model
    public let tokenizer: any TextTokenizer
    public let summary: String
    /// The named adapters loaded onto `model` (`loadAdapter`), if any.
    var adapters: LoRAModel?

    public init(model: Model, tokenizer: any TextTokenizer, summary: String) {
        self.model = model
        self.tokenizer = tokenizer
        self.summary = summary
    }

    /// The prompt's ids: `.text` encoded as it is, `.chat` rendered with the template first.
    public func promptTokens(_ input: GenerationInput) throws -> [Int] {
        switch input {
        case let .text(text): return try tokenizer.encode(text, addSpecialTokens: true)
        case let .chat(messages):
            guard !messages.isEmpty else { throw GenerationError.emptyPrompt }
            return try tokenizer.encode(try tokenizer.renderChat(messages), addSpecialTokens: false)
        }
    }

    public func generate(_ input: GenerationInput, settings: GenerationSettings,
                         onText: (String) -> Void) throws -> GenerationResult {
        if let problem = settings.problem { throw GenerationError.invalidSettings(problem) }
        let start = DispatchTime.now()
        let prompt = try promptTokens(input)
        var stream = TextStream(decode: tokenizer.decode, stopStrings: settings.stop)
        let ends = Set(tokenizer.endOfTurnTokenIds + model.endTokenIds)
        let output = try TokenGenerator(model: model).generate(
            prompt: prompt, maxTokens: settings.maxTokens, sampler: TokenSampler(settings), stopTokens: ends) { token in
            let piece = stream.append(token)
            if !piece.isEmpty { onText(piece) }
            return stream.stoppedBy == nil
        }
        let rest = stream.flush()
        if !rest.isEmpty { onText(rest) }
        let reason: GenerationResult.StopReason
        switch output.stopReason {
        case .maxTokens: reason = .maxTokens
        case let .stopToken(id): reason = .endToken(tokenizer.decode([id]))
        case .stopped: reason = .stopString(stream.stoppedBy ?? "")
        }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        // Time to first token counts the encoding too: from this call's start.
        let encoding = elapsed - output.seconds
        return GenerationResult(text: stream.text, tokens: output.tokens, promptTokens: prompt.count, stopReason: reason,
                                timeToFirstToken: encoding + output.timeToFirstToken, seconds: elapsed)
    }
}
