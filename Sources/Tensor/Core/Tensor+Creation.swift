extension Tensor {
    /// A tensor filled with `value`.
    public static func full(_ value: Float, shape: [Int]) -> Tensor {
        let t = Tensor(uninitialized: shape)
        let p = t.storage.floats
        parallelFor(t.count) { b, e in for i in b..<e { p[i] = value } }
        return t
    }

    public static func zeros(_ shape: [Int]) -> Tensor { full(0, shape: shape) }
    public static func ones(_ shape: [Int]) -> Tensor { full(1, shape: shape) }

    /// A tensor of zeros shaped like `other`.
    public static func zeros(like other: Tensor) -> Tensor { zeros(other.shape) }

    /// `[start, start + step, …]` up to but excluding `end`.
    public static func arange(_ start: Float = 0, _ end: Float, step: Float = 1) -> Tensor {
        precondition(step != 0, "arange step must not be 0")
        let n = Swift.max(0, Int(((end - start) / step).rounded(.up)))
        return Tensor((0..<n).map { start + Float($0) * step })
    }

    /// Values drawn from the normal distribution N(mean, std²).
    public static func randn(_ shape: [Int], mean: Float = 0, std: Float = 1,
                             generator: inout RandomGenerator) -> Tensor {
        let t = Tensor(uninitialized: shape)
        let p = t.storage.floats
        for i in 0..<t.count { p[i] = mean + std * generator.nextNormal() }
        return t
    }

    /// Values drawn uniformly from [low, high).
    public static func uniform(_ shape: [Int], low: Float = 0, high: Float = 1,
                               generator: inout RandomGenerator) -> Tensor {
        let t = Tensor(uninitialized: shape)
        let p = t.storage.floats
        let span = high - low
        for i in 0..<t.count { p[i] = low + span * generator.nextUniform() }
        return t
    }

    /// The identity matrix.
    public static func eye(_ n: Int) -> Tensor {
        let t = zeros([n, n])
        for i in 0..<n { t.storage.floats[i * n + i] = 1 }
        return t
    }
}
