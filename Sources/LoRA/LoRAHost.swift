import NN
import Tensor

/// A layer that can host LoRA adapters: its LoRA form (`makeLoRAHost`) replaces it in the
/// module tree and shares its parameters. Plugins conform their own layers to add LoRA forms.
public protocol LoRAAdaptable: Module {
    /// The LoRA form of this layer, holding this layer's parameters and no adapters yet.
    func makeLoRAHost() throws -> LoRAHost
}

/// The LoRA form of a layer: it computes `base(x) + Σ scaling · B(A(dropout(x)))` over its
/// active adapters, and merges adapters into its base weight and back.
///
/// A conforming layer provides how an adapter is shaped (`makeAdapter`) and what update of the
/// base weight it stands for (`deltaWeight`); adding, activating, merging and the parameter
/// counts come from the extension below.
public protocol LoRAHost: Module {
    /// The adapters, keyed by name (child key `adapters`).
    var adapters: ModuleDict<LoRAAdapter> { get }
    var adapterState: AdapterState { get }
    /// The base weight that merging changes.
    var baseWeight: ParameterSlot { get }
    /// Parameters of the base layer alone.
    var baseParameterCount: Int { get }
    /// A new adapter with `settings` (factors initialised per `settings.initialization`).
    /// PiSSA may change the base weight.
    func makeAdapter(_ settings: AdapterSettings, seed: UInt64, generator: inout RandomGenerator) throws -> LoRAAdapter
    /// The update `scaling · B·A` in the base weight's shape (DoRA: the full merged change).
    func deltaWeight(_ adapter: LoRAAdapter) -> Tensor
    /// File key names of A and B in PEFT adapter files (`lora_A` / `lora_embedding_A`, …).
    var peftFactorKeys: (a: String, b: String) { get }
    /// Whether adapters can merge into the base weight (not for grouped convolutions).
    var supportsMerge: Bool { get }
}

extension LoRAHost {
    public var peftFactorKeys: (a: String, b: String) { ("lora_A.weight", "lora_B.weight") }

    /// Adapters to apply in the forward pass: active, not merged, unless disabled.
    public var forwardAdapters: [LoRAAdapter] {
        guard !adapterState.disabled else { return [] }
        return adapterState.active.compactMap { name in
            adapterState.merged.contains(name) ? nil : adapters[name]
        }
    }

    /// Adds an adapter; it becomes active (alongside any others already active).
    public func addAdapter(_ name: String, settings: AdapterSettings, seed: UInt64,
                           generator: inout RandomGenerator) throws {
        guard adapters[name] == nil else { throw LoRAError.duplicateAdapter(name) }
        let adapter = try makeAdapter(settings, seed: seed, generator: &generator)
        adapter.train(isTraining)
        adapters[name] = adapter
        adapterState.active.append(name)
    }

    /// Removes an adapter (unmerging it first if merged).
    public func deleteAdapter(_ name: String) throws {
        guard adapters[name] != nil else { throw LoRAError.unknownAdapter(name, available: adapters.names) }
        if adapterState.merged.contains(name) { try unmerge() }
        adapters[name] = nil
        adapterState.active.removeAll { $0 == name }
    }

    public var supportsMerge: Bool { true }

    /// Merges adapters into the base weight: `W ← W + Σ delta`. Refuses, changing nothing, when
    /// the result would not be finite or the layer cannot merge.
    public func merge(_ names: [String], key: String) throws {
        guard supportsMerge else {
            throw LoRAError.unsupported(key: key, reason: "this layer cannot merge adapters (\(type(of: self)))")
        }
        var w = baseWeight.tensor!.detached()
        var toMerge: [String] = []
        for name in names where !adapterState.merged.contains(name) {
            guard let adapter = adapters[name] else { throw LoRAError.unknownAdapter(name, available: adapters.names) }
            w = withNoGrad { mergedWeight(w, adapter) }
            toMerge.append(name)
        }
        guard w.scalars.allSatisfy(\.isFinite) else {
            throw LoRAError.nonFiniteMerge(key: key, adapter: toMerge.joined(separator: ","))
        }
        baseWeight.tensor = w
        adapterState.merged.append(contentsOf: toMerge)
    }

    /// Undoes every merge, most recent first: `W ← W − delta`.
    public func unmerge() throws {
        var w = baseWeight.tensor!.detached()
        for name in adapterState.merged.reversed() {
            guard let adapter = adapters[name] else { continue }
            w = withNoGrad { unmergedWeight(w, adapter) }
        }
        baseWeight.tensor = w
        adapterState.merged = []
    }

    /// The base weight with `adapter` merged in (DoRA hosts override the rule through the variant).
    func mergedWeight(_ w: Tensor, _ adapter: LoRAAdapter) -> Tensor {
        if adapter.settings.useDoRA { return DoRA.mergedWeight(base: w, host: self, adapter: adapter) }
        return w + deltaWeight(adapter)
    }

    func unmergedWeight(_ w: Tensor, _ adapter: LoRAAdapter) -> Tensor {
        if adapter.settings.useDoRA { return DoRA.unmergedWeight(merged: w, host: self, adapter: adapter) }
        return w - deltaWeight(adapter)
    }

    /// Parameters of one adapter.
    public func adapterParameterCount(_ name: String) -> Int {
        adapters[name]?.parameterCount ?? 0
    }
}
