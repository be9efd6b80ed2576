import Foundation

/// Which model a command uses.
public struct ModelChoice: Equatable, Sendable {
    /// A complete model replacing the recipe's weights (a run's `model.safetensors`, a merged file).
    public var weights: URL?
    /// A PEFT adapter applied on top.
    public var adapter: URL?
    /// The recipe's base model as it is, without the run's adapter or trained weights.
    public var base: Bool

    public init(weights: URL? = nil, adapter: URL? = nil, base: Bool = false) {
        self.weights = weights
        self.adapter = adapter
        self.base = base
    }

    /// The run's own output: its adapter (LoRA recipes) or its trained weights (full, probe).
    public static let run = ModelChoice()
    /// The recipe's base model, explicitly.
    public static let baseModel = ModelChoice(base: true)
}
