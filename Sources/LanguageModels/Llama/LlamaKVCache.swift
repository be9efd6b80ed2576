import Tensor

/// The keys and values a decoder has computed for the tokens it has read, per layer, so that
/// each new token attends to them without recomputing them: generation costs one token's forward
/// per step instead of the whole sequence's.
///
/// Each layer holds keys and values [N, capacity, G·D] (after RoPE, as attention reads them);
/// rows `0 ..< length` of each sequence are in use. Capacity grows (doubling, with a copy) when a
/// forward needs more; `reset()` empties the cache for a new sequence without freeing it.
///
/// A forward through a cache records no gradients (the cache is written in place): it is for
/// inference and generation, not training.
public final class LlamaKVCache {
    /// Sequences in the batch, `N`.
    public let batch: Int
    /// Tokens whose keys and values are stored, per sequence.
    public private(set) var length = 0
    /// Rows allocated per sequence.
    public private(set) var capacity: Int
    let layerCount: Int
    let width: Int
    private var keys: [Tensor]
    private var values: [Tensor]

    /// An empty cache for `batch` sequences of a model with `config`, with room for `capacity`
    /// tokens before it grows.
    public init(config: LlamaConfig, batch: Int = 1, capacity: Int = 256) {
        precondition(batch >= 1 && capacity >= 0, "LlamaKVCache: batch must be ≥ 1 and capacity ≥ 0, got \(batch), \(capacity)")
        self.batch = batch
        self.capacity = capacity
        self.layerCount = config.layerCount
        self.width = config.keyValueWidth
        keys = (0..<config.layerCount).map { _ in Tensor.zeros([batch, capacity, config.keyValueWidth]) }
        values = keys.map { _ in Tensor.zeros([batch, capacity, config.keyValueWidth]) }
    }

    /// Bytes held for keys and values.
    public var byteCount: Int { 2 * layerCount * batch * capacity * width * 4 }

    /// Forgets every stored token (the memory is kept for the next sequence).
    public func reset() { length = 0 }

    /// Forgets the tokens from `newLength` on (for example a rejected continuation).
    public func truncate(to newLength: Int) {
        precondition(newLength >= 0 && newLength <= length, "LlamaKVCache.truncate(to: \(newLength)) with \(length) tokens stored")
        length = newLength
    }

    /// Makes room for `total` tokens per sequence, keeping what is stored.
    func reserve(_ total: Int) {
        guard total > capacity else { return }
        let newCapacity = Swift.max(total, 2 * capacity)
        let copy = { (old: Tensor) -> Tensor in
            let grown = Tensor.zeros([self.batch, newCapacity, self.width])
            old.withUnsafeBytes { src in
                grown.withUnsafeMutableFloats { dst in
                    let from = src.bindMemory(to: Float.self)
                    for n in 0..<self.batch {
                        let rows = self.length * self.width
                        guard rows > 0 else { continue }
                        (dst.baseAddress! + n * newCapacity * self.width)
                            .update(from: from.baseAddress! + n * self.capacity * self.width, count: rows)
                    }
                }
            }
            return grown
        }
        keys = keys.map(copy)
        values = values.map(copy)
        capacity = newCapacity
    }

    /// Writes `key` and `value` [N, T, G·D] of `layer` at rows `length ..< length + T` and returns
    /// the layer's cache tensors with the rows in use after them (`length + T`). The model calls
    /// `advance(by: T)` once every layer has stored its rows.
    func store(layer: Int, key: Tensor, value: Tensor) -> (keys: Tensor, values: Tensor, length: Int) {
        let t = key.shape[1]
        precondition(key.shape == [batch, t, width] && value.shape == key.shape,
                     "LlamaKVCache: keys \(key.shape) and values \(value.shape) must be [\(batch), T, \(width)]")
        precondition(length + t <= capacity, "LlamaKVCache: \(length + t) tokens exceed the reserved \(capacity)")
        for (source, target) in [(key, keys[layer]), (value, values[layer])] {
            source.withUnsafeBytes { src in
                target.withUnsafeMutableFloats { dst in
                    let from = src.bindMemory(to: Float.self).baseAddress!
                    for n in 0..<batch {
                        (dst.baseAddress! + (n * capacity + length) * width).update(from: from + n * t * width, count: t * width)
                    }
                }
            }
        }
        return (keys[layer], values[layer], length + t)
    }

    /// Counts `t` more tokens as stored.
    func advance(by t: Int) { length += t }
}
