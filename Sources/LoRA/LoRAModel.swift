import Foundation
import NN
import SafeTensors
import Tensor

/// A model with named LoRA adapters: injection, activation, merging and adapter files.
///
/// Injection replaces each targeted layer by its LoRA form through the module tree (the model's
/// code is untouched), freezes the base and leaves trainable exactly the adapters, the biases the
/// configuration asks for and the modules to save.
public final class LoRAModel {
    /// The wrapped model (its adapted layers are `LoRAHost`s).
    public let model: Module
    /// Configurations by adapter name, in the order added.
    public internal(set) var configs: [(name: String, config: LoRAConfig)] = []
    /// The adapters that run in the forward pass.
    public internal(set) var activeAdapters: [String] = []
    /// Saved-module values of adapters that are not active, restored on activation.
    var savedModuleValues: [String: [String: Tensor]] = [:]

    public init(wrapping model: Module) { self.model = model }

    public var adapterNames: [String] { configs.map(\.name) }

    public func config(_ name: String) -> LoRAConfig? { configs.first { $0.name == name }?.config }

    /// Every LoRA host in the model with its key.
    public var hosts: [(key: String, host: LoRAHost)] {
        model.namedModules().compactMap { k, m in (m as? LoRAHost).map { (k, $0) } }
    }

    /// Freezes the base; unfreezes active adapters, biases per the bias mode and saved modules.
    func applyTrainability(_ config: LoRAConfig) {
        model.freeze()
        for (_, host) in hosts {
            for name in activeAdapters.isEmpty ? host.adapters.names : activeAdapters {
                host.adapters[name]?.unfreeze()
            }
            if config.bias == .loraOnly { host.unfreeze(keys: ["bias"]) }
        }
        if config.bias == .all { model.unfreeze(keys: ["bias", "*.bias"]) }
        for key in config.modulesToSave {
            for (k, _) in model.namedModules() where TargetMatcher.matches(pattern: key, key: k) {
                model.unfreeze(keys: [k + "."])
            }
        }
    }

    // MARK: - Activation

    /// Makes `names` the adapters that run (and train); others stay loaded but inactive.
    public func setActiveAdapters(_ names: [String]) throws {
        for n in names where !adapterNames.contains(n) {
            throw LoRAError.unknownAdapter(n, available: adapterNames)
        }
        // Keep the current saved-module values with the adapters being deactivated, then bring in
        // the values of the adapters being activated.
        let saved = savedModuleKeys
        if !saved.isEmpty {
            let state = model.stateDict().filter { saved.contains($0.key) }
            for n in activeAdapters where !names.contains(n) { savedModuleValues[n] = state.mapValues { $0.copy() } }
            for n in names { if let values = savedModuleValues[n] { try model.load(values, strict: false) } }
        }
        activeAdapters = names
        for (_, host) in hosts {
            host.adapters.active = names.filter { host.adapters[$0] != nil }
        }
        if let config = names.first.flatMap({ self.config($0) }) { applyTrainability(config) }
    }

    /// Runs the model as its base: adapters are skipped until `enableAdapters()`.
    public func disableAdapters() { for (_, h) in hosts { h.adapters.isDisabled = true } }
    public func enableAdapters() { for (_, h) in hosts { h.adapters.isDisabled = false } }

    /// Removes an adapter from every layer; layers left without adapters keep their LoRA form.
    public func deleteAdapter(_ name: String) throws {
        guard adapterNames.contains(name) else { throw LoRAError.unknownAdapter(name, available: adapterNames) }
        for (_, host) in hosts where host.adapters[name] != nil { try host.deleteAdapter(name) }
        configs.removeAll { $0.name == name }
        activeAdapters.removeAll { $0 == name }
        savedModuleValues[name] = nil
    }

    /// Keys of parameters in saved modules (of any adapter's config).
    var savedModuleKeys: Set<String> {
        let patterns = Set(configs.flatMap(\.config.modulesToSave))
        var keys = Set<String>()
        for (k, m) in model.namedModules() where patterns.contains(where: { TargetMatcher.matches(pattern: $0, key: k) }) {
            for (pk, _) in m.stateDict() { keys.insert(k.isEmpty ? pk : k + "." + pk) }
        }
        return keys
    }

    // MARK: - Merging

    /// Merges the active adapters into the base weights (inference then costs what the base costs).
    /// - Throws: `LoRAError.nonFiniteMerge` naming the layer; layers merged before it are unmerged.
    public func merge() throws {
        var done: [LoRAHost] = []
        for (key, host) in hosts {
            do { try host.merge(host.adapters.active, key: key) } catch {
                for h in done { try? h.unmerge() }
                throw error
            }
            done.append(host)
        }
    }

    /// Undoes `merge()`.
    public func unmerge() throws { for (_, host) in hosts { try host.unmerge() } }

    /// The model's state dict under the base model's keys with the active adapters merged in and no
    /// adapter tensors: a plain checkpoint of the adapted model. The model itself is unchanged.
    public func mergedStateDict() throws -> [String: Tensor] {
        var state = model.stateDict().filter { !LoRAModel.isAdapterKey($0.key) }
        for (key, host) in hosts where !host.adapters.isDisabled {
            guard host.supportsMerge || host.adapters.forwardAdapters.isEmpty else {
                throw LoRAError.unsupported(key: key, reason: "this layer cannot merge adapters (\(type(of: host)))")
            }
            var w = host.baseWeight.tensor!.detached()
            for name in host.adapters.active where !host.adapters.merged.contains(name) {
                guard let adapter = host.adapters[name] else { continue }
                w = withNoGrad { host.mergedWeight(w, adapter) }
            }
            guard w.scalars.allSatisfy(\.isFinite) else {
                throw LoRAError.nonFiniteMerge(key: key, adapter: host.adapters.active.joined(separator: ","))
            }
            state[key + ".weight"] = w
        }
        return state
    }

    /// Writes `mergedStateDict()` as a plain safetensors file under the base model's keys
    /// (atomically), loadable by the base architecture without LoRAKit or PEFT.
    public func saveMerged(to path: String) throws {
        try SafeTensors.write(try mergedStateDict(), metadata: ["format": "pt"], to: path)
    }

    static func isAdapterKey(_ key: String) -> Bool {
        key.hasPrefix("adapters.") || key.contains(".adapters.")
    }

    // MARK: - Combination

    /// How `addWeightedAdapter` combines adapters.
    public enum Combination: String, Sendable {
        /// Concatenates the factors (rank = sum of ranks): the delta is exactly Σ wᵢ·ΔWᵢ.
        case cat
        /// Averages the factors (ranks must agree): Σ √wᵢ·Aᵢ and Σ √wᵢ·Bᵢ, as PEFT's `linear`.
        case linear
    }

    /// Creates adapter `name` from a weighted combination of existing adapters, on every layer
    /// that holds all of them, and activates it.
    public func addWeightedAdapter(_ name: String, sources: [(name: String, weight: Float)],
                                   combination: Combination = .cat) throws {
        guard !adapterNames.contains(name) else { throw LoRAError.duplicateAdapter(name) }
        guard let first = sources.first, let baseConfig = config(first.name) else {
            throw LoRAError.unknownAdapter(sources.first?.name ?? "", available: adapterNames)
        }
        for s in sources where config(s.name) == nil { throw LoRAError.unknownAdapter(s.name, available: adapterNames) }
        // Every layer's combination first, so that a refusal leaves no layer with the new adapter.
        var combined: [(host: LoRAHost, adapter: LoRAAdapter)] = []
        for (key, host) in hosts {
            let parts = sources.compactMap { s in host.adapters[s.name].map { ($0, s.weight) } }
            guard parts.count == sources.count else { continue }
            if parts.contains(where: { $0.0.variant != nil }) {
                throw LoRAError.unsupported(key: key, reason: "weighted combination of adapters with a variant (DoRA)")
            }
            combined.append((host, try AdapterCombination.combine(parts, combination: combination, key: key, host: host)))
        }
        for (host, adapter) in combined { host.adapters.set(adapter, as: name) }
        var config = baseConfig
        config.rank = combined.map(\.adapter.rank).max() ?? baseConfig.rank
        config.alpha = Float(config.rank)
        config.rankPattern = [:]
        config.alphaPattern = [:]
        config.useRSLoRA = false
        configs.append((name, config))
        try setActiveAdapters([name])
    }
}
