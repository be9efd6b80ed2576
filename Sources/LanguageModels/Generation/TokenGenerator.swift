import Foundation
import Tasks
import Tensor

/// Generates token ids from a prompt with a KV cache: one forward of the whole prompt, then one
/// forward of one token per step, each step's token chosen by a `TokenSampler`.
///
/// Stops at `maxTokens`, at one of `stopTokens` (which is included in the result), when
/// `onToken` returns false, or when the model's context is full.
public struct TokenGenerator<Model: CausalLanguageModel> {
    public let model: Model

    public init(model: Model) { self.model = model }

    /// What a generation produced.
    public struct Output: Equatable, Sendable {
        public enum StopReason: Equatable, Sendable {
            /// `maxTokens` tokens, or the model's context is full.
            case maxTokens
            /// A stop token (the last of `tokens`).
            case stopToken(Int)
            /// `onToken` asked to stop.
            case stopped
        }

        /// The generated ids (a stop token included).
        public var tokens: [Int]
        public var stopReason: StopReason
        /// Seconds from the call to the first generated token (the prompt's forward included).
        public var timeToFirstToken: Double
        /// Seconds of the whole call.
        public var seconds: Double
    }

    /// Continues `prompt`.
    /// - Parameters:
    ///   - prompt: token ids, at least one, fewer than the model's context.
    ///   - maxTokens: most tokens to generate (≥ 1).
    ///   - sampler: picks each token (greedy, temperature, top-k, top-p, seeded).
    ///   - stopTokens: ids that end the generation (the model's `endTokenIds` by default).
    ///   - onToken: called with each token as it is chosen; return false to stop.
    /// - Throws: `GenerationError` for an empty or too long prompt or an id outside the
    ///   vocabulary; the model's errors.
    public func generate(prompt: [Int], maxTokens: Int, sampler: TokenSampler, stopTokens: Set<Int>? = nil,
                         onToken: (Int) -> Bool = { _ in true }) throws -> Output {
        let start = DispatchTime.now()
        guard !prompt.isEmpty else { throw GenerationError.emptyPrompt }
        guard maxTokens >= 1 else { throw GenerationError.invalidSettings("max tokens must be ≥ 1, got \(maxTokens)") }
        guard prompt.count < model.contextLength else {
            throw GenerationError.promptTooLong(tokens: prompt.count, context: model.contextLength)
        }
        if let bad = prompt.first(where: { !(0..<model.vocabularySize).contains($0) }) {
            throw GenerationError.tokenOutOfRange(id: bad, vocabulary: model.vocabularySize)
        }
        let stops = stopTokens ?? Set(model.endTokenIds)
        let budget = Swift.min(maxTokens, model.contextLength - prompt.count)
        let cache = model.makeCache(capacity: prompt.count + budget)
        var sampler = sampler
        var tokens: [Int] = []
        var firstToken = 0.0
        var logits = try model.nextTokenLogits(prompt, cache: cache)
        var reason = Output.StopReason.maxTokens
        while tokens.count < budget {
            let token = sampler.next(logits)
            tokens.append(token)
            if tokens.count == 1 { firstToken = seconds(since: start) }
            if stops.contains(token) { reason = .stopToken(token); break }
            if !onToken(token) { reason = .stopped; break }
            if tokens.count == budget { break }
            logits = try model.nextTokenLogits([token], cache: cache)
        }
        return Output(tokens: tokens, stopReason: reason, timeToFirstToken: firstToken, seconds: seconds(since: start))
    }

    private func seconds(since start: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }
}

/// Errors of a generation request.
public enum GenerationError: Error, Equatable, CustomStringConvertible {
    case emptyPrompt
    case promptTooLong(tokens: Int, context: Int)
    case tokenOutOfRange(id: Int, vocabulary: Int)
    case invalidSettings(String)

    public var description: String {
        switch self {
        case .emptyPrompt: return "the prompt is empty"
        case let .promptTooLong(tokens, context):
            return "the prompt has \(tokens) tokens; the model's context holds \(context) (prompt and continuation)"
        case let .tokenOutOfRange(id, vocabulary): return "token id \(id) is outside the vocabulary 0..<\(vocabulary)"
        case let .invalidSettings(reason): return reason
        }
    }
}
