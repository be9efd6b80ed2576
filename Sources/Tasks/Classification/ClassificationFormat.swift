import Foundation
import Tensor
import Training

/// The data formats of classification tasks (`data.format`).
public enum ClassificationFormats: RegistryKind {
    public typealias Entry = ClassificationFormat
    public static let noun = "data format"
}

/// A classification data format: what it yields, its options and transforms, how it reads a
/// split and how it reads one input for `predict`.
public struct ClassificationFormat {
    /// What its items hold; the architecture must read the same.
    public var input: InputKind
    public var summary: String
    /// `data.options` it accepts.
    public var options: [OptionSpec]
    /// The transforms `data.transforms` may list (empty: none), given the registry (plugins may
    /// add transforms).
    public var transforms: (Registry) -> [TransformDefinition]
    /// Whether it reads the recipe's files (`data.train`, …); false for generators, which make
    /// every split themselves.
    public var readsFiles: Bool
    /// Reads one split.
    public var read: (DataRequest) throws -> ClassificationData
    /// Makes a reader of single inputs for `predict` (a path, a text) with the evaluation
    /// preprocessing; nil when the format cannot.
    public var inputReader: ((DataRequest) throws -> (String) throws -> Tensor)?
    /// Whether `predict` inputs are texts: an input naming a file then stands for its lines.
    public var textInputs: Bool

    public init(input: InputKind, summary: String, options: [OptionSpec] = [],
                transforms: @escaping (Registry) -> [TransformDefinition] = { _ in [] }, readsFiles: Bool = true,
                textInputs: Bool = false, read: @escaping (DataRequest) throws -> ClassificationData,
                inputReader: ((DataRequest) throws -> (String) throws -> Tensor)? = nil) {
        self.input = input
        self.summary = summary
        self.options = options
        self.transforms = transforms
        self.readsFiles = readsFiles
        self.textInputs = textInputs
        self.read = read
        self.inputReader = inputReader
    }
}
