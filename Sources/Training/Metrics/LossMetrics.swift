import Foundation
import Tensor

/// The mean of batch-mean losses weighted by batch size, accumulated during an evaluation or an
/// epoch: `Σ lᵢ nᵢ / Σ nᵢ`, the mean over all samples whatever the batch sizes (a last, smaller
/// batch does not count as much as a full one). Not a `Metric`: it is fed the loss the trainer
/// already computed rather than logits.
public struct MeanLoss: Equatable, Sendable {
    /// `Σ lᵢ nᵢ`.
    public private(set) var weightedSum = 0.0
    /// `Σ nᵢ`.
    public private(set) var count = 0

    public init() {}

    /// Adds a batch whose mean loss is `loss` over `count` samples (or tokens); `count` may be 0.
    public mutating func add(_ loss: Double, count: Int) {
        precondition(count >= 0, "MeanLoss: a batch cannot have \(count) samples")
        guard count > 0 else { return }
        weightedSum += loss * Double(count)
        self.count += count
    }

    /// The weighted mean, `nil` before any sample.
    public var mean: Double? { count == 0 ? nil : weightedSum / Double(count) }

    /// `exp(mean)`: the perplexity when the losses are mean token negative log-likelihoods in
    /// nats (`nil` before any token).
    public var perplexity: Double? { mean.map { Foundation.exp($0) } }

    public mutating func reset() { self = MeanLoss() }
}

/// Perplexity of next-token (or any class) predictions, `exp` of the mean negative
/// log-likelihood of the labels under the softmax of the logits:
///
///     PPL = exp((1/T) Σₜ −log softmax(xₜ)[yₜ])
///
/// over every row `t` whose label is not `ignoreIndex` (padding). Logits are typically
/// `[B, T, V]` with labels `[B·T]` already shifted by the caller, as for the loss. Each row's
/// log-softmax is computed in Double. Lower is better. Registry name `"perplexity"`.
public struct Perplexity: Metric {
    public let ignoreIndex: Int
    /// `Σₜ −log pₜ[yₜ]` and `T` so far.
    public private(set) var totalNegativeLogLikelihood = 0.0
    public private(set) var tokenCount = 0
    private var classCount: Int?

    public init(ignoreIndex: Int = -100) { self.ignoreIndex = ignoreIndex }

    public var name: String { "perplexity" }
    public var higherIsBetter: Bool { false }

    public mutating func update(logits: Tensor, labels: [Int]) {
        let rows = LogitRows(logits, labelCount: labels.count, metric: name)
        if let classCount { rows.checkClassCount(classCount, metric: name) } else { classCount = rows.classCount }
        rows.forEach(labels: labels, ignoreIndex: ignoreIndex, metric: name) { row, label in
            totalNegativeLogLikelihood += LogitRows.negativeLogLikelihood(of: row, label: label)
            tokenCount += 1
        }
    }

    public func value() -> Double? {
        tokenCount == 0 ? nil : Foundation.exp(totalNegativeLogLikelihood / Double(tokenCount))
    }

    public mutating func reset() { totalNegativeLogLikelihood = 0; tokenCount = 0 }
}
