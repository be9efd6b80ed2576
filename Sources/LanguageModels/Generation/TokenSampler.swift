import Foundation
import Tasks
import Tensor

/// Picks the next token from a row of logits, as `transformers`' sampling does: greedy
/// (temperature 0: the most likely token, the lowest id on ties), or a draw from
///
///     p ∝ softmax(logits / temperature)
///
/// restricted first to the `topK` most likely tokens, then to the smallest set of most likely
/// tokens whose probabilities sum to at least `topP` (nucleus sampling, Holtzman et al. 2020).
/// Draws come from a `RandomGenerator` seeded by `seed`, so the same logits, settings and seed
/// give the same tokens.
public struct TokenSampler: Sendable {
    public let temperature: Double
    public let topK: Int?
    public let topP: Double?
    /// The generator of the draws (its state after the draws so far).
    public private(set) var generator: RandomGenerator

    public init(temperature: Double = 0, topK: Int? = nil, topP: Double? = nil, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.generator = RandomGenerator(seed: seed)
    }

    /// The sampler of `settings` (temperature, top-k, top-p, seed).
    public init(_ settings: GenerationSettings) {
        self.init(temperature: settings.temperature, topK: settings.topK, topP: settings.topP, seed: settings.seed)
    }

    /// Whether the choice is the most likely token (temperature 0).
    public var isGreedy: Bool { temperature == 0 }

    /// The next token for `logits` (one per vocabulary id). NaN logits count as −∞.
    public mutating func next(_ logits: [Float]) -> Int {
        precondition(!logits.isEmpty, "TokenSampler.next: no logits")
        if isGreedy { return TokenSampler.argmax(logits) }
        let candidates = probabilities(logits)
        var u = Double(generator.next() >> 11) * 0x1p-53        // uniform in [0, 1)
        for (id, p) in candidates {
            u -= p
            if u < 0 { return id }
        }
        return candidates.last!.id                             // rounding left a sliver
    }

    /// The candidates and their probabilities after temperature, top-k and top-p, most likely
    /// first, summing to 1.
    public func probabilities(_ logits: [Float]) -> [(id: Int, p: Double)] {
        let t = isGreedy ? 1 : temperature
        let scaled = logits.map { $0.isNaN ? -Double.infinity : Double($0) / t }
        var order = Array(scaled.indices).sorted { scaled[$0] > scaled[$1] || (scaled[$0] == scaled[$1] && $0 < $1) }
        if let topK, topK < order.count { order.removeLast(order.count - topK) }
        let top = scaled[order[0]]
        guard top > -.infinity else { return [(order[0], 1)] }
        var weights = order.map { Foundation.exp(scaled[$0] - top) }
        var total = weights.reduce(0, +)
        if let topP, topP < 1 {
            var sum = 0.0
            var keep = 0
            while keep < weights.count {
                sum += weights[keep] / total
                keep += 1
                if sum >= topP { break }
            }
            order.removeLast(order.count - keep)
            weights.removeLast(weights.count - keep)
            total = weights.reduce(0, +)
        }
        return zip(order, weights).map { ($0, $1 / total) }
    }

    /// The index of the largest value, the first on ties (NaN never wins).
    public static func argmax(_ values: [Float]) -> Int {
        var best = 0
        for i in values.indices where values[i] > values[best] || (values[best].isNaN && !values[i].isNaN) { best = i }
        return best
    }
}
