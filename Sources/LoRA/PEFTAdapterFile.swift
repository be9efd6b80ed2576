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
    static let prefix = "base_model.model."

    // MARK: - Writing

    /// Writes adapter `name` of `lora` to directory `dir`, replacing it atomically: files go to
    /// a temporary directory beside it, which is renamed into place when complete.
    public static func save(_ lora: LoRAModel, adapter name: String, to dir: String) throws {
        guard let config = lora.config(name) else {
            throw LoRAError.unknownAdapter(name, available: lora.adapterNames)
        }
        var tensors: [String: Tensor] = [:]
        for (key, host) in lora.hosts {
            guard let adapter = host.adapters[name] else { continue }
            for (k, t) in adapter.stateDict() { tensors[prefix + key + "." + k] = t }
        }
        for (k, t) in savedModuleState(lora, config) { tensors[prefix + k] = t }
        let json = try PEFTConfigCodec.encode(config)
        try AtomicDirectory.write(dir) { tmp in
            try json.write(to: URL(fileURLWithPath: tmp + "/" + configName), options: .atomic)
            try SafeTensors.write(tensors, metadata: ["format": "pt"], to: tmp + "/" + weightsName)
        }
    }

    /// Saved modules' state, plus the biases the bias mode trains (PEFT saves those too:
    /// every `…bias` for `all`, the adapted layers' for `lora_only`).
    static func savedModuleState(_ lora: LoRAModel, _ config: LoRAConfig) -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        let hostKeys = Set(lora.hosts.map(\.key))
        for (k, slot) in lora.model.namedParameterSlots() where k.hasSuffix(".bias") && !LoRAModel.isAdapterKey(k) {
            let owner = String(k.dropLast(5))
            if config.bias == .all || (config.bias == .loraOnly && hostKeys.contains(owner)) { out[k] = slot.tensor }
        }
        for (k, m) in lora.model.namedModules() where !k.isEmpty
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
    /// configuration, then fills every adapter tensor and saved module from the file. Every
    /// tensor must fit; a missing or unexpected tensor is an error and leaves no adapter behind.
    @discardableResult
    public static func load(into lora: LoRAModel, from dir: String, as name: String = "default") throws -> LoRAConfig {
        let config = try loadConfig(from: dir)
        let path = dir + "/" + weightsName
        let file: [String: Tensor]
        do { file = try SafeTensorsFile(path: path).tensors() } catch {
            throw LoRAError.invalidAdapterFile(path: path, reason: "\(error)")
        }
        var rng = RandomGenerator(seed: 0)
        try lora.addAdapter(name, config: config, generator: &rng)
        do {
            var used = Set<String>()
            for (key, host) in lora.hosts {
                guard let adapter = host.adapters[name] else { continue }
                var values: [String: Tensor] = [:]
                for (k, t) in adapter.stateDict() {
                    let fileKey = prefix + key + "." + k
                    guard let v = file[fileKey] else {
                        throw LoRAError.invalidAdapterFile(path: path, reason: "missing tensor \(fileKey)")
                    }
                    guard v.shape == t.shape else { throw LoRAError.shapeMismatch(key: fileKey, expected: t.shape, got: v.shape) }
                    values[k] = v
                    used.insert(fileKey)
                }
                try adapter.load(values)
            }
            var saved: [String: Tensor] = [:]
            let expectedSaved = savedModuleState(lora, config)
            for (k, t) in expectedSaved {
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
            try lora.model.load(saved, strict: false)
        } catch {
            try? lora.deleteAdapter(name)
            throw error
        }
        return config
    }
}
