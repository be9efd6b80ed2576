import Tensor

extension Module {
    /// Parameters and buffers under their dotted keys, as a PyTorch state dict.
    public func stateDict() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (k, s) in namedParameterSlots() { if let t = s.tensor { out[k] = t.detached() } }
        for (k, b) in namedBufferSlots() { out[k] = b.tensor }
        return out
    }

    /// Loads values into parameters and buffers by key.
    ///
    /// Shapes are checked for every key before anything changes, so a failed load leaves the module
    /// as it was. F16/BF16 values are converted to F32; integer buffers keep their type.
    ///
    /// A buffer declared with a default (`@Buffer(…, default:)`, e.g. batch norm's
    /// `num_batches_tracked`) may be missing: it then takes its default, as PyTorch's loader fills
    /// `num_batches_tracked` for checkpoints saved without it. That happens in a strict load, and
    /// in a non-strict one when `values` holds other state of the buffer's own module (the
    /// checkpoint covers that layer, so the old value would not belong with the new statistics);
    /// a non-strict load that does not touch the module leaves the buffer as it is.
    /// - Parameters:
    ///   - strict: when true, keys missing from `values` (other than buffers with a default) and
    ///     keys the module does not have are errors; when false both are skipped.
    /// - Throws: `ModuleError.shapeMismatch`, `.missingKeys`, `.unexpectedKeys`.
    public func load(_ values: [String: Tensor], strict: Bool = true) throws {
        let params = namedParameterSlots()
        let buffers = namedBufferSlots()
        var known = Set<String>()
        var missing: [String] = []
        var defaulted: [(key: String, slot: BufferSlot, value: Tensor)] = []
        // Modules (by path) that `values` gives some state of.
        var loadedModules = Set<String>()
        for (k, s) in params {
            known.insert(k)
            guard let v = values[k] else { missing.append(k); continue }
            loadedModules.insert(Module.modulePath(ofKey: k))
            if let t = s.tensor, t.shape != v.shape { throw ModuleError.shapeMismatch(key: k, expected: t.shape, got: v.shape) }
        }
        for (k, b) in buffers {
            known.insert(k)
            guard let v = values[k] else {
                if let d = b.defaultValue {
                    if d.shape != b.tensor.shape { throw ModuleError.shapeMismatch(key: k, expected: b.tensor.shape, got: d.shape) }
                    defaulted.append((k, b, d))
                } else {
                    missing.append(k)
                }
                continue
            }
            loadedModules.insert(Module.modulePath(ofKey: k))
            if b.tensor.shape != v.shape { throw ModuleError.shapeMismatch(key: k, expected: b.tensor.shape, got: v.shape) }
        }
        if strict {
            if !missing.isEmpty { throw ModuleError.missingKeys(missing.sorted()) }
            let unexpected = values.keys.filter { !known.contains($0) }.sorted()
            if !unexpected.isEmpty { throw ModuleError.unexpectedKeys(unexpected) }
        }
        for (k, s) in params { if let v = values[k] { s.tensor = v.toFloat32().copy() } }
        for (k, b) in buffers {
            if let v = values[k] { b.tensor = b.tensor.dtype == .float32 ? v.toFloat32().copy() : v.copy() }
        }
        for (k, b, d) in defaulted where strict || loadedModules.contains(Module.modulePath(ofKey: k)) {
            b.tensor = d.copy()
        }
    }

    /// The dotted path of the module that owns state key `key` (`"layer1.0.bn1"` for
    /// `"layer1.0.bn1.running_mean"`, `""` for a key of the root module).
    static func modulePath(ofKey key: String) -> String {
        guard let dot = key.lastIndex(of: ".") else { return "" }
        return String(key[..<dot])
    }
}
