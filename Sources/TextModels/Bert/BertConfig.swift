import Foundation
import Tensor

/// The feed-forward activation of a BERT layer (Hugging Face's `hidden_act`).
public enum BertActivation: String, Codable, Sendable, CaseIterable {
    /// The exact GELU, `x·Φ(x)` with `erf` (BERT, MiniLM).
    case gelu
    /// The tanh approximation of GELU (`gelu_new`, as in GPT-2).
    case geluNew = "gelu_new"
    /// The same tanh approximation under PyTorch's name.
    case geluPyTorchTanh = "gelu_pytorch_tanh"
    /// `max(x, 0)`.
    case relu

    /// Applies the activation elementwise.
    func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .gelu: return x.gelu(.exact)
        case .geluNew, .geluPyTorchTanh: return x.gelu(.tanh)
        case .relu: return x.relu()
        }
    }
}

/// The architecture of a BERT-style encoder, read from and written as Hugging Face's
/// `config.json` (`BertConfig`): sizes, activation, dropout and the padding id.
///
/// The five sizes (`vocab_size`, `hidden_size`, `num_hidden_layers`, `num_attention_heads`,
/// `intermediate_size`) are required; every other key defaults to Hugging Face's default.
/// Only absolute position embeddings are supported (`position_embedding_type` must be absent or
/// `"absolute"`). `id2label`, when present, gives the classification labels in id order.
public struct BertConfig: Codable, Equatable, Sendable {
    /// Rows of the word-embedding table, `V` (`vocab_size`).
    public var vocabularySize: Int
    /// The model width `H` (`hidden_size`).
    public var hiddenSize: Int
    /// Encoder layers (`num_hidden_layers`).
    public var layerCount: Int
    /// Attention heads per layer (`num_attention_heads`); must divide `hiddenSize`.
    public var headCount: Int
    /// Width of the feed-forward layer (`intermediate_size`).
    public var intermediateSize: Int
    /// The feed-forward activation (`hidden_act`).
    public var hiddenActivation: BertActivation
    /// Rows of the position table, the longest sequence (`max_position_embeddings`).
    public var maxPositionEmbeddings: Int
    /// Rows of the token-type table (`type_vocab_size`).
    public var typeVocabularySize: Int
    /// ε of every layer norm (`layer_norm_eps`).
    public var layerNormEpsilon: Float
    /// Dropout after the embeddings and each residual branch (`hidden_dropout_prob`).
    public var hiddenDropout: Float
    /// Dropout on the attention weights (`attention_probs_dropout_prob`).
    public var attentionDropout: Float
    /// Dropout before a classifier head (`classifier_dropout`; `hiddenDropout` when nil).
    public var classifierDropout: Float?
    /// The padding token's id, whose embedding row receives no gradient (`pad_token_id`).
    public var padTokenId: Int
    /// Standard deviation of freshly initialised weights (`initializer_range`).
    public var initializerRange: Float
    /// Class names in id order (from `id2label`), when the checkpoint has a classifier.
    public var labels: [String]?

    public init(vocabularySize: Int, hiddenSize: Int, layerCount: Int, headCount: Int, intermediateSize: Int,
                hiddenActivation: BertActivation = .gelu, maxPositionEmbeddings: Int = 512,
                typeVocabularySize: Int = 2, layerNormEpsilon: Float = 1e-12, hiddenDropout: Float = 0.1,
                attentionDropout: Float = 0.1, classifierDropout: Float? = nil, padTokenId: Int = 0,
                initializerRange: Float = 0.02, labels: [String]? = nil) {
        self.vocabularySize = vocabularySize
        self.hiddenSize = hiddenSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.intermediateSize = intermediateSize
        self.hiddenActivation = hiddenActivation
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.typeVocabularySize = typeVocabularySize
        self.layerNormEpsilon = layerNormEpsilon
        self.hiddenDropout = hiddenDropout
        self.attentionDropout = attentionDropout
        self.classifierDropout = classifierDropout
        self.padTokenId = padTokenId
        self.initializerRange = initializerRange
        self.labels = labels
    }

    /// BERT-base (uncased): hidden 768, 12 layers, 12 heads, FFN 3072, vocabulary 30522.
    public static let base = BertConfig(vocabularySize: 30522, hiddenSize: 768, layerCount: 12, headCount: 12,
                                        intermediateSize: 3072)

    /// The width of one attention head, `hiddenSize / headCount`.
    public var headSize: Int { hiddenSize / headCount }

    /// The problem with these values, or nil when they describe a buildable model: the key and
    /// the reason.
    public func validationError() -> (key: String, reason: String)? {
        for (key, value) in [("vocab_size", vocabularySize), ("hidden_size", hiddenSize),
                             ("num_hidden_layers", layerCount), ("num_attention_heads", headCount),
                             ("intermediate_size", intermediateSize), ("max_position_embeddings", maxPositionEmbeddings),
                             ("type_vocab_size", typeVocabularySize)] where value < 1 {
            return (key, "must be at least 1, got \(value)")
        }
        if hiddenSize % headCount != 0 {
            return ("num_attention_heads", "\(headCount) heads do not divide hidden_size \(hiddenSize)")
        }
        if !(layerNormEpsilon > 0) { return ("layer_norm_eps", "must be positive, got \(layerNormEpsilon)") }
        for (key, value) in [("hidden_dropout_prob", hiddenDropout), ("attention_probs_dropout_prob", attentionDropout),
                             ("classifier_dropout", classifierDropout ?? 0)] where !(value >= 0 && value < 1) {
            return (key, "must lie in [0, 1), got \(value)")
        }
        if padTokenId < 0 || padTokenId >= vocabularySize {
            return ("pad_token_id", "\(padTokenId) is outside the vocabulary 0..<\(vocabularySize)")
        }
        if !(initializerRange >= 0) { return ("initializer_range", "must be ≥ 0, got \(initializerRange)") }
        return nil
    }

    // MARK: - Codable (Hugging Face's keys)

    enum CodingKeys: String, CodingKey, CaseIterable {
        case vocabularySize = "vocab_size"
        case hiddenSize = "hidden_size"
        case layerCount = "num_hidden_layers"
        case headCount = "num_attention_heads"
        case intermediateSize = "intermediate_size"
        case hiddenActivation = "hidden_act"
        case maxPositionEmbeddings = "max_position_embeddings"
        case typeVocabularySize = "type_vocab_size"
        case layerNormEpsilon = "layer_norm_eps"
        case hiddenDropout = "hidden_dropout_prob"
        case attentionDropout = "attention_probs_dropout_prob"
        case classifierDropout = "classifier_dropout"
        case padTokenId = "pad_token_id"
        case initializerRange = "initializer_range"
        case positionEmbeddingType = "position_embedding_type"
        case idToLabel = "id2label"
        case modelType = "model_type"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vocabularySize = try c.decode(Int.self, forKey: .vocabularySize)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        layerCount = try c.decode(Int.self, forKey: .layerCount)
        headCount = try c.decode(Int.self, forKey: .headCount)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        let activation = try c.decodeIfPresent(String.self, forKey: .hiddenActivation) ?? "gelu"
        guard let act = BertActivation(rawValue: activation) else {
            throw DecodingError.dataCorruptedError(
                forKey: .hiddenActivation, in: c,
                debugDescription: "unsupported activation \"\(activation)\"; supported: "
                    + BertActivation.allCases.map(\.rawValue).joined(separator: ", "))
        }
        hiddenActivation = act
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? 512
        typeVocabularySize = try c.decodeIfPresent(Int.self, forKey: .typeVocabularySize) ?? 2
        layerNormEpsilon = try c.decodeIfPresent(Float.self, forKey: .layerNormEpsilon) ?? 1e-12
        hiddenDropout = try c.decodeIfPresent(Float.self, forKey: .hiddenDropout) ?? 0.1
        attentionDropout = try c.decodeIfPresent(Float.self, forKey: .attentionDropout) ?? 0.1
        classifierDropout = try c.decodeIfPresent(Float.self, forKey: .classifierDropout)
        padTokenId = try c.decodeIfPresent(Int.self, forKey: .padTokenId) ?? 0
        initializerRange = try c.decodeIfPresent(Float.self, forKey: .initializerRange) ?? 0.02
        if let type = try c.decodeIfPresent(String.self, forKey: .positionEmbeddingType), type != "absolute" {
            throw DecodingError.dataCorruptedError(
                forKey: .positionEmbeddingType, in: c,
                debugDescription: "only \"absolute\" position embeddings are supported, got \"\(type)\"")
        }
        if let table = try c.decodeIfPresent([String: String].self, forKey: .idToLabel) {
            var pairs: [(Int, String)] = []
            for (id, name) in table {
                guard let i = Int(id) else {
                    throw DecodingError.dataCorruptedError(forKey: .idToLabel, in: c,
                                                           debugDescription: "label id \"\(id)\" is not an integer")
                }
                pairs.append((i, name))
            }
            pairs.sort { $0.0 < $1.0 }
            guard pairs.map(\.0) == Array(0..<pairs.count) else {
                throw DecodingError.dataCorruptedError(forKey: .idToLabel, in: c,
                                                       debugDescription: "label ids must be 0..<\(pairs.count)")
            }
            labels = pairs.map(\.1)
        }
        if let problem = validationError() {
            let key = CodingKeys.allCases.first { $0.stringValue == problem.key } ?? .vocabularySize
            throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: problem.reason)
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode("bert", forKey: .modelType)
        try c.encode(vocabularySize, forKey: .vocabularySize)
        try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(layerCount, forKey: .layerCount)
        try c.encode(headCount, forKey: .headCount)
        try c.encode(intermediateSize, forKey: .intermediateSize)
        try c.encode(hiddenActivation, forKey: .hiddenActivation)
        try c.encode(maxPositionEmbeddings, forKey: .maxPositionEmbeddings)
        try c.encode(typeVocabularySize, forKey: .typeVocabularySize)
        try c.encode(layerNormEpsilon, forKey: .layerNormEpsilon)
        try c.encode(hiddenDropout, forKey: .hiddenDropout)
        try c.encode(attentionDropout, forKey: .attentionDropout)
        try c.encodeIfPresent(classifierDropout, forKey: .classifierDropout)
        try c.encode(padTokenId, forKey: .padTokenId)
        try c.encode(initializerRange, forKey: .initializerRange)
        try c.encode("absolute", forKey: .positionEmbeddingType)
        if let labels {
            try c.encode(Dictionary(uniqueKeysWithValues: labels.enumerated().map { (String($0.offset), $0.element) }),
                         forKey: .idToLabel)
        }
    }

    // MARK: - Files

    /// Reads a Hugging Face `config.json`.
    /// - Parameter url: the file, or a model directory holding `config.json`.
    /// - Throws: `BertError.unreadableFile` for a missing file or invalid JSON,
    ///   `BertError.invalidConfig` naming the file and the key that is missing, has the wrong
    ///   type or an unusable value.
    public static func load(from url: URL) throws -> BertConfig {
        let file = BertConfig.configFile(url)
        let data: Data
        do { data = try Data(contentsOf: file) } catch {
            throw BertError.unreadableFile(path: file.path, reason: "cannot read the configuration (\(error.localizedDescription))")
        }
        do {
            return try JSONDecoder().decode(BertConfig.self, from: data)
        } catch let error as DecodingError {
            throw BertConfig.describe(error, file: file.path)
        }
    }

    /// `url` itself, or `url/config.json` when `url` is a directory.
    static func configFile(_ url: URL) -> URL {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            return url.appendingPathComponent("config.json")
        }
        return url
    }

    /// A decoding error as a `BertError` naming the key.
    static func describe(_ error: DecodingError, file: String) -> BertError {
        func key(_ path: [CodingKey]) -> String { path.map(\.stringValue).joined(separator: ".") }
        switch error {
        case let .keyNotFound(missing, context):
            return .invalidConfig(file: file, key: key(context.codingPath + [missing]), reason: "missing")
        case let .typeMismatch(type, context):
            return .invalidConfig(file: file, key: key(context.codingPath), reason: "expected \(BertConfig.typeName(type))")
        case let .valueNotFound(type, context):
            return .invalidConfig(file: file, key: key(context.codingPath), reason: "is null, expected \(BertConfig.typeName(type))")
        case let .dataCorrupted(context):
            if context.codingPath.isEmpty {
                return .unreadableFile(path: file, reason: "not a JSON object (\(context.debugDescription))")
            }
            return .invalidConfig(file: file, key: key(context.codingPath), reason: context.debugDescription)
        @unknown default:
            return .unreadableFile(path: file, reason: "\(error)")
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: return "an integer"
        case is Float.Type, is Double.Type: return "a number"
        case is String.Type: return "a string"
        default: return "\(type)"
        }
    }
}
