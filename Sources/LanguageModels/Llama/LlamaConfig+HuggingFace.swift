import Foundation

/// `LlamaConfig` from and to Hugging Face's `config.json`.
///
/// Accepts the keys of `transformers` 4.x (`rope_theta` at the top level) and 5.x
/// (`rope_parameters.rope_theta`); `eos_token_id` may be a number or a list. A RoPE scaling other
/// than the default (`rope_scaling` / `rope_parameters.rope_type` such as `llama3`, `linear`,
/// `dynamic`, `yarn`), an activation other than `silu` and a `model_type` other than `llama`,
/// `mistral` without sliding window or `smollm` are refused with the key that asks for them.
extension LlamaConfig {
    /// Reads a Hugging Face `config.json`.
    /// - Parameter url: the file, or a model directory holding `config.json`.
    /// - Throws: `LlamaError.unreadableFile` for a missing file or invalid JSON,
    ///   `.invalidConfig` naming the key that is missing, has the wrong type or an unusable value,
    ///   `.unsupported` naming the key that asks for something this implementation does not do.
    public static func load(from url: URL) throws -> LlamaConfig {
        var isDirectory: ObjCBool = false
        let file = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && isDirectory.boolValue
            ? url.appendingPathComponent("config.json") : url
        let data: Data
        do { data = try Data(contentsOf: file) } catch {
            throw LlamaError.unreadableFile(path: file.path, reason: "cannot read the configuration (\(error.localizedDescription))")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data), let json = object as? [String: Any] else {
            throw LlamaError.unreadableFile(path: file.path, reason: "not a JSON object")
        }
        return try LlamaConfig(huggingFace: json, file: file.path)
    }

    /// A configuration from the decoded JSON object of a `config.json` (`file` names it in errors).
    public init(huggingFace json: [String: Any], file: String = "config.json") throws {
        let reader = JSONKeys(json: json, file: file)
        if let type = try reader.string("model_type"), !["llama", "mistral", "smollm", "smollm2"].contains(type) {
            throw LlamaError.unsupported(file: file, key: "model_type", reason: "\"\(type)\" is not a Llama-architecture model")
        }
        if let act = try reader.string("hidden_act"), act != "silu" {
            throw LlamaError.unsupported(file: file, key: "hidden_act", reason: "Llama's feed-forward uses silu, got \"\(act)\"")
        }
        if let window = json["sliding_window"], !(window is NSNull) {
            throw LlamaError.unsupported(file: file, key: "sliding_window", reason: "sliding-window attention")
        }
        if let scaling = json["rope_scaling"], !(scaling is NSNull) {
            throw LlamaError.unsupported(file: file, key: "rope_scaling", reason: "only unscaled RoPE is implemented")
        }
        var theta = try reader.number("rope_theta")
        if let parameters = json["rope_parameters"], !(parameters is NSNull) {
            guard let table = parameters as? [String: Any] else {
                throw LlamaError.invalidConfig(file: file, key: "rope_parameters", reason: "expected an object")
            }
            let nested = JSONKeys(json: table, file: file, prefix: "rope_parameters.")
            if let type = try nested.string("rope_type"), type != "default" {
                throw LlamaError.unsupported(file: file, key: "rope_parameters.rope_type",
                                             reason: "\"\(type)\" RoPE scaling; only \"default\" is implemented")
            }
            theta = try nested.number("rope_theta") ?? theta
        }
        var eos: [Int] = []
        switch json["eos_token_id"] {
        case let id as Int: eos = [id]
        case let ids as [Int]: eos = ids
        case nil, is NSNull: break
        default: throw LlamaError.invalidConfig(file: file, key: "eos_token_id", reason: "expected an integer or a list of integers")
        }
        self.init(vocabularySize: try reader.required("vocab_size"), hiddenSize: try reader.required("hidden_size"),
                  intermediateSize: try reader.required("intermediate_size"),
                  layerCount: try reader.required("num_hidden_layers"), headCount: try reader.required("num_attention_heads"),
                  keyValueHeadCount: try reader.int("num_key_value_heads"), headDimension: try reader.int("head_dim"),
                  maxPositionEmbeddings: try reader.int("max_position_embeddings") ?? 2048,
                  rmsNormEpsilon: Float(try reader.number("rms_norm_eps") ?? 1e-6), ropeTheta: Float(theta ?? 10_000),
                  tieWordEmbeddings: try reader.bool("tie_word_embeddings") ?? false,
                  attentionBias: try reader.bool("attention_bias") ?? false, mlpBias: try reader.bool("mlp_bias") ?? false,
                  bosTokenId: try reader.int("bos_token_id"), eosTokenIds: eos)
        if let problem = validationError() {
            throw LlamaError.invalidConfig(file: file, key: problem.key, reason: problem.reason)
        }
    }

    /// The configuration as a `config.json` object that `transformers` reads back as this model.
    public var huggingFaceJSON: [String: Any] {
        var json: [String: Any] = [
            "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
            "vocab_size": vocabularySize, "hidden_size": hiddenSize, "intermediate_size": intermediateSize,
            "num_hidden_layers": layerCount, "num_attention_heads": headCount, "num_key_value_heads": keyValueHeadCount,
            "head_dim": headDimension, "max_position_embeddings": maxPositionEmbeddings,
            "rms_norm_eps": Double(rmsNormEpsilon), "rope_theta": Double(ropeTheta), "tie_word_embeddings": tieWordEmbeddings,
            "attention_bias": attentionBias, "mlp_bias": mlpBias,
        ]
        if let bosTokenId { json["bos_token_id"] = bosTokenId }
        if !eosTokenIds.isEmpty { json["eos_token_id"] = eosTokenIds.count == 1 ? eosTokenIds[0] : eosTokenIds }
        return json
    }
}

/// Typed reads of a JSON object's keys, each error naming the key.
private struct JSONKeys {
    let json: [String: Any]
    let file: String
    var prefix = ""

    private func value(_ key: String) -> Any? {
        guard let v = json[key], !(v is NSNull) else { return nil }
        return v
    }

    func int(_ key: String) throws -> Int? {
        guard let v = value(key) else { return nil }
        guard let n = v as? NSNumber, !isBoolean(n), let i = Int(exactly: n.doubleValue) else {
            throw LlamaError.invalidConfig(file: file, key: prefix + key, reason: "expected an integer, got \(v)")
        }
        return i
    }

    func required(_ key: String) throws -> Int {
        guard let i = try int(key) else { throw LlamaError.invalidConfig(file: file, key: prefix + key, reason: "missing") }
        return i
    }

    func number(_ key: String) throws -> Double? {
        guard let v = value(key) else { return nil }
        guard let n = v as? NSNumber, !isBoolean(n) else {
            throw LlamaError.invalidConfig(file: file, key: prefix + key, reason: "expected a number, got \(v)")
        }
        return n.doubleValue
    }

    func bool(_ key: String) throws -> Bool? {
        guard let v = value(key) else { return nil }
        guard let n = v as? NSNumber, isBoolean(n) else { throw LlamaError.invalidConfig(file: file, key: prefix + key, reason: "expected true or false") }
        return n.boolValue
    }

    /// JSON's `true`/`false` (Foundation reads them as NSNumbers of type `c`, numbers as `i`, `q`, `d`).
    private func isBoolean(_ n: NSNumber) -> Bool { String(cString: n.objCType) == "c" }

    func string(_ key: String) throws -> String? {
        guard let v = value(key) else { return nil }
        guard let s = v as? String else { throw LlamaError.invalidConfig(file: file, key: prefix + key, reason: "expected a string") }
        return s
    }
}
