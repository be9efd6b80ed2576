/// Sum and mean over axes. (max and variance: see Reduce+Extremes.swift.)
extension Tensor {
    /// Sum of all elements, a 0-D tensor.
    public func sum() -> Tensor { sum(axes: Array(0..<rank), keepDims: false).reshaped([]) }

    /// Sum over `axes` (negative counts from the end).
    public func sum(axes: [Int], keepDims: Bool = false) -> Tensor {
        let axes = Set(axes.map { normalizeAxis($0, rank: rank) }).sorted()
        let x = plain()
        let out = Tensor.reduceKernel(x, axes: axes, initial: 0, combine: +)
        let keptShape = out.shape
        let result = keepDims ? out : out.reshaped(Tensor.dropAxes(shape, axes))
        let inShape = shape
        return Tensor.record(result, op: "sum", inputs: [self]) { g in
            [g.reshaped(keptShape).broadcast(to: inShape)]
        }
    }

    public func sum(axis: Int, keepDims: Bool = false) -> Tensor { sum(axes: [axis], keepDims: keepDims) }

    /// Mean of all elements, a 0-D tensor.
    public func mean() -> Tensor { sum() / Float(Swift.max(count, 1)) }

    /// Mean over `axes`.
    public func mean(axes: [Int], keepDims: Bool = false) -> Tensor {
        let n = Set(axes.map { normalizeAxis($0, rank: rank) }).reduce(1) { $0 * shape[$1] }
        return sum(axes: axes, keepDims: keepDims) / Float(Swift.max(n, 1))
    }

    public func mean(axis: Int, keepDims: Bool = false) -> Tensor { mean(axes: [axis], keepDims: keepDims) }

    /// Repeats this tensor along broadcast dimensions to `target` (a copy).
    public func broadcast(to target: [Int]) -> Tensor {
        if shape == target { return self }
        precondition(Broadcast.shape(shape, target) == target, "cannot broadcast \(shape) to \(target)")
        let out = Tensor.binaryKernel(self.detached(), Tensor.zeros(target), op: "broadcast") { a, _ in a }
        let inShape = shape
        return Tensor.record(out, op: "broadcast", inputs: [self]) { g in [g.sum(toShape: inShape)] }
    }

    static func dropAxes(_ shape: [Int], _ axes: [Int]) -> [Int] {
        shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element)
    }

    /// Reduces plain `x` over sorted `axes`, keeping them as size-1 dimensions. Runs of adjacent
    /// axes are reduced together as `[outer, reduced, inner]`, one run at a time.
    @inline(__always)
    static func reduceKernel(_ x: Tensor, axes: [Int], initial: Float,
                             combine: (Float, Float) -> Float) -> Tensor {
        var current = x
        var remaining = axes
        while let last = remaining.last {
            // The run of adjacent axes ending at `last`.
            var first = last
            while remaining.contains(first - 1) { first -= 1 }
            remaining.removeAll { $0 >= first && $0 <= last }
            let shape = current.shape
            let outer = shape[..<first].reduce(1, *)
            let reduced = shape[first...last].reduce(1, *)
            let inner = shape[(last + 1)...].reduce(1, *)
            var outShape = shape
            for a in first...last { outShape[a] = 1 }
            let out = Tensor(uninitialized: outShape)
            let s = current.floats, d = out.storage.floats
            if inner == 1 {
                parallelFor(outer, grain: Swift.max(1, 32_768 / Swift.max(reduced, 1))) { o0, o1 in
                    for o in o0..<o1 {
                        var acc = initial
                        let row = s + o * reduced
                        for r in 0..<reduced { acc = combine(acc, row[r]) }
                        d[o] = acc
                    }
                }
            } else {
                parallelFor(outer * inner, grain: Swift.max(1, 32_768 / Swift.max(reduced, 1))) { i0, i1 in
                    var i = i0
                    while i < i1 {
                        let o = i / inner, j0 = i % inner
                        let j1 = Swift.min(inner, j0 + (i1 - i))
                        let dst = d + o * inner
                        for j in j0..<j1 { dst[j] = initial }
                        for r in 0..<reduced {
                            let src = s + (o * reduced + r) * inner
                            for j in j0..<j1 { dst[j] = combine(dst[j], src[j]) }
                        }
                        i += j1 - j0
                    }
                }
            }
            current = out
        }
        return current
    }
}
