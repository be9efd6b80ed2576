/// Broadcasting, as in NumPy and PyTorch: shapes are aligned at their last dimension, and a
/// dimension of size 1 stretches to match the other.
public enum Broadcast {
    /// The broadcast shape of `a` and `b`, or nil when they are incompatible.
    public static func shape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let n = max(a.count, b.count)
        var out = [Int](repeating: 0, count: n)
        for i in 0..<n {
            let da = i < n - a.count ? 1 : a[i - (n - a.count)]
            let db = i < n - b.count ? 1 : b[i - (n - b.count)]
            if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
        }
        return out
    }

    /// Element strides of a row-major `shape` seen through `outShape`: 0 along broadcast dims.
    static func strides(of shape: [Int], in outShape: [Int]) -> [Int] {
        let n = outShape.count
        var strides = [Int](repeating: 0, count: n)
        var s = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            let o = i + (n - shape.count)
            strides[o] = shape[i] == 1 ? 0 : s
            s *= shape[i]
        }
        return strides
    }
}

/// Row-major strides of a contiguous shape.
func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var s = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) { strides[i] = s; s *= shape[i] }
    return strides
}

extension Tensor {
    /// Sums this tensor down to `target`, undoing a broadcast (used by backward rules).
    public func sum(toShape target: [Int]) -> Tensor {
        if shape == target { return self }
        let lead = rank - target.count
        precondition(lead >= 0, "cannot reduce \(shape) to \(target)")
        var axes = Array(0..<lead)
        for (i, d) in target.enumerated() where d == 1 && shape[lead + i] != 1 { axes.append(lead + i) }
        let summed = axes.isEmpty ? self : sum(axes: axes, keepDims: true)
        return summed.reshaped(target)
    }
}
