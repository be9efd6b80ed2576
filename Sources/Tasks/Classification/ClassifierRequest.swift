import Foundation

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
