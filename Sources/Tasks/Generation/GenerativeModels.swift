import Foundation

/// The formats of generative models `lorakit generate` can load (a GGUF Llama, a Hugging Face
/// checkpoint directory…), registered by the modality that implements them.
public enum GenerativeModels: RegistryKind {
    public typealias Entry = GenerativeModelFormat
    public static let noun = "generative model format"
}

/// A format of generative models: which files it reads and how it loads one.
public struct GenerativeModelFormat {
    public var summary: String
    /// Whether `url` is a model of this format (cheap: a header or a file name).
    public var accepts: (URL) -> Bool
    /// Loads the model with its tokenizer and chat template.
    public var load: (URL) throws -> TextGenerator

    public init(summary: String, accepts: @escaping (URL) -> Bool, load: @escaping (URL) throws -> TextGenerator) {
        self.summary = summary
        self.accepts = accepts
        self.load = load
    }
}
