import Foundation
import NN
import SafeTensors
import Tensor

/// Adapter directories in PEFT's format: `adapter_config.json` and `adapter_model.safetensors`
/// with keys `base_model.model.<layer>.lora_A.weight` [r, in(, kh, kw)], `….lora_B.weight`
/// [out, r(, 1, 1)], `….lora_embedding_A` [r, num], `….lora_embedding_B` [dim, r],
/// `….lora_magnitude_vector` and saved modules under their base keys.
public enum PEFTAdapterFile {
    public static let configName = "adapter_config.json"
    public static let weightsName = "adapter_model.safetensors"
    public static let prefix = "base_model.model."

    // MARK: - Writing

    /// Writes adapter `name` of `lora` to directory `dir`, replacing it atomically: files go to
    /// a temporary directory beside it, which is renamed into place when complete.
    ///
    /// The configuration is written in a form PEFT reads back to the same layers
    /// (`PEFTTargetModules`): target patterns PEFT would read otherwise (globs, `re:` regexes)
    /// become one regex of the adapted layers' keys.
    public static func save(_ lora: LoRAModel, adapter name: String, to dir: String) throws {
        guard let config = lora.config(name) else {
            throw LoRAError.unknownAdapter(name, available: lora.adapterNames)
        }
        var tensors: [String: Tensor] = [:]
        var adapted: [String] = []
        for (key, host) in lora.hosts {
            guard let adapter = host.adapters[name] else { continue }
            adapted.append(key)
            for (k, t) in adapter.stateDict() { tensors[prefix + key + "." + k] = t }
        }
        let hostKeys = Set(lora.hosts.map(\.key))
        for (k, t) in savedModuleState(lora.model, config, hostKeys: hostKeys) { tensors[prefix + k] = t }
        let moduleKeys = lora.model.namedModules().map(\.key).filter { !$0.isEmpty && !LoRAModel.isAdapterKey($0 + ".") }
        let written = PEFTTargetModules.peftReadable(config, adapted: adapted, moduleKeys: moduleKeys)
        let json = try PEFTConfigCodec.encode(written)
        try AtomicDirectory.write(dir) { tmp in
            try json.write(to: URL(fileURLWithPath: tmp + "/" + configName), options: .atomic)
            try SafeTensors.write(tensors, metadata: ["format": "pt"], to: tmp + "/" + weightsName)
        }
    }

    /// Saved modules' state, plus the biases the bias mode trains (PEFT saves those too:
    /// every `…bias` for `all`, the adapted layers' (`hostKeys`) for `lora_only`).
    static func savedModuleState(_ model: Module, _ config: LoRAConfig, hostKeys: Set<String>) -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (k, slot) in model.namedParameterSlots() where k.hasSuffix(".bias") && !LoRAModel.isAdapterKey(k) {
            let owner = String(k.dropLast(5))
            if config.bias == .all || (config.bias == .loraOnly && hostKeys.contains(owner)) { out[k] = slot.tensor }
        }
        for (k, m) in model.namedModules() where !k.isEmpty
        && config.modulesToSave.contains(where: { TargetMatcher.matches(pattern: $0, key: k) }) {
            for (pk, t) in m.stateDict() where !LoRAModel.isAdapterKey(pk) { out[k + "." + pk] = t }
        }
        return out
    }

    // MARK: - Reading

    /// Reads the configuration of an adapter directory.
    public static func loadConfig(from dir: String) throws -> LoRAConfig {
        let path = dir + "/" + configName
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LoRAError.invalidAdapterFile(path: path, reason: "cannot read the file")
        }
        return try PEFTConfigCodec.decode(data, path: path)
    }

    /// Loads the adapter in `dir` into `lora` as adapter `name`: injects it per the file's
    /// configuration and fills every adapter tensor and saved module from the file.
    ///
    /// All or nothing: the injection is planned and every tensor read and checked against it
    /// before the model changes, so a corrupt file, a missing or unexpected tensor or a shape
    /// that does not fit (on any layer) leaves the model exactly as it was — no adapter, no
    /// swapped layer, no changed weight or trainable flag.
    @discardableResult
    public static func load(into lora: LoRAModel, from dir: String, as name: String = "default") throws -> LoRAConfig {
        let config = try loadConfig(from: dir)
        let path = dir + "/" + weightsName
        let file: [String: Tensor]
        do { file = try SafeTensorsFile(path: path).tensors() } catch {
            throw LoRAError.invalidAdapterFile(path: path, reason: "\(error)")
        }
        let plan = try lora.planInjection(name, config: config, generator: RandomGenerator(seed: 0))
        var used = Set<String>()
        for layer in plan.layers {
            let adapter = layer.prepared.adapter
            var values: [String: Tensor] = [:]
            for (k, t) in adapter.stateDict() {
                let fileKey = prefix + layer.key + "." + k
                guard let v = file[fileKey] else {
                    throw LoRAError.invalidAdapterFile(path: path, reason: "missing tensor \(fileKey)")
                }
                guard v.shape == t.shape else { throw LoRAError.shapeMismatch(key: fileKey, expected: t.shape, got: v.shape) }
                values[k] = v
                used.insert(fileKey)
            }
            try adapter.load(values)      // the prepared adapter is not in the model yet
        }
        var saved: [String: Tensor] = [:]
        let hostKeys = Set(lora.hosts.map(\.key) + plan.layers.map(\.key))
        for (k, t) in savedModuleState(lora.model, config, hostKeys: hostKeys) {
            let fileKey = prefix + k
            guard let v = file[fileKey] else {
                throw LoRAError.invalidAdapterFile(path: path, reason: "missing saved-module tensor \(fileKey)")
            }
            guard v.shape == t.shape else { throw LoRAError.shapeMismatch(key: fileKey, expected: t.shape, got: v.shape) }
            saved[k] = v
            used.insert(fileKey)
        }
        let unexpected = file.keys.filter { !used.contains($0) }.sorted()
        guard unexpected.isEmpty else {
            throw LoRAError.invalidAdapterFile(path: path, reason:
                "tensors that fit no adapted layer or saved module: \(unexpected.prefix(5).joined(separator: ", "))")
        }
        // `load` checks every shape before it changes anything, so it throws only with nothing changed.
        try lora.commit(plan) { try lora.model.load(saved, strict: false) }
        return config
    }
}
