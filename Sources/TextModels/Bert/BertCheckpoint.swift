import Foundation
import NN
import SafeTensors
import Tensor

/// A Hugging Face BERT checkpoint on disk: `config.json` and `model.safetensors` in one directory.
///
/// Keys are read with or without the `bert.` prefix: a `BertModel` checkpoint (MiniLM's) has
/// `embeddings.…`, `encoder.…`, `pooler.…`; a `BertForSequenceClassification` checkpoint has
/// `bert.embeddings.…`, …, and `classifier.{weight,bias}`. Layer norms may be named
/// `LayerNorm.gamma`/`.beta`, as in the original BERT checkpoints. Tensors of pre-training heads
/// (`cls.…`) and the `position_ids`/`token_type_ids` buffers are ignored; any other key is
/// unexpected.
struct BertCheckpoint {
    let config: BertConfig
    let weightsPath: String
    private let file: SafeTensorsFile
    /// Encoder keys (without the `bert.` prefix) → the file's key.
    private let encoderKeys: [String: String]
    /// Head keys (`classifier.weight`, …) → the file's key.
    private let headKeys: [String: String]

    /// Opens `url`: a directory with `config.json` and `model.safetensors`, or a `.safetensors`
    /// file with `config.json` beside it.
    /// - Throws: `BertError.unreadableFile`, `.invalidConfig`, `.unexpectedWeights`.
    init(url: URL) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw BertError.unreadableFile(path: url.path, reason: "no such file or directory")
        }
        let directory = isDirectory.boolValue ? url : url.deletingLastPathComponent()
        let weights = isDirectory.boolValue ? url.appendingPathComponent("model.safetensors") : url
        config = try BertConfig.load(from: directory.appendingPathComponent("config.json"))
        weightsPath = weights.path
        do { file = try SafeTensorsFile(path: weights.path) } catch {
            throw BertError.unreadableFile(path: weights.path, reason: "\(error)")
        }
        var encoder: [String: String] = [:], head: [String: String] = [:], unexpected: [String] = []
        for name in file.names {
            if name.hasSuffix("position_ids") || name.hasSuffix("token_type_ids") || name.hasPrefix("cls.") { continue }
            var key = name.hasPrefix("bert.") ? String(name.dropFirst(5)) : name
            // The original BERT checkpoints name layer-norm parameters gamma and beta.
            if key.hasSuffix("LayerNorm.gamma") { key = String(key.dropLast(5)) + "weight" }
            if key.hasSuffix("LayerNorm.beta") { key = String(key.dropLast(4)) + "bias" }
            if ["embeddings.", "encoder.", "pooler."].contains(where: key.hasPrefix) {
                if let other = encoder[key] {
                    throw BertError.unexpectedWeights(file: weights.path, keys: [other, name])
                }
                encoder[key] = name
            } else if name.hasPrefix("classifier.") {
                head[name] = name
            } else {
                unexpected.append(name)
            }
        }
        if !unexpected.isEmpty { throw BertError.unexpectedWeights(file: weights.path, keys: unexpected) }
        encoderKeys = encoder
        headKeys = head
    }

    /// Whether the checkpoint has the pooler's weights.
    var hasPooler: Bool { encoderKeys["pooler.dense.weight"] != nil }

    /// The shape of the classifier weight [C, H], when the checkpoint has a classifier.
    var classifierShape: [Int]? { headKeys["classifier.weight"].flatMap { file.info($0)?.shape } }

    /// Loads `module`'s parameters after checking every one is present with the module's shape:
    /// the encoder's (keys `embeddings.…`, `encoder.…`, `pooler.…`) or, with `head`, the
    /// classifier's (its keys prefixed by `classifier.`).
    /// - Parameter skipping: key prefixes the module may lack in the file (a new pooler); their
    ///   parameters keep their values.
    /// - Throws: `BertError.missingWeight` naming the first absent key in the module's order,
    ///   `.shapeMismatch`, `.unreadableFile` for a tensor the file cannot give.
    func load(into module: Module, head: Bool = false, skipping: [String] = []) throws {
        let keys = head ? headKeys : encoderKeys
        var values: [String: Tensor] = [:]
        for (key, slot) in module.namedParameterSlots() {
            guard let name = keys[head ? "classifier." + key : key] else {
                if skipping.contains(where: key.hasPrefix) { continue }
                throw BertError.missingWeight(file: weightsPath, key: head ? "classifier." + key : key)
            }
            let expected = slot.tensor?.shape ?? []
            let shape = file.info(name)?.shape ?? []
            guard shape == expected else {
                throw BertError.shapeMismatch(file: weightsPath, key: name, expected: expected, got: shape)
            }
            do { values[key] = try file.tensor(named: name) } catch {
                throw BertError.unreadableFile(path: weightsPath, reason: "\(error)")
            }
        }
        do { try module.load(values, strict: false) } catch {
            throw BertError.unreadableFile(path: weightsPath, reason: "\(error)")
        }
    }
}

extension BertModel {
    /// Loads a pretrained encoder from a Hugging Face checkpoint: a directory with `config.json`
    /// and `model.safetensors` (or that `.safetensors` file, `config.json` beside it), with keys
    /// with or without the `bert.` prefix. A classifier in the file is ignored; the model has a
    /// pooler exactly when the checkpoint does.
    /// - Parameter seed: seeds the dropout generators.
    /// - Throws: `BertError` naming the file and the key that is missing, misshapen or
    ///   unexpected, or the configuration key that is invalid.
    public static func loadPretrained(from url: URL, seed: UInt64 = 0) throws -> BertModel {
        let checkpoint = try BertCheckpoint(url: url)
        let model = BertModel.forLoading(config: checkpoint.config, addPooler: checkpoint.hasPooler, seed: seed)
        try checkpoint.load(into: model)
        return model
    }
}

extension BertForSequenceClassification {
    /// Loads a classifier from a Hugging Face checkpoint: a `BertForSequenceClassification` one
    /// (`bert.*` + `classifier.*`), or a bare encoder (`BertModel`'s keys, as MiniLM's) to which
    /// a new head is added.
    ///
    /// The encoder's weights must all be present. The head is new — drawn from `generator` as
    /// Hugging Face initialises it — when the file has no classifier or `classes` differs from
    /// its class count; the pooler is new when `.pooler` pooling is asked for and the file has
    /// none. Nothing else may be missing.
    ///
    /// - Parameters:
    ///   - url: the checkpoint directory, or its `.safetensors` file with `config.json` beside it.
    ///   - classes: outputs of the classifier; defaults to the checkpoint's classifier.
    ///   - pooling: defaults to `.pooler` when the checkpoint has pooler weights, else `.mean`.
    ///   - generator: the random source for new head weights and the dropout generators.
    /// - Throws: `BertError.missingWeight` naming the key (`classifier.weight` when the file has
    ///   no classifier and `classes` is nil), `.shapeMismatch`, `.unexpectedWeights`,
    ///   `.invalidConfig`, `.unreadableFile`.
    public static func loadPretrained(from url: URL, classes: Int? = nil, pooling: BertPooling? = nil,
                                      generator: inout RandomGenerator) throws -> BertForSequenceClassification {
        let checkpoint = try BertCheckpoint(url: url)
        let stored = checkpoint.classifierShape?.first
        guard let classCount = classes ?? stored else {
            throw BertError.missingWeight(file: checkpoint.weightsPath, key: "classifier.weight")
        }
        guard classCount >= 1 else { throw BertError.invalidInput("classes must be at least 1, got \(classCount)") }
        let pooling = pooling ?? (checkpoint.hasPooler ? .pooler : .mean)
        let addPooler = checkpoint.hasPooler || pooling == .pooler
        let bert = BertModel.forLoading(config: checkpoint.config, addPooler: addPooler, seed: generator.next())
        try checkpoint.load(into: bert, skipping: checkpoint.hasPooler ? [] : ["pooler."])
        if addPooler && !checkpoint.hasPooler {
            bert.pooler = BertPooler(config: checkpoint.config, generator: &generator, drawWeights: true)
        }
        let model = BertForSequenceClassification(bert: bert, classes: classCount, pooling: pooling, generator: &generator)
        if stored == classCount { try checkpoint.load(into: model.classifier, head: true) }
        return model
    }
}
