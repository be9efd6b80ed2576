import Foundation
import NN
import Tensor
import Training

/// What one batch adds to a causal-LM evaluation: summed token losses, token counts, and exact
/// matches of generated completions when they are asked for.
public struct CausalLMPredictions: Codable {
    public var lossSum: Double
    public var tokens: Int
    public var correctTokens: Int
    public var exactMatches: Int
    public var prompted: Int
}

/// The metrics of a causal language model over one evaluation pass: `perplexity`
/// (`exp` of the mean token loss, over every target token of the pass, not a mean of batch
/// values), `token_accuracy` (the most likely next token is the target), and `exact_match` for
/// examples with a prompt when the recipe lists it (the greedy completion, up to the end of the
/// turn, equals the reference once both are trimmed of surrounding whitespace).
public struct CausalLMEvaluation: TaskEvaluation {
    var lossSum = 0.0, tokens = 0, correct = 0, exact = 0, prompted = 0

    public init() {}

    public mutating func add(_ p: CausalLMPredictions) {
        lossSum += p.lossSum
        tokens += p.tokens
        correct += p.correctTokens
        exact += p.exactMatches
        prompted += p.prompted
    }

    public func values() -> [String: Double] {
        guard tokens > 0 else { return [:] }
        var values = ["perplexity": exp(lossSum / Double(tokens)), "token_accuracy": Double(correct) / Double(tokens)]
        if prompted > 0 { values["exact_match"] = Double(exact) / Double(prompted) }
        return values
    }
}

/// Next-token prediction on a `LlamaForCausalLM`: the shifted cross-entropy over the target
/// tokens alone, averaged over them (as `transformers` computes it with labels of −100 on the
/// rest).
///
/// Only the target positions reach the output head: their final states are gathered first, so a
/// prompt's or a padding's 49k-wide logits are never computed. The head and the loss then run
/// `headChunk` rows at a time, so at most one chunk's logits exist at a time: a frozen head is
/// differentiated in forward (`Tensor.eagerlyDifferentiated`: only the states' gradient is kept),
/// a trainable one recomputed in backward (`Tensor.recomputed`).
public struct CausalLMObjective: TrainingTask {
    public typealias Batch = CausalLMBatch
    public typealias Evaluation = CausalLMEvaluation

    public let model: LlamaForCausalLM
    public let tokenizer: ChatTokenizer
    /// Whether evaluation generates completions for `exact_match`.
    public let exactMatch: Bool
    /// Rows of logits computed at once.
    public var headChunk = 256
    /// Tokens generated at most for `exact_match` beyond the reference's length.
    public var extraTokens = 8

    public init(model: LlamaForCausalLM, tokenizer: ChatTokenizer, exactMatch: Bool) {
        self.model = model
        self.tokenizer = tokenizer
        self.exactMatch = exactMatch
    }

    public func makeEvaluation() -> CausalLMEvaluation { CausalLMEvaluation() }

    public func run(_ module: Module, on batch: CausalLMBatch) throws -> TaskOutput<CausalLMPredictions> {
        let (loss, correct) = try tokenLoss(batch)
        let count = batch.labels.count
        var predictions = CausalLMPredictions(lossSum: Double(loss.item) * Double(count), tokens: count, correctTokens: correct,
                                              exactMatches: 0, prompted: 0)
        if exactMatch && !GradMode.isEnabled {
            for example in batch.examples {
                guard let match = try exactMatch(example) else { continue }
                predictions.prompted += 1
                if match { predictions.exactMatches += 1 }
            }
        }
        return TaskOutput(loss: loss, count: count, predictions: predictions)
    }

    /// The mean cross-entropy of the batch's target tokens, and how many of them are the most
    /// likely token.
    public func tokenLoss(_ batch: CausalLMBatch) throws -> (loss: Tensor, correct: Int) {
        try Self.tokenLoss(model, batch, headChunk: headChunk)
    }

    /// `tokenLoss` of `model` on `batch`, `headChunk` rows of logits at a time.
    public static func tokenLoss(_ model: LlamaForCausalLM, _ batch: CausalLMBatch,
                                 headChunk: Int = 256) throws -> (loss: Tensor, correct: Int) {
        precondition(headChunk >= 1, "tokenLoss: headChunk must be ≥ 1, got \(headChunk)")
        guard !batch.labels.isEmpty else {
            throw CausalLMDataError(location: "batch", reason: "no target tokens (every example's tokens are masked)")
        }
        let h = try model.model.hiddenStates(batch.ids, positions: batch.tokenPositions,
                                             packedDocuments: batch.tokenPositions != nil)      // [N, T, H]
        let width = h.shape[2]
        let states = try h.reshaped([h.shape[0] * h.shape[1], width]).indexSelect(axis: 0, indices: batch.positions)   // [R, H]
        let rows = batch.labels.count
        let head = model.head
        // A frozen head (SmolLM2's tied, quantised embedding; any head LoRA does not adapt) is
        // differentiated chunk by chunk in forward; a trainable one is recomputed in backward.
        let headModule: Module = (model.lmHead as? Module) ?? (model.model.embedTokens as? Module) ?? model
        let frozenHead = headModule.trainableParameterCount == 0
        var total: Tensor?
        let correct = Counter()
        for start in stride(from: 0, to: rows, by: headChunk) {
            let end = min(rows, start + headChunk)
            let targets = Tensor(indices: Array(batch.labels[start..<end]), shape: [end - start])
            let chunk = states.slice(axis: 0, start: start, end: end)
            let part: Tensor
            if frozenHead {
                part = Tensor.eagerlyDifferentiated([chunk], op: "lm-head-cross-entropy") { x in
                    let logits = head(x[0])                                      // [r, V]
                    correct.add(Self.matches(logits, targets))
                    return crossEntropy(logits: logits, targets: targets, reduction: .sum)
                }
            } else {
                part = Tensor.recomputed([chunk], op: "lm-head-cross-entropy") { x, again in
                    let logits = head(x[0])
                    if !again { correct.add(Self.matches(logits, targets)) }
                    return crossEntropy(logits: logits, targets: targets, reduction: .sum)
                }
            }
            total = total.map { $0 + part } ?? part
        }
        return (total! / Float(rows), correct.value)
    }

    /// Targets that are their row's most likely token.
    static func matches(_ logits: Tensor, _ targets: Tensor) -> Int {
        let best = logits.detached().argmax(axis: -1).indexScalars
        return zip(best, targets.indexScalars).filter { $0 == $1 }.count
    }

    /// Whether greedy generation from the example's prompt gives its reference completion (nil
    /// for an example without a prompt).
    func exactMatch(_ example: CausalLMExample) throws -> Bool? {
        guard let p = example.promptLength, p > 0, p < example.ids.count else { return nil }
        let ends = Set(tokenizer.endOfTurnTokenIds + model.endTokenIds)
        let reference = Array(example.ids[p...].prefix { !ends.contains($0) })
        let room = model.contextLength - p
        guard room >= 1 else { return nil }
        let output = try TokenGenerator(model: model).generate(prompt: Array(example.ids[..<p]),
                                                               maxTokens: min(room, reference.count + extraTokens),
                                                               sampler: TokenSampler(), stopTokens: ends)
        let generated = output.tokens.prefix { !ends.contains($0) }
        let trim = { (ids: [Int]) in self.tokenizer.decode(ids).trimmingCharacters(in: .whitespacesAndNewlines) }
        return trim(Array(generated)) == trim(reference)
    }
}

/// A count that closures add to.
final class Counter {
    private(set) var value = 0
    func add(_ n: Int) { value += n }
}
