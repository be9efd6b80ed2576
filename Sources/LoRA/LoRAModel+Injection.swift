import NN
import Tensor

/// Injection, all or nothing: an adapter is first worked out for every targeted layer without
/// changing the model (`planInjection`: patterns, LoRA forms, factors, PiSSA's SVD, DoRA's
/// magnitudes, duplicate names), and only then applied (`commit`). The one step that can still
/// fail while applying — swapping a layer into a parent that does not accept its LoRA form — is
/// undone with everything applied before it, so a failed call leaves the module tree, the base
/// weights, the trainable flags and the active adapters as they were, and can be retried.
extension LoRAModel {
    /// The layers `config` would adapt, with their parameter counts; changes nothing. Checks what
    /// `addAdapter` checks (PiSSA's rank included) but starts factors as kaiming, without SVDs.
    public func dryRun(_ config: LoRAConfig, adapterName: String = "default") throws -> InjectionReport {
        let plan = try planInjection(adapterName, config: config, generator: RandomGenerator(seed: 0), dryRun: true)
        return plan.report(trainableParameters: plan.layers.reduce(0) { $0 + $1.prepared.adapter.parameterCount })
    }

    /// Adds an adapter named `name` to every layer `config` targets and makes it the active one.
    /// - Throws: `LoRAError` for an invalid config, a pattern that matches nothing, a matched
    ///   layer with no LoRA form or that cannot take the settings, or a duplicate name;
    ///   `ModuleError.cannotReplace` for a layer its parent cannot swap. The model and `generator`
    ///   are unchanged then.
    @discardableResult
    public func addAdapter(_ name: String = "default", config: LoRAConfig,
                           generator: inout RandomGenerator) throws -> InjectionReport {
        let plan = try planInjection(name, config: config, generator: generator)
        try commit(plan)
        generator = plan.generator
        return plan.report(trainableParameters: model.trainableParameterCount)
    }

    // MARK: - Planning

    /// One layer of a planned injection.
    struct PlannedLayer {
        let key: String
        /// The module at `key` now.
        let original: Module
        /// `original` when it already hosts adapters, else its new LoRA form (not in the tree yet).
        let host: LoRAHost
        let prepared: PreparedAdapter
        var isNew: Bool { host !== original }
    }

    /// An injection worked out in full, nothing applied yet.
    struct InjectionPlan {
        let name: String
        let config: LoRAConfig
        var layers: [PlannedLayer]
        /// Parameters of the model without adapters.
        let modelParameters: Int
        let warnings: [String]
        /// The caller's generator after every layer drew its factors.
        let generator: RandomGenerator

        func report(trainableParameters: Int) -> InjectionReport {
            InjectionReport(adapterName: name, layers: layers.map { l in
                .init(key: l.key, type: "\(type(of: l.original))", rank: l.prepared.adapter.rank,
                      alpha: l.prepared.adapter.settings.alpha, baseParameters: l.host.baseParameterCount,
                      adapterParameters: l.prepared.adapter.parameterCount)
            }, modelParameters: modelParameters, trainableParameters: trainableParameters, warnings: warnings)
        }
    }

    /// Works out adapter `name` on every layer `config` targets, changing nothing in the model.
    /// - Parameter dryRun: check PiSSA without its SVD (factors start as kaiming) and allow a name
    ///   that exists.
    func planInjection(_ name: String, config: LoRAConfig, generator: RandomGenerator,
                       dryRun: Bool = false) throws -> InjectionPlan {
        if !dryRun, adapterNames.contains(name) { throw LoRAError.duplicateAdapter(name) }
        try config.validate()
        let matcher = TargetMatcher(targets: config.targetModules, excludes: config.excludeModules)
        try matcher.validate()
        let existingHosts = hosts
        // Every layer but the adapters' own: a host's sublayers (fused attention's out_proj) stay
        // targets when the host already holds adapters, as they were before it did.
        let modules = model.namedModules().filter { !$0.key.isEmpty && !LoRAModel.isAdapterKey($0.key + ".") }
        let adaptable = modules.filter { Self.isAdaptable($0.module) }
        // Every pattern must match some layer, and some layer it matches must be adaptable.
        for pattern in config.targetModules {
            let hits = modules.filter { TargetMatcher.matches(pattern: pattern, key: $0.key) }
            if hits.isEmpty {
                throw LoRAError.targetMatchedNothing(pattern: pattern, candidates: adaptable.map(\.key))
            }
            if !hits.contains(where: { Self.isAdaptable($0.module) }) {
                throw LoRAError.notAdaptable(key: hits[0].key, type: "\(type(of: hits[0].module))")
            }
        }
        var rng = generator
        var layers: [PlannedLayer] = []
        var warnings: [String] = []
        for (key, module) in adaptable where matcher.matches(key) {
            do {
                let host: LoRAHost
                if let existing = module as? LoRAHost {
                    host = existing
                } else if let layer = module as? LoRAAdaptable {
                    host = try layer.makeLoRAHost()
                } else {
                    continue
                }
                if !dryRun, host.adapters[name] != nil {
                    throw LoRAError.invalidConfig("\(key) already has an adapter named '\(name)'")
                }
                var settings = config.settings(for: key)
                if dryRun {
                    try host.checkSupports(settings)
                    settings.initialization = .kaiming
                }
                let prepared = try host.prepareAdapter(settings, seed: rng.next(), generator: &rng)
                let count = prepared.adapter.parameterCount
                if count >= host.baseParameterCount {
                    warnings.append("\(key): adapter (\(count) parameters) is not smaller than the layer (\(host.baseParameterCount))")
                }
                layers.append(PlannedLayer(key: key, original: module, host: host, prepared: prepared))
            } catch let error as LoRAError {
                throw error.naming(key)
            }
        }
        let adapterParameters = existingHosts.reduce(0) { t, h in
            t + h.host.adapters.entries.reduce(0) { $0 + $1.module.parameterCount }
        }
        return InjectionPlan(name: name, config: config, layers: layers,
                             modelParameters: model.parameterCount - adapterParameters, warnings: warnings, generator: rng)
    }

    static func isAdaptable(_ module: Module) -> Bool { module is LoRAHost || module is LoRAAdaptable }

    // MARK: - Applying

    /// Applies `plan`: swaps in the new LoRA forms, installs the adapters (and PiSSA's residual
    /// weights), records the configuration and activates the adapter, then runs `finish` (which
    /// must change nothing when it throws). If any step throws, every step before it is undone.
    func commit(_ plan: InjectionPlan, then finish: () throws -> Void = {}) throws {
        let snapshot = Snapshot(of: self)
        var swapped: [PlannedLayer] = []
        var installed: [(host: LoRAHost, previousWeight: Tensor?)] = []
        do {
            for layer in plan.layers where layer.isNew {
                try model.replaceModule(at: layer.key, with: layer.host)
                swapped.append(layer)
            }
            for layer in plan.layers {
                let previous = layer.prepared.baseWeight == nil ? nil : layer.host.baseWeight.tensor
                try layer.host.installAdapter(layer.prepared, as: plan.name)
                installed.append((layer.host, previous))
            }
            configs.append((plan.name, plan.config))
            try setActiveAdapters([plan.name])
            try finish()
        } catch {
            for (host, previous) in installed.reversed() {
                host.adapters.remove(plan.name)
                if let previous { host.baseWeight.tensor = previous }
            }
            for layer in swapped.reversed() {
                do { try model.replaceModule(at: layer.key, with: layer.original) } catch {
                    preconditionFailure("\(layer.key) took its LoRA form but not its original back: \(error)")
                }
            }
            snapshot.restore(into: self)
            throw error
        }
    }

    /// What injection changes outside the layers it swaps: trainable flags, each host's active
    /// adapters, and this object's bookkeeping.
    private struct Snapshot {
        let trainable: [(slot: ParameterSlot, flag: Bool)]
        let hostActive: [(adapters: LoRAAdapters, active: [String])]
        let configs: [(name: String, config: LoRAConfig)]
        let activeAdapters: [String]
        let savedModuleValues: [String: [String: Tensor]]

        init(of lora: LoRAModel) {
            trainable = lora.model.namedParameterSlots().map { ($0.slot, $0.slot.isTrainable) }
            hostActive = lora.hosts.map { ($0.host.adapters, $0.host.adapters.active) }
            configs = lora.configs
            activeAdapters = lora.activeAdapters
            savedModuleValues = lora.savedModuleValues
        }

        func restore(into lora: LoRAModel) {
            for (adapters, active) in hostActive { adapters.active = active }
            for (slot, flag) in trainable where slot.isTrainable != flag { slot.setTrainable(flag) }
            lora.configs = configs
            lora.activeAdapters = activeAdapters
            lora.savedModuleValues = savedModuleValues
        }
    }
}

extension LoRAError {
    /// This error with the layer `key` filled in where the host raising it could not know it.
    func naming(_ key: String) -> LoRAError {
        switch self {
        case let .unsupported(k, reason) where k.isEmpty: return .unsupported(key: key, reason: reason)
        case let .invalidConfig(message) where !message.hasPrefix(key + ":") && !message.hasPrefix(key + " "):
            return .invalidConfig("\(key): \(message)")
        default: return self
        }
    }
}
