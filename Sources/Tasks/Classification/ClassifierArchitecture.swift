
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
