import Tensor

extension Module {
    /// Holds every frozen weight of a convolution or fully connected layer (`Conv1d`, `Conv2d`,
    /// `Linear` and the layers built on them, such as LoRA's hosts) in BF16 instead of F32: half
    /// the memory, and the only copy a linear layer's bf16 product reads (convolutions keep one
    /// more, laid out for their kernel). Those layers then run on the CPU's bf16 units whatever
    /// the compute precision (`ComputePrecision`), or decode the weight to F32 per call where the
    /// CPU has none. Trainable weights, biases, norms and embeddings are untouched.
    ///
    /// The rounding is permanent: a weight written out afterwards (a merged model, a full state
    /// dict) carries the bf16 values. So the training run applies it only where nothing writes the
    /// base weights (LoRA mode without DoRA, whose magnitude reads them); merging an adapter
    /// onto such a weight decodes it first (`LoRAHost.merge`).
    ///
    /// - Parameter include: decides per layer key (e.g. "layer1.0.conv1"); all by default.
    /// - Returns: the number of weight elements converted.
    @discardableResult
    public func storeFrozenWeightsInBF16(include: (String) -> Bool = { _ in true }) -> Int {
        var converted = 0
        for (key, module) in namedModules() where module is Linear || module is Conv2d || module is Conv1d {
            guard include(key) else { continue }
            for (name, slot) in module.namedParameterSlots() where name == "weight" && !slot.isTrainable {
                guard let w = slot.tensor, w.dtype == .float32 else { continue }
                // Long-lived: memory of its own, not the middle of a block the steps reuse.
                slot.tensor = MemoryPool.withLongLivedAllocations { w.toBFloat16() }
                converted += w.count
            }
        }
        // The F32 weights' memory, cached by the pool in blocks of their sizes, goes back to the
        // system: training steps would otherwise carve their activations out of it and keep it.
        if converted > 0 { MemoryPool.trim() }
        return converted
    }
}
