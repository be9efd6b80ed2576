import Foundation
import NN
import Tensor

/// A classification model: its module tree and its typed forward to logits `[N, classes]`.
///
/// Factories capture the concrete model in `forward` (`{ x in model(x) }`), so nothing downstream
/// casts a `Module` back to its type.
public final class Classifier: TaskModel {
    public let module: Module
    /// Maps a batch of inputs to logits `[N, classes]`.
    public let forward: (Tensor) throws -> Tensor
    public let headKeys: [String]
    /// What the model reads, checked on every batch before `forward` (nil: unchecked).
    public let input: InputSpec?
    /// Whether the factory loaded the weights it was given itself (checkpoints whose shape comes
    /// with them, such as a Transformer's `config.json`); otherwise the session loads them.
    public let loadedWeights: Bool
    private let companions: (URL) throws -> Void

    public init(module: Module, headKeys: [String], input: InputSpec?, loadedWeights: Bool = false,
                companions: @escaping (URL) throws -> Void = { _ in },
                forward: @escaping (Tensor) throws -> Tensor) {
        self.module = module
        self.forward = forward
        self.headKeys = headKeys
        self.input = input
        self.loadedWeights = loadedWeights
        self.companions = companions
    }

    public func writeCompanions(to directory: URL) throws { try companions(directory) }
}
