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

/// The architectures that build classifiers (`model.architecture` of a classification task).
public enum Classifiers: RegistryKind {
    public typealias Entry = ClassifierArchitecture
    public static let noun = "classifier architecture"
}

/// A classifier architecture: what it reads, its options and how it is built.
public struct ClassifierArchitecture {
    /// What the model reads; the data format must yield the same.
    public var input: InputKind
    public var summary: String
    /// `model.options` it accepts.
    public var options: [OptionSpec]
    public var build: (ClassifierRequest) throws -> Classifier

    public init(input: InputKind, summary: String, options: [OptionSpec] = [],
                build: @escaping (ClassifierRequest) throws -> Classifier) {
        self.input = input
        self.summary = summary
        self.options = options
        self.build = build
    }
}

/// What a classifier factory is given.
public struct ClassifierRequest {
    /// The architecture's name (for messages).
    public var architecture: String
    /// Classes of the head.
    public var classes: Int
    /// `model.input_size`, if set.
    public var inputSize: Int?
    /// `model.options`.
    public var options: Options
    public var seed: UInt64
    /// The weights the model starts from. A factory whose checkpoints carry their own shape
    /// (config.json beside the file) builds from them and loads them (`Classifier.loadedWeights`);
    /// others ignore them and the session loads them by key.
    public var weights: ModelWeights
    /// The recipe's own `model.weights`, also when `weights` is a trained replacement: where a
    /// configuration beside the pretrained file can still be found.
    public var pretrained: URL?
    /// Whether the pretrained head is replaced by a new one (`model.head: new`).
    public var replaceHead: Bool

    public init(architecture: String, classes: Int, inputSize: Int? = nil, options: Options, seed: UInt64 = 0,
                weights: ModelWeights = .none, pretrained: URL? = nil, replaceHead: Bool = true) {
        self.replaceHead = replaceHead
        self.architecture = architecture
        self.classes = classes
        self.inputSize = inputSize
        self.options = options
        self.seed = seed
        self.weights = weights
        self.pretrained = pretrained
    }
}
