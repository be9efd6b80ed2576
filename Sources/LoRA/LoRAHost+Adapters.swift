import NN
import Tensor

/// A new adapter for a host, made but not yet installed, with the base weight it needs: PiSSA's
/// residual `W − s·B·A`, which replaces the base weight when the adapter is installed.
///
/// Preparing changes nothing in the host, so a model can prepare every layer first and change
/// none when one of them fails (`LoRAModel.addAdapter`).
public struct PreparedAdapter {
    public let adapter: LoRAAdapter
    /// The base weight to install with the adapter, or nil to keep the current one.
    public let baseWeight: Tensor?
}

// MARK: - Defaults of the host requirements

extension LoRAHost {
    public var baseWeight: ParameterSlot {
        guard let slot = parameterSlot("weight") else {
            preconditionFailure("\(type(of: self)) has no parameter `weight`; implement `baseWeight`")
        }
        return slot
    }

    public var baseParameterCount: Int {
        (baseWeight.tensor?.count ?? 0) + (parameterSlot("bias")?.tensor?.count ?? 0)
    }

    public var peftFactorKeys: (a: String, b: String) { ("lora_A.weight", "lora_B.weight") }

    public var supportsMerge: Bool { true }

    /// Parameters of one adapter.
    public func adapterParameterCount(_ name: String) -> Int {
        adapters[name]?.parameterCount ?? 0
    }
}

// MARK: - Adding and removing adapters

extension LoRAHost {
    /// A new adapter with `settings` for this host, not installed: the factors from
    /// `makeFactors`, replaced by PiSSA's when asked (with the residual base weight returned
    /// alongside), and the variant's state (DoRA's magnitude). The host is unchanged.
    /// - Throws: `LoRAError` when the layer cannot take the settings (PiSSA or DoRA on a layer
    ///   that is not a `WeightDecomposableHost`, a PiSSA rank above the weight's, what
    ///   `makeFactors` refuses).
    public func prepareAdapter(_ settings: AdapterSettings, seed: UInt64,
                               generator: inout RandomGenerator) throws -> PreparedAdapter {
        try checkSupports(settings)
        var (a, b) = try makeFactors(settings, generator: &generator)
        var residual: Tensor?
        if settings.initialization == .pissa {
            let p = try LoRAInit.pissa(weight: currentBaseWeight.detached(), rank: settings.rank, scaling: settings.scaling)
            a = p.a.reshaped(a.shape)
            b = p.b.reshaped(b.shape)
            residual = p.residual
        }
        let adapter = LoRAAdapter(a: a, b: b, settings: settings, aName: peftFactorKeys.a, bName: peftFactorKeys.b,
                                  seed: seed)
        if let variant = settings.makeVariant() {
            try variant.initialize(adapter, baseWeight: residual ?? currentBaseWeight.detached(), host: self)
            adapter.variant = variant
        }
        return PreparedAdapter(adapter: adapter, baseWeight: residual)
    }

    /// Checks, without making anything, that this layer can take an adapter with `settings`
    /// beyond what `makeFactors` checks: PiSSA and DoRA need a `WeightDecomposableHost`, and
    /// PiSSA a rank within the weight's.
    public func checkSupports(_ settings: AdapterSettings) throws {
        let decomposable = (self as? WeightDecomposableHost)?.isWeightDecomposable ?? false
        for (needed, name) in [(settings.initialization == .pissa, "PiSSA"), (settings.useDoRA, "DoRA")] where needed {
            guard decomposable else {
                throw LoRAError.unsupported(key: "", reason:
                    "\(name) needs a layer whose update has its weight's shape (Linear, Conv2d without groups), not \(type(of: self))")
            }
        }
        if settings.initialization == .pissa {
            try LoRAInit.checkPiSSARank(settings.rank, weightShape: currentBaseWeight.shape)
        }
    }

    /// Installs a prepared adapter as `name` (active alongside the others) and, for PiSSA, its
    /// residual base weight.
    /// - Throws: `LoRAError.duplicateAdapter` when the host has an adapter of that name; then
    ///   nothing changes.
    public func installAdapter(_ prepared: PreparedAdapter, as name: String) throws {
        guard adapters[name] == nil else { throw LoRAError.duplicateAdapter(name) }
        if let w = prepared.baseWeight { baseWeight.tensor = w }
        prepared.adapter.train(isTraining)
        adapters.insert(prepared.adapter, as: name)
    }

    /// Adds an adapter: `prepareAdapter`, then `installAdapter`. It becomes active (alongside
    /// any others already active). Throws before changing anything.
    public func addAdapter(_ name: String, settings: AdapterSettings, seed: UInt64,
                           generator: inout RandomGenerator) throws {
        guard adapters[name] == nil else { throw LoRAError.duplicateAdapter(name) }
        try installAdapter(try prepareAdapter(settings, seed: seed, generator: &generator), as: name)
    }

    /// Removes an adapter (unmerging it first if merged).
    public func deleteAdapter(_ name: String) throws {
        guard adapters[name] != nil else { throw LoRAError.unknownAdapter(name, available: adapters.names) }
        if adapters.merged.contains(name) { try unmerge() }
        adapters.remove(name)
    }

    /// The base weight in F32: one held in BF16 (`Module.storeFrozenWeightsInBF16`) is decoded,
    /// so merging onto it gives the F32 sum of its bf16 values and the update.
    private var currentBaseWeight: Tensor {
        guard let w = baseWeight.tensor else { preconditionFailure("\(type(of: self)) has an empty base weight") }
        return w.toFloat32()
    }
}

// MARK: - Forward

extension LoRAHost {
    /// The layer's base output `y` plus the update of every adapter that runs (active, not
    /// merged, not disabled), in order. Each adapter's input is `x` after its dropout (`x` itself
    /// with `dropout: false`, e.g. ids); a plain adapter is added by `add` (the host's own, fast
    /// way to accumulate `s·B(A(h))` into `y`), an adapter with a variant by its `forward`.
    ///
    /// - Parameters:
    ///   - add: adds `adapter.scaling · B(A(h))` into `y`.
    public func applyAdapters(to y: Tensor, input x: Tensor, dropout: Bool = true,
                              _ add: (_ y: inout Tensor, _ h: Tensor, _ adapter: LoRAAdapter) throws -> Void) rethrows -> Tensor {
        if !adapters.isDisabled, let routing = LoRARouting.routing(forRows: x.shape.first ?? 0) {
            return try applyRoutedAdapters(to: y, input: x, routing: routing, add)
        }
        var y = y
        for adapter in adapters.forwardAdapters {
            let h = dropout ? adapter.dropped(x) : x
            if let variant = adapter.variant {
                y = variant.forward(y, input: h, adapter: adapter, host: self)
            } else {
                try add(&y, h, adapter)
            }
        }
        return y
    }
}

// MARK: - Merging

extension LoRAHost {
    /// Merges adapters into the base weight: `W ← W + Σ delta`. Refuses, changing nothing, when
    /// the result would not be finite or the layer cannot merge.
    public func merge(_ names: [String], key: String) throws {
        guard supportsMerge else {
            throw LoRAError.unsupported(key: key, reason: "this layer cannot merge adapters (\(type(of: self)))")
        }
        var w = currentBaseWeight.detached()
        var toMerge: [String] = []
        for name in names where !adapters.merged.contains(name) {
            guard let adapter = adapters[name] else { throw LoRAError.unknownAdapter(name, available: adapters.names) }
            w = withNoGrad { mergedWeight(w, adapter) }
            toMerge.append(name)
        }
        guard w.scalars.allSatisfy(\.isFinite) else {
            throw LoRAError.nonFiniteMerge(key: key, adapter: toMerge.joined(separator: ","))
        }
        baseWeight.tensor = w
        adapters.merged.append(contentsOf: toMerge)
    }

    /// Undoes every merge, most recent first: `W ← W − delta`.
    public func unmerge() throws {
        var w = currentBaseWeight.detached()
        for name in adapters.merged.reversed() {
            guard let adapter = adapters[name] else { continue }
            w = withNoGrad { unmergedWeight(w, adapter) }
        }
        baseWeight.tensor = w
        adapters.merged = []
    }

    /// The base weight `w` with `adapter` merged in: `w + delta`, or the variant's rule.
    func mergedWeight(_ w: Tensor, _ adapter: LoRAAdapter) -> Tensor {
        adapter.variant?.merged(w, adapter: adapter, host: self) ?? w + deltaWeight(adapter)
    }

    func unmergedWeight(_ w: Tensor, _ adapter: LoRAAdapter) -> Tensor {
        adapter.variant?.unmerged(w, adapter: adapter, host: self) ?? w - deltaWeight(adapter)
    }
}
