import Foundation

/// Everything that can go wrong building a byte-level BPE tokenizer from a GGUF file or a
/// Hugging Face `tokenizer.json`.
///
/// Every case names the source (`source`: the file's path), and the metadata key or JSON key
/// (`model.merges[12]`) involved, so that the message alone says what to fix.
public enum BPETokenizerError: Error, Equatable, Sendable {
    /// The file cannot be read.
    case unreadableFile(source: String, reason: String)
    /// The file is not valid JSON, or its top level is not an object.
    case malformedJSON(source: String, reason: String)
    /// A required key is absent.
    case missingKey(source: String, key: String)
    /// A key holds a value of the wrong type or an impossible value.
    case invalidValue(source: String, key: String, reason: String)
    /// The tokenizer is of a kind this implementation does not reproduce exactly (another model
    /// type, normalizer, pre-tokenizer, decoder or post-processor; a GGUF `tokenizer.ggml.pre` it
    /// does not know), so it refuses rather than tokenise differently from the reference.
    case unsupported(source: String, key: String, value: String)
    /// Merge `index` of `key` is malformed or names a token (or a concatenation) that is not in
    /// the vocabulary.
    case invalidMerge(source: String, key: String, index: Int, merge: String, reason: String)
}

extension BPETokenizerError: CustomStringConvertible, LocalizedError {
    public var description: String {
        switch self {
        case let .unreadableFile(source, reason):
            return "\(source): cannot be read: \(reason)"
        case let .malformedJSON(source, reason):
            return "\(source): not valid JSON: \(reason)"
        case let .missingKey(source, key):
            return "\(source): \(key) is missing"
        case let .invalidValue(source, key, reason):
            return "\(source): \(key): \(reason)"
        case let .unsupported(source, key, value):
            return "\(source): \(key) = \(value) is not supported by LoRAKit's byte-level BPE tokenizer"
        case let .invalidMerge(source, key, index, merge, reason):
            return "\(source): \(key)[\(index)] \"\(merge)\": \(reason)"
        }
    }

    public var errorDescription: String? { description }
}
