/// Elementwise binary operations with broadcasting. Each primitive's backward rule sits next to
/// its forward (house rule 3).
extension Tensor {
    public static func + (a: Tensor, b: Tensor) -> Tensor { a.adding(b) }
    public static func - (a: Tensor, b: Tensor) -> Tensor { a.subtracting(b) }
    public static func * (a: Tensor, b: Tensor) -> Tensor { a.multiplying(b) }
    public static func / (a: Tensor, b: Tensor) -> Tensor { a.dividing(b) }
    public static prefix func - (a: Tensor) -> Tensor { a.negated() }

    public static func + (a: Tensor, s: Float) -> Tensor { a.addingScalar(s) }
    public static func + (s: Float, a: Tensor) -> Tensor { a.addingScalar(s) }
    public static func - (a: Tensor, s: Float) -> Tensor { a.addingScalar(-s) }
    public static func - (s: Float, a: Tensor) -> Tensor { a.negated().addingScalar(s) }
    public static func * (a: Tensor, s: Float) -> Tensor { a.scaled(by: s) }
    public static func * (s: Float, a: Tensor) -> Tensor { a.scaled(by: s) }
    public static func / (a: Tensor, s: Float) -> Tensor { a.scaled(by: 1 / s) }
    public static func / (s: Float, a: Tensor) -> Tensor { Tensor(s).dividing(a) }

    /// `self + other`, broadcasting.
    public func adding(_ other: Tensor) -> Tensor {
        let out = Tensor.binaryKernel(self, other, op: "add", vector: .add) { $0 + $1 }
        // Capture shapes and flags only: the gradient of a sum needs neither operand.
        let (aShape, bShape, aNeeds, bNeeds) = (shape, other.shape, requiresGrad, other.requiresGrad)
        return Tensor.record(out, op: "add", inputs: [self, other]) { g in
            [aNeeds ? g.sum(toShape: aShape) : nil, bNeeds ? g.sum(toShape: bShape) : nil]
        }
    }

    /// `self - other`, broadcasting.
    public func subtracting(_ other: Tensor) -> Tensor {
        let out = Tensor.binaryKernel(self, other, op: "sub", vector: .subtract) { $0 - $1 }
        let (aShape, bShape, aNeeds, bNeeds) = (shape, other.shape, requiresGrad, other.requiresGrad)
        return Tensor.record(out, op: "sub", inputs: [self, other]) { g in
            [aNeeds ? g.sum(toShape: aShape) : nil, bNeeds ? g.negated().sum(toShape: bShape) : nil]
        }
    }

    /// `self * other` elementwise, broadcasting.
    public func multiplying(_ other: Tensor) -> Tensor {
        let out = Tensor.binaryKernel(self, other, op: "mul", vector: .multiply) { $0 * $1 }
        // Each gradient needs only the other operand: capture it only if that gradient is wanted.
        let aShape = shape, bShape = other.shape
        let bForA = requiresGrad ? other.detached() : nil
        let aForB = other.requiresGrad ? detached() : nil
        return Tensor.record(out, op: "mul", inputs: [self, other]) { g in
            [bForA.map { (g * $0).sum(toShape: aShape) },
             aForB.map { (g * $0).sum(toShape: bShape) }]
        }
    }

    /// `self / other` elementwise, broadcasting.
    public func dividing(_ other: Tensor) -> Tensor {
        let out = Tensor.binaryKernel(self, other, op: "div") { $0 / $1 }
        let aShape = shape, bShape = other.shape
        let denominator = other.detached()
        let quotient = other.requiresGrad ? out.detached() : nil
        return Tensor.record(out, op: "div", inputs: [self, other]) { [aNeeds = requiresGrad] g in
            let ga = g / denominator
            return [aNeeds ? ga.sum(toShape: aShape) : nil,
                    quotient.map { (ga * $0).negated().sum(toShape: bShape) }]
        }
    }

    /// `-self`.
    public func negated() -> Tensor {
        let out = Tensor.unaryKernel(self, op: "negated", zeroPreserving: true, affine: (-1, 0)) { -$0 }
        return Tensor.record(out, op: "neg", inputs: [self]) { g in [g.negated()] }
    }

    /// `self + s`.
    public func addingScalar(_ s: Float) -> Tensor {
        let out = Tensor.unaryKernel(self, op: "addingScalar", zeroPreserving: s == 0, affine: (1, s)) { $0 + s }
        return Tensor.record(out, op: "add-scalar", inputs: [self]) { g in [g] }
    }

    /// `self * s`.
    public func scaled(by s: Float) -> Tensor {
        let out = Tensor.unaryKernel(self, op: "scaled", zeroPreserving: true, affine: (s, 0)) { $0 * s }
        return Tensor.record(out, op: "scale", inputs: [self]) { g in [g.scaled(by: s)] }
    }

    /// Adds a gradient to an accumulated one, keeping a shared blocked layout (no tape).
    func addingGradient(_ g: Tensor) -> Tensor {
        Tensor.binaryKernel(self.detached(), g.detached(), op: "accumulate", vector: .add) { $0 + $1 }
    }
}

// MARK: - Kernels

extension Tensor {
    /// Applies `f` elementwise. A blocked tensor without padding keeps its layout when `f` maps 0
    /// to 0 or there is no padding, since the operation does not care where elements sit.
    ///
    /// `affine: (a, b)` says that `f(x) = a·x + b`; the loop then runs that arithmetic itself.
    /// `f` is opaque inside the parallel loop's body (a captured closure, called per element and
    /// never vectorised), so the common operations name their arithmetic this way.
    ///
    /// `op` names the operation in the message that stops the program when `x` is not F32.
    @inline(__always)
    static func unaryKernel(_ x: Tensor, op: String, zeroPreserving: Bool, affine: (Float, Float)? = nil,
                            _ f: (Float) -> Float) -> Tensor {
        if let (scale, shift) = affine {
            return unaryRangeKernel(x, op: op, zeroPreserving: zeroPreserving) { s, d, n in
                for i in 0..<n { d[i] = scale * s[i] + shift }
            }
        }
        return unaryRangeKernel(x, op: op, zeroPreserving: zeroPreserving) { s, d, n in
            for i in 0..<n { d[i] = f(s[i]) }
        }
    }

    /// `unaryKernel` with the loop written by the caller: `body(x, out, n)` fills `out[0..<n]` from
    /// `x[0..<n]`, one call per chunk of the parallel loop, so that the loop vectorises.
    ///
    /// The loop reads `x`'s storage as floats, so another element type (a U8 tensor holds a
    /// quarter of the bytes) stops the program with a message naming `op` and the shape.
    static func unaryRangeKernel(_ x: Tensor, op: String, zeroPreserving: Bool,
                                 _ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) -> Tensor {
        let (src, out, n) = unaryOperands(x, op: op, zeroPreserving: zeroPreserving)
        let s = src.storage.floats + src.offset, d = out.storage.floats
        parallelFor(n) { b, e in body(s + b, d + b, e - b) }
        return out
    }

    /// What an elementwise pass over `x` reads and writes: `x` itself and a new tensor in its
    /// blocked layout (when `zeroPreserving` promises f(0) = 0 for the padding, or there is
    /// none), or `x` made plain and a new plain tensor; and how many elements the pass covers
    /// (padding included). Stops the program unless `x` is F32, naming `op` and the shape.
    static func unaryOperands(_ x: Tensor, op: String, zeroPreserving: Bool) -> (source: Tensor, output: Tensor, count: Int) {
        precondition(x.dtype == .float32,
                     "\(op): needs an F32 tensor, got \(x.dtype.rawValue) of shape \(x.shape) (convert it with toFloat32())")
        if let format = x.format, zeroPreserving || !format.hasPadding {
            let out = Tensor(shape: x.shape, storage: TensorStorage(byteCount: format.byteCount, dtype: .float32),
                             format: format)
            return (x, out, format.elementCount)
        }
        let src = x.plain()
        return (src, Tensor(uninitialized: x.shape), src.count)
    }

    /// Applies `f` elementwise with broadcasting. Two blocked tensors of the same shape and
    /// layout are combined in place of their layout; anything else goes through plain layout.
    ///
    /// `vector` names `f`'s arithmetic when it is one of the common ones, so that the loops run
    /// it directly (vectorised) instead of calling `f`, which is opaque inside the parallel
    /// loop's body (a captured closure) and would be called once per element.
    @inline(__always)
    static func binaryKernel(_ a: Tensor, _ b: Tensor, op: String, vector: ElementwiseOperation? = nil,
                             _ f: (Float, Float) -> Float) -> Tensor {
        precondition(a.dtype == .float32 && b.dtype == .float32,
                     "\(op): needs F32 tensors, got \(a.dtype.rawValue) \(a.shape) and \(b.dtype.rawValue) \(b.shape) (convert with toFloat32())")
        if let fa = a.format, let fb = b.format, a.shape == b.shape, fa == fb, !fa.hasPadding {
            let out = Tensor(shape: a.shape, storage: TensorStorage(byteCount: fa.byteCount, dtype: .float32),
                             format: fa)
            let pa = a.storage.floats + a.offset, pb = b.storage.floats + b.offset, d = out.storage.floats
            if let vector {
                parallelFor(fa.elementCount) { s, e in vector.apply(pa + s, 1, pb + s, 1, d + s, e - s) }
            } else {
                parallelFor(fa.elementCount) { s, e in for i in s..<e { d[i] = f(pa[i], pb[i]) } }
            }
            return out
        }
        let a = a.plain(), b = b.plain()
        guard let shape = Broadcast.shape(a.shape, b.shape) else {
            preconditionFailure("\(op): shapes \(a.shape) and \(b.shape) cannot be broadcast together")
        }
        let out = Tensor(uninitialized: shape)
        let pa = a.floats, pb = b.floats, d = out.storage.floats
        let n = out.count
        if let vector, a.shape == b.shape || a.count == 1 || b.count == 1 {
            let (ia, ib) = (a.count == 1 && n > 1 ? 0 : 1, b.count == 1 && n > 1 ? 0 : 1)
            parallelFor(n) { s, e in vector.apply(pa + s * ia, ia, pb + s * ib, ib, d + s, e - s) }
        } else if a.shape == b.shape {
            parallelFor(n) { s, e in for i in s..<e { d[i] = f(pa[i], pb[i]) } }
        } else if b.count == 1 {
            let v = pb[0]
            parallelFor(n) { s, e in for i in s..<e { d[i] = f(pa[i], v) } }
        } else if a.count == 1 {
            let v = pa[0]
            parallelFor(n) { s, e in for i in s..<e { d[i] = f(v, pb[i]) } }
        } else if n > 0 {
            // General case: walk rows of the last output dimension.
            let sa = Broadcast.strides(of: a.shape, in: shape)
            let sb = Broadcast.strides(of: b.shape, in: shape)
            let inner = shape.last!
            let rows = n / inner
            let ia = sa.last!, ib = sb.last!
            let outer = Array(shape.dropLast())
            parallelFor(rows, grain: Swift.max(1, 32_768 / inner)) { r0, r1 in
                for r in r0..<r1 {
                    var rem = r, oa = 0, ob = 0
                    for dim in stride(from: outer.count - 1, through: 0, by: -1) {
                        let idx = rem % outer[dim]
                        rem /= outer[dim]
                        oa += idx * sa[dim]
                        ob += idx * sb[dim]
                    }
                    let row = d + r * inner
                    if let vector, (ia == 0 || ia == 1) && (ib == 0 || ib == 1) {
                        vector.apply(pa + oa, ia, pb + ob, ib, row, inner)
                    } else if ia == 1 && ib == 1 {
                        for j in 0..<inner { row[j] = f(pa[oa + j], pb[ob + j]) }
                    } else if ib == 0 {
                        let v = pb[ob]
                        for j in 0..<inner { row[j] = f(pa[oa + j * ia], v) }
                    } else if ia == 0 {
                        let v = pa[oa]
                        for j in 0..<inner { row[j] = f(v, pb[ob + j * ib]) }
                    } else {
                        for j in 0..<inner { row[j] = f(pa[oa + j * ia], pb[ob + j * ib]) }
                    }
                }
            }
        }
        return out
    }
}

/// The arithmetic of the common elementwise binary operations, run by `binaryKernel`'s loops
/// directly so that they vectorise.
enum ElementwiseOperation {
    case add, subtract, multiply

    /// `d[i] = x[i·sx] ∘ y[i·sy]` for `i < n`, with strides 0 (a broadcast scalar) or 1.
    @inline(__always)
    func apply(_ x: UnsafeMutablePointer<Float>, _ sx: Int, _ y: UnsafeMutablePointer<Float>, _ sy: Int,
               _ d: UnsafeMutablePointer<Float>, _ n: Int) {
        switch (self, sx, sy) {
        case (.add, 1, 1): for i in 0..<n { d[i] = x[i] + y[i] }
        case (.add, 1, _): let v = y[0]; for i in 0..<n { d[i] = x[i] + v }
        case (.add, _, 1): let v = x[0]; for i in 0..<n { d[i] = v + y[i] }
        case (.subtract, 1, 1): for i in 0..<n { d[i] = x[i] - y[i] }
        case (.subtract, 1, _): let v = y[0]; for i in 0..<n { d[i] = x[i] - v }
        case (.subtract, _, 1): let v = x[0]; for i in 0..<n { d[i] = v - y[i] }
        case (.multiply, 1, 1): for i in 0..<n { d[i] = x[i] * y[i] }
        case (.multiply, 1, _): let v = y[0]; for i in 0..<n { d[i] = x[i] * v }
        case (.multiply, _, 1): let v = x[0]; for i in 0..<n { d[i] = v * y[i] }
        case (.add, _, _): let v = x[0] + y[0]; for i in 0..<n { d[i] = v }
        case (.subtract, _, _): let v = x[0] - y[0]; for i in 0..<n { d[i] = v }
        case (.multiply, _, _): let v = x[0] * y[0]; for i in 0..<n { d[i] = v }
        }
    }
}
