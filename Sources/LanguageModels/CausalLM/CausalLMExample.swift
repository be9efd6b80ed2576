import Foundation
import Tasks
import Tensor
import Training

/// One training sequence of a causal language model: its token ids and which of them are
/// learned. Token `t` is a target when `targets[t]` is true: the loss asks the model to predict
/// it from the tokens before it (the first token is never a target).
public struct CausalLMExample: Equatable, Sendable {
    public var ids: [Int]
    public var targets: [Bool]
    /// For examples with a prompt (prompt/completion, a chat's last assistant turn): the number
    /// of leading tokens that make the prompt, and the completion's ids; for exact match.
    public var promptLength: Int?

    public init(ids: [Int], targets: [Bool], promptLength: Int? = nil) {
        precondition(ids.count == targets.count, "CausalLMExample: \(ids.count) ids, \(targets.count) target flags")
        self.ids = ids
        self.targets = targets
        self.promptLength = promptLength
    }

    /// Tokens the loss learns.
    public var targetCount: Int { targets.dropFirst().filter { $0 }.count }
}

/// A batch of sequences padded on the right to the longest: `ids` [N, T], and the targets as
/// flat indices into the N·T positions with the token each position must predict (position `p`
/// predicts `ids[p + 1]`). Right padding needs no attention mask: with causal attention a real
/// token never sees the padding after it, and padded positions are never targets.
public struct CausalLMBatch {
    public var ids: Tensor
    /// Flat positions `n·T + t` whose next token is a target.
    public var positions: [Int]
    /// The tokens those positions predict.
    public var labels: [Int]
    /// The examples, for metrics that generate (exact match).
    public var examples: [CausalLMExample]

    public init(_ examples: [CausalLMExample], padding: Int) {
        let t = examples.map(\.ids.count).max() ?? 0
        var ids: [Int] = []
        ids.reserveCapacity(examples.count * t)
        var positions: [Int] = [], labels: [Int] = []
        for (n, e) in examples.enumerated() {
            ids += e.ids + [Int](repeating: padding, count: t - e.ids.count)
            for i in 1..<Swift.max(1, e.ids.count) where e.targets[i] {
                positions.append(n * t + i - 1)
                labels.append(e.ids[i])
            }
        }
        self.ids = Tensor(indices: ids, shape: [examples.count, t])
        self.positions = positions
        self.labels = labels
        self.examples = examples
    }
}
