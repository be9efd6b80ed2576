import Foundation

/// Everything that can go wrong loading a tokenizer.
///
/// Every case names the file (`path`), and the line where there is one, so that the message
/// alone tells the user what to fix. Tokenizers built in memory report `"vocabulary"` as the path.
public enum TokenizerError: Error, Equatable, Sendable {
    /// The file does not exist.
    case fileNotFound(path: String)
    /// The model directory has neither `tokenizer.json` nor `vocab.txt`.
    case noTokenizerFiles(path: String)
    /// The file exists but could not be read.
    case unreadableFile(path: String, reason: String)
    /// A line of `vocab.txt` is not valid UTF-8 (lines count from 1).
    case invalidUTF8(path: String, line: Int)
    /// The file is not valid JSON (or its top level is not an object).
    case malformedJSON(path: String, reason: String)
    /// A JSON key is missing or has a value of the wrong type or range; `key` is its path
    /// (`model.vocab`).
    case invalidField(path: String, key: String, reason: String)
    /// The file asks for something this tokenizer does not do (another model or normalizer type).
    case unsupported(path: String, key: String, value: String)
    /// The vocabulary is empty or an id is out of range.
    case invalidVocabulary(path: String, reason: String)
    /// Some of `[PAD]`, `[UNK]`, `[CLS]`, `[SEP]`, `[MASK]` (as spelled by the configuration)
    /// are in neither the vocabulary nor the added tokens.
    case missingSpecialTokens(path: String, tokens: [String])

    /// Ids beyond this are refused: the id → token table is an array.
    static let largestSupportedId = 1 << 24

    /// The file the error is about.
    public var path: String {
        switch self {
        case let .fileNotFound(path), let .noTokenizerFiles(path), let .unreadableFile(path, _), let .invalidUTF8(path, _),
             let .malformedJSON(path, _), let .invalidField(path, _, _), let .unsupported(path, _, _),
             let .invalidVocabulary(path, _), let .missingSpecialTokens(path, _):
            return path
        }
    }
}

extension TokenizerError: CustomStringConvertible, LocalizedError {
    public var description: String {
        switch self {
        case let .fileNotFound(path):
            return "\(path): no such file"
        case let .noTokenizerFiles(path):
            return "\(path): has neither tokenizer.json nor vocab.txt"
        case let .unreadableFile(path, reason):
            return "\(path): cannot be read: \(reason)"
        case let .invalidUTF8(path, line):
            return "\(path):\(line): not valid UTF-8"
        case let .malformedJSON(path, reason):
            return "\(path): not valid JSON: \(reason)"
        case let .invalidField(path, key, reason):
            return "\(path): \(key): \(reason)"
        case let .unsupported(path, key, value):
            return "\(path): \(key) = \(value) is not supported (only BERT WordPiece tokenizers are)"
        case let .invalidVocabulary(path, reason):
            return "\(path): invalid vocabulary: \(reason)"
        case let .missingSpecialTokens(path, tokens):
            return "\(path): the vocabulary lacks the special token\(tokens.count == 1 ? "" : "s") "
                + tokens.joined(separator: ", ")
        }
    }

    public var errorDescription: String? { description }
}
