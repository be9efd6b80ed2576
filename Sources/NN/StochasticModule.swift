import Tensor

/// A module that holds random-number state of its own (dropout's generator), so that a trainer
/// can save every generator in a model with a checkpoint and restore it on resume: a resumed run
/// then draws the same masks as one that never stopped.
public protocol StochasticModule: Module {
    /// The generator's complete state (four words, not all zero; see `RandomGenerator.state`).
    /// Setting it to an invalid state is a programmer error: validate saved states first, as
    /// `Module.restoreGeneratorStates(_:)` does.
    var generatorState: [UInt64] { get set }
}

extension Module {
    /// The generator state of every stochastic module in the tree, keyed by its dotted path
    /// (`""` for this module).
    public func generatorStates() -> [String: [UInt64]] {
        var out: [String: [UInt64]] = [:]
        for (key, module) in namedModules() {
            if let s = module as? StochasticModule { out[key] = s.generatorState }
        }
        return out
    }

    /// Gives every stochastic module a generator seeded from its current state and `offset` (a
    /// rank of a data-parallel run), so that processes that built the same model draw different
    /// masks; offset 0 leaves the states as they are.
    public func reseedGenerators(offset: UInt64) {
        guard offset != 0 else { return }
        for (_, module) in namedModules() {
            guard let s = module as? StochasticModule else { continue }
            let mixed = s.generatorState.reduce(offset &* 0x9E37_79B9_7F4A_7C15) { ($0 ^ $1) &* 0xBF58_476D_1CE4_E5B9 }
            s.generatorState = RandomGenerator(seed: mixed).state
        }
    }

    /// Restores generator states saved by `generatorStates()`. Every state is checked before any
    /// is set, so a failure changes nothing.
    /// - Parameter strict: when true, a stochastic module without a saved state and a saved state
    ///   without a module are errors; when false both are skipped.
    /// - Throws: `ModuleError.missingKeys`, `.unexpectedKeys`, or `.invalidConfiguration` naming
    ///   the path of a state that is not four words with one nonzero.
    public func restoreGeneratorStates(_ states: [String: [UInt64]], strict: Bool = true) throws {
        let modules = namedModules().compactMap { key, m in (m as? StochasticModule).map { (key, $0) } }
        var missing: [String] = []
        for (key, _) in modules {
            guard let state = states[key] else { missing.append(key); continue }
            guard state.count == 4, state.contains(where: { $0 != 0 }) else {
                throw ModuleError.invalidConfiguration(
                    "generator state for \"\(key)\" must be 4 words, not all zero; got \(state.count) words")
            }
        }
        if strict {
            if !missing.isEmpty { throw ModuleError.missingKeys(missing.sorted()) }
            let known = Set(modules.map(\.0))
            let unexpected = states.keys.filter { !known.contains($0) }.sorted()
            if !unexpected.isEmpty { throw ModuleError.unexpectedKeys(unexpected) }
        }
        for (key, module) in modules {
            if let state = states[key] { module.generatorState = state }
        }
    }
}
