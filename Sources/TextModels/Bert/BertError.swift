import Foundation

/// Errors from reading BERT configurations and checkpoints and from running the model on user
/// input; each names the file, key or value a user needs to fix.
public enum BertError: Error, Equatable, CustomStringConvertible {
    /// A file (config.json, model.safetensors) is missing or cannot be read or parsed.
    case unreadableFile(path: String, reason: String)
    /// A configuration key is missing, has the wrong type or an unusable value.
    case invalidConfig(file: String, key: String, reason: String)
    /// The checkpoint lacks a tensor the model needs (an encoder weight, or a head the caller
    /// did not ask to create anew).
    case missingWeight(file: String, key: String)
    /// A checkpoint tensor's shape differs from what the configuration implies.
    case shapeMismatch(file: String, key: String, expected: [Int], got: [Int])
    /// The checkpoint holds tensors that belong to no part of the model (often a sign of a
    /// different architecture or key prefix).
    case unexpectedWeights(file: String, keys: [String])
    /// A model input is unusable (an id outside the vocabulary, a sequence longer than the
    /// position table, shapes that disagree).
    case invalidInput(String)

    public var description: String {
        switch self {
        case let .unreadableFile(path, reason):
            return "\(path): \(reason)"
        case let .invalidConfig(file, key, reason):
            return "\(file): \"\(key)\": \(reason)"
        case let .missingWeight(file, key):
            return "\(file): the checkpoint has no tensor \"\(key)\""
        case let .shapeMismatch(file, key, expected, got):
            return "\(file): \"\(key)\" has shape \(got), the configuration needs \(expected)"
        case let .unexpectedWeights(file, keys):
            let shown = keys.prefix(8).joined(separator: ", ")
            return "\(file): tensors that belong to no part of a BERT model: \(shown)"
                + (keys.count > 8 ? " (and \(keys.count - 8) more)" : "")
        case let .invalidInput(message):
            return message
        }
    }
}
