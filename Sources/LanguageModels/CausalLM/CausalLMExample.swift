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
///
/// Packed (`init(packing:…)`), each row holds several sequences one after another; their RoPE
/// positions restart at 0 and attention stays inside each (`LlamaModel`'s `packedDocuments`).
public struct CausalLMBatch {
    public var ids: Tensor
    /// Packed batches: each token's position in its own sequence [N, T]; nil when rows are sequences.
    public var tokenPositions: Tensor?
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

    /// Packs `examples` into rows of at most `rowLength` tokens (first fit, longest first; a
    /// longer sequence gets a row of its own), padding the rows on the right to the fullest.
    public init(packing examples: [CausalLMExample], rowLength: Int, padding: Int) {
        var rows: [[Int]] = []          // example indices per row
        var filled: [Int] = []
        for i in examples.indices.sorted(by: { examples[$0].ids.count > examples[$1].ids.count }) {
            let count = examples[i].ids.count
            if let r = filled.firstIndex(where: { $0 + count <= rowLength }) {
                rows[r].append(i)
                filled[r] += count
            } else {
                rows.append([i])
                filled.append(count)
            }
        }
        let t = filled.max() ?? 0
        var ids: [Int] = [], tokenPositions: [Int] = [], positions: [Int] = [], labels: [Int] = []
        ids.reserveCapacity(rows.count * t)
        tokenPositions.reserveCapacity(rows.count * t)
        for (r, members) in rows.enumerated() {
            var column = 0
            for i in members {
                let e = examples[i]
                for j in 1..<Swift.max(1, e.ids.count) where e.targets[j] {
                    positions.append(r * t + column + j - 1)
                    labels.append(e.ids[j])
                }
                ids += e.ids
                tokenPositions += 0..<e.ids.count
                column += e.ids.count
            }
            ids += [Int](repeating: padding, count: t - column)
            tokenPositions += 0..<(t - column)          // padding: a document of its own, never a target
        }
        self.ids = Tensor(indices: ids, shape: [rows.count, t])
        self.tokenPositions = Tensor(indices: tokenPositions, shape: [rows.count, t])
        self.positions = positions
        self.labels = labels
        self.examples = examples
    }
}
