import Foundation

/// Reads and writes PEFT's `adapter_config.json` for LoRA. Fields LoRAKit implements are read;
/// fields of PEFT it does not implement are accepted only at their default (inactive) value; any
/// other field is an error — nothing is silently ignored.
enum PEFTConfigCodec {
    /// PEFT fields that carry no behaviour (bookkeeping), accepted with any value.
    static let informational: Set<String> = [
        "task_type", "peft_version", "base_model_name_or_path", "revision", "inference_mode",
        "auto_mapping", "megatron_core", "qalora_group_size",
    ]

    /// PEFT features LoRAKit does not implement, with the value that means "off".
    static let inactiveDefaults: [String: Any] = [
        "fan_in_fan_out": false, "layers_to_transform": NSNull(), "layers_pattern": NSNull(),
        "megatron_config": NSNull(), "trainable_token_indices": NSNull(), "loftq_config": [String: Any](),
        "eva_config": NSNull(), "corda_config": NSNull(), "lora_ga_config": NSNull(), "velora_config": NSNull(),
        "alora_invocation_tokens": NSNull(), "use_qalora": false, "monteclora_config": NSNull(),
        "layer_replication": NSNull(), "lora_bias": false, "target_parameters": NSNull(), "use_bdlora": NSNull(),
        "arrow_config": NSNull(), "kasa_config": NSNull(), "ensure_weight_tying": false,
    ]

    static let supported: Set<String> = [
        "peft_type", "r", "lora_alpha", "lora_dropout", "target_modules", "exclude_modules", "use_rslora",
        "use_dora", "rank_pattern", "alpha_pattern", "bias", "modules_to_save", "init_lora_weights",
    ]

    static func encode(_ c: LoRAConfig) throws -> Data {
        // A single `re:` pattern is PEFT's string form (a full-match regex).
        let targets: Any = c.targetModules.count == 1 && c.targetModules[0].hasPrefix("re:")
            ? String(c.targetModules[0].dropFirst(3)) : c.targetModules
        let init_: Any
        switch c.initialization {
        case .kaiming: init_ = true
        case .gaussian: init_ = "gaussian"
        case .pissa: init_ = "pissa"
        }
        var dict: [String: Any] = [
            "peft_type": "LORA", "task_type": NSNull(), "base_model_name_or_path": NSNull(), "revision": NSNull(),
            "inference_mode": true, "r": c.rank, "lora_alpha": Double(c.alpha), "lora_dropout": Double(c.dropout),
            "target_modules": targets, "exclude_modules": c.excludeModules.isEmpty ? NSNull() : c.excludeModules,
            "use_rslora": c.useRSLoRA, "use_dora": c.useDoRA, "rank_pattern": c.rankPattern,
            "alpha_pattern": c.alphaPattern.mapValues { Double($0) }, "bias": c.bias.rawValue,
            "modules_to_save": c.modulesToSave.isEmpty ? NSNull() : c.modulesToSave, "init_lora_weights": init_,
        ]
        for (k, v) in inactiveDefaults { dict[k] = v }
        return try JSONSerialization.data(withJSONObject: dict, options: [.prettyPrinted, .sortedKeys])
    }

    static func decode(_ data: Data, path: String) throws -> LoRAConfig {
        func fail(_ reason: String) -> LoRAError { .invalidAdapterFile(path: path, reason: reason) }
        guard let dict = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw fail("not a JSON object")
        }
        for (k, v) in dict where !supported.contains(k) && !informational.contains(k) {
            guard let inactive = inactiveDefaults[k] else { throw fail("unknown field '\(k)'") }
            guard isSame(v, inactive) else { throw fail("field '\(k)' = \(v) is a PEFT feature LoRAKit does not support") }
        }
        guard (dict["peft_type"] as? String) == "LORA" else { throw fail("peft_type must be \"LORA\", got \(dict["peft_type"] ?? "nothing")") }
        guard let r = dict["r"] as? Int else { throw fail("field 'r' must be an integer") }
        let alpha = (dict["lora_alpha"] as? NSNumber)?.floatValue ?? Float(r)
        let dropout = (dict["lora_dropout"] as? NSNumber)?.floatValue ?? 0
        let targets: [String]
        switch dict["target_modules"] {
        case let s as String: targets = ["re:" + s]
        case let list as [String]: targets = list
        default: throw fail("field 'target_modules' must be a string or a list of strings")
        }
        let excludes: [String]
        switch dict["exclude_modules"] {
        case nil, is NSNull: excludes = []
        case let s as String: excludes = ["re:" + s]
        case let list as [String]: excludes = list
        default: throw fail("field 'exclude_modules' must be null, a string or a list of strings")
        }
        let initialization: LoRAInitialization
        switch dict["init_lora_weights"] {
        case nil: initialization = .kaiming
        case let b as Bool where b == true: initialization = .kaiming
        case let s as String where s == "gaussian": initialization = .gaussian
        case let s as String where s == "pissa": initialization = .pissa
        case let b as Bool where b == false: initialization = .kaiming   // loaded weights replace it anyway
        default: throw fail("init_lora_weights = \(dict["init_lora_weights"]!) is not supported (true, false, \"gaussian\", \"pissa\")")
        }
        guard let bias = LoRABiasMode(rawValue: (dict["bias"] as? String) ?? "none") else {
            throw fail("field 'bias' must be none, all or lora_only")
        }
        let rankPattern = (dict["rank_pattern"] as? [String: Int]) ?? [:]
        let alphaPattern = ((dict["alpha_pattern"] as? [String: NSNumber]) ?? [:]).mapValues { $0.floatValue }
        let modulesToSave: [String]
        switch dict["modules_to_save"] {
        case nil, is NSNull: modulesToSave = []
        case let list as [String]: modulesToSave = list
        default: throw fail("field 'modules_to_save' must be null or a list of strings")
        }
        let config = LoRAConfig(rank: r, alpha: alpha, dropout: dropout,
                                useRSLoRA: (dict["use_rslora"] as? Bool) ?? false,
                                initialization: initialization, useDoRA: (dict["use_dora"] as? Bool) ?? false,
                                rankPattern: rankPattern, alphaPattern: alphaPattern, bias: bias,
                                targetModules: targets, excludeModules: excludes, modulesToSave: modulesToSave)
        do { try config.validate() } catch { throw fail("\(error)") }
        return config
    }

    private static func isSame(_ a: Any, _ b: Any) -> Bool {
        switch (a, b) {
        case (is NSNull, is NSNull): return true
        case let (x as [String: Any], y as [String: Any]): return x.isEmpty && y.isEmpty
        case let (x as Bool, y as Bool): return x == y
        default: return false
        }
    }
}
