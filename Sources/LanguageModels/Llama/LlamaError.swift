import Foundation

/// Errors from building, loading and running a Llama-architecture decoder. Each case names what a
/// user needs to fix it: the file, the configuration key, the tensor and its shapes.
public enum LlamaError: Error, Equatable, CustomStringConvertible {
    /// A file (config.json, model.safetensors, a GGUF file) is missing or cannot be read or parsed.
    case unreadableFile(path: String, reason: String)
    /// A configuration key (Hugging Face's `config.json` key, or GGUF's `llama.*` metadata key)
    /// is missing, has the wrong type or an unusable value.
    case invalidConfig(file: String, key: String, reason: String)
    /// The configuration asks for something this implementation does not do (a RoPE scaling
    /// type, another activation), naming the key.
    case unsupported(file: String, key: String, reason: String)
    /// The checkpoint lacks a tensor the model needs.
    case missingWeight(file: String, key: String)
    /// A checkpoint tensor's shape differs from what the configuration implies.
    case shapeMismatch(file: String, key: String, expected: [Int], got: [Int])
    /// A checkpoint tensor is stored in a type the loader cannot use.
    case unsupportedTensorType(file: String, key: String, type: String)
    /// The checkpoint holds tensors that belong to no part of the model.
    case unexpectedWeights(file: String, keys: [String])
    /// A model input is unusable (an id outside the vocabulary, shapes that disagree, a position
    /// beyond the cache).
    case invalidInput(String)

    public var description: String {
        switch self {
        case let .unreadableFile(path, reason):
            return "\(path): \(reason)"
        case let .invalidConfig(file, key, reason):
            return "\(file): \"\(key)\": \(reason)"
        case let .unsupported(file, key, reason):
            return "\(file): \"\(key)\": not supported: \(reason)"
        case let .missingWeight(file, key):
            return "\(file): the checkpoint has no tensor \"\(key)\""
        case let .shapeMismatch(file, key, expected, got):
            return "\(file): \"\(key)\" has shape \(got), the configuration needs \(expected)"
        case let .unsupportedTensorType(file, key, type):
            return "\(file): \"\(key)\" is stored as \(type), which the Llama loader cannot read "
                + "(F32, F16, BF16, Q8_0, Q4_0, Q4_1 can be read)"
        case let .unexpectedWeights(file, keys):
            let shown = keys.prefix(8).joined(separator: ", ")
            return "\(file): tensors that belong to no part of a Llama model: \(shown)"
                + (keys.count > 8 ? " (and \(keys.count - 8) more)" : "")
        case let .invalidInput(reason):
            return reason
        }
    }
}
