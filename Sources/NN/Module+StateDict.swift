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
    /// - Parameters:
    ///   - strict: when true, keys missing from `values` and keys the module does not have are
    ///     errors; when false both are skipped.
    /// - Throws: `ModuleError.shapeMismatch`, `.missingKeys`, `.unexpectedKeys`.
    public func load(_ values: [String: Tensor], strict: Bool = true) throws {
        let params = namedParameterSlots()
        let buffers = namedBufferSlots()
        var known = Set<String>()
        var missing: [String] = []
        for (k, s) in params {
            known.insert(k)
            guard let v = values[k] else { missing.append(k); continue }
            if let t = s.tensor, t.shape != v.shape { throw ModuleError.shapeMismatch(key: k, expected: t.shape, got: v.shape) }
        }
        for (k, b) in buffers {
            known.insert(k)
            guard let v = values[k] else { missing.append(k); continue }
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
    }
}
