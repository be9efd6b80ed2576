/// An n-dimensional array of numbers that records the operations applied to it, so that
/// gradients can be computed by `backward()`.
///
/// `Tensor` is a value type over reference-counted storage: copying a tensor is free and shares
/// its storage; operations return new tensors and never mutate their inputs. Storage is
/// contiguous and row-major, except for activations that oneDNN keeps in a blocked layout
/// between layers (`format != nil`); every operation that needs the plain layout converts
/// through `plain()`, so a blocked layout is never visible in results.
public struct Tensor {
    /// The logical shape, outermost dimension first.
    public let shape: [Int]
    /// The memory behind this tensor, possibly shared with other tensors.
    public internal(set) var storage: TensorStorage
    /// Offset, in elements, of this tensor's first element in `storage`.
    let offset: Int
    /// oneDNN's memory layout when it is not plain row-major (nil: plain).
    let format: BlockedFormat?
    /// The autograd node: non-nil exactly when this tensor requires a gradient.
    var node: GradNode?

    init(shape: [Int], storage: TensorStorage, offset: Int = 0, format: BlockedFormat? = nil,
         node: GradNode? = nil) {
        self.shape = shape
        self.storage = storage
        self.offset = offset
        self.format = format
        self.node = node
    }

    /// Uninitialised plain storage for `shape` (package: kernels and the GGUF reader fill it).
    /// Every tensor's memory comes through here or `TensorStorage(byteCount:dtype:)`, so a negative
    /// dimension or a shape whose byte count overflows stops here, before any kernel loop uses it.
    package init(uninitialized shape: [Int], dtype: DType = .float32) {
        guard let n = Tensor.elementCount(shape), n <= Int.max / dtype.byteSize else {
            preconditionFailure("cannot create a \(dtype.rawValue) tensor of shape \(shape): "
                                + "dimensions must be ≥ 0 and the byte count must fit in Int")
        }
        self.init(shape: shape, storage: TensorStorage(byteCount: n * dtype.byteSize, dtype: dtype))
    }

    /// The number of elements of `shape`, or nil when a dimension is negative or the product
    /// overflows `Int`.
    static func elementCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (product, overflow) = n.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            n = product
        }
        return n
    }

    /// `elementCount(shape)` for a public initialiser, throwing `TensorError.invalidShape` naming
    /// `operation` for a negative dimension or a count of `elementSize`-byte elements too large.
    static func checkedElementCount(_ shape: [Int], elementSize: Int, operation: String) throws -> Int {
        guard let n = elementCount(shape), n <= Int.max / elementSize else {
            throw TensorError.invalidShape(operation: operation, shape: shape,
                                           reason: "dimensions must be non-negative and the byte count must fit in Int")
        }
        return n
    }

    /// Creates a float tensor from values in row-major order.
    /// - Throws: `TensorError.invalidShape` for a negative dimension, `TensorError.countMismatch`
    ///   when `values.count` is not the product of `shape`.
    public init(shape: [Int], values: [Float]) throws {
        let n = try Tensor.checkedElementCount(shape, elementSize: 4, operation: "Tensor(shape:values:)")
        guard n == values.count else {
            throw TensorError.countMismatch(shape: shape, expected: n, got: values.count)
        }
        self.init(uninitialized: shape)
        let dst = storage.floats
        values.withUnsafeBufferPointer { src in
            if n > 0 { dst.update(from: src.baseAddress!, count: n) }
        }
    }

    /// Creates a float tensor from values in row-major order; the count must match the shape
    /// (a programmer error otherwise — use `init(shape:values:)` for user data).
    public init(_ values: [Float], shape: [Int]) {
        do { try self.init(shape: shape, values: values) } catch {
            preconditionFailure("\(error)")
        }
    }

    /// A 1-D tensor.
    public init(_ values: [Float]) { self.init(values, shape: [values.count]) }

    /// A 0-D (scalar) tensor.
    public init(_ value: Float) { self.init([value], shape: []) }

    /// Creates an integer tensor (for indices and labels).
    /// - Throws: `TensorError.invalidShape` for a negative dimension, `TensorError.countMismatch`
    ///   when `indices.count` is not the product of `shape`.
    public init(shape: [Int], indices: [Int]) throws {
        let n = try Tensor.checkedElementCount(shape, elementSize: 8, operation: "Tensor(shape:indices:)")
        guard n == indices.count else {
            throw TensorError.countMismatch(shape: shape, expected: n, got: indices.count)
        }
        self.init(uninitialized: shape, dtype: .int64)
        let p = storage.base.assumingMemoryBound(to: Int64.self)
        for i in 0..<n { p[i] = Int64(indices[i]) }
    }

    /// Creates an int64 tensor; the count must match the shape (a programmer error otherwise —
    /// use `init(shape:indices:)` for user data).
    public init(indices: [Int], shape: [Int]) {
        do { try self.init(shape: shape, indices: indices) } catch { preconditionFailure("\(error)") }
    }

    /// Creates a tensor of any element type from raw little-endian bytes (safetensors layout).
    /// - Throws: `TensorError.invalidShape` for a negative dimension, `TensorError.countMismatch`
    ///   when the byte count does not match.
    public init(shape: [Int], dtype: DType, bytes: UnsafeRawBufferPointer) throws {
        let n = try Tensor.checkedElementCount(shape, elementSize: dtype.byteSize, operation: "Tensor(shape:dtype:bytes:)")
        guard n * dtype.byteSize == bytes.count else {
            throw TensorError.countMismatch(shape: shape, expected: n * dtype.byteSize, got: bytes.count)
        }
        self.init(uninitialized: shape, dtype: dtype)
        if bytes.count > 0 { storage.base.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
    }

    /// A tensor over existing storage (for example a memory-mapped file), without copying.
    /// - Throws: `TensorError.invalidShape` for a negative dimension or offset,
    ///   `TensorError.countMismatch` when the elements would reach past the storage's end.
    public init(shape: [Int], sharing storage: TensorStorage, offsetInElements: Int = 0) throws {
        let width = storage.dtype.byteSize
        let n = try Tensor.checkedElementCount(shape, elementSize: width, operation: "Tensor(shape:sharing:)")
        guard offsetInElements >= 0 else {
            throw TensorError.invalidShape(operation: "Tensor(shape:sharing:)", shape: shape,
                                           reason: "offset \(offsetInElements) is negative")
        }
        // Compared in elements, so that no product can overflow.
        let available = storage.byteCount / width
        guard offsetInElements <= available, n <= available - offsetInElements else {
            let (end, o1) = offsetInElements.addingReportingOverflow(n)
            let (bytes, o2) = end.multipliedReportingOverflow(by: width)
            throw TensorError.countMismatch(shape: shape, expected: o1 || o2 ? Int.max : bytes, got: storage.byteCount)
        }
        self.init(shape: shape, storage: storage, offset: offsetInElements)
    }

    // MARK: - Properties

    public var dtype: DType { storage.dtype }
    /// Number of dimensions.
    public var rank: Int { shape.count }
    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }
    /// Whether operations on this tensor are recorded for `backward()`.
    public var requiresGrad: Bool { node != nil }
    /// Whether the data lies in oneDNN's blocked layout rather than plain row-major.
    public var isBlocked: Bool { format != nil }

    /// Size of dimension `axis` (negative counts from the end).
    public func size(_ axis: Int) -> Int { shape[normalizeAxis(axis, rank: rank)] }

    /// Pointer to the first float element of plain data (internal: kernels).
    var floats: UnsafeMutablePointer<Float> {
        precondition(format == nil, "kernel read a blocked tensor as plain")
        precondition(dtype == .float32, "a kernel expected F32 data, found a \(dtype.rawValue) tensor of shape \(shape)")
        return storage.floats + offset
    }

    // MARK: - Reading values

    /// The values in row-major order, converted to Float.
    public var scalars: [Float] {
        let t = plain()
        let n = t.count
        switch t.dtype {
        case .float32:
            return Array(UnsafeBufferPointer(start: t.storage.floats + t.offset, count: n))
        case .int64:
            let p = t.storage.base.assumingMemoryBound(to: Int64.self) + t.offset
            return (0..<n).map { Float(p[$0]) }
        case .int32:
            let p = t.storage.base.assumingMemoryBound(to: Int32.self) + t.offset
            return (0..<n).map { Float(p[$0]) }
        case .uint8:
            let p = t.storage.base.assumingMemoryBound(to: UInt8.self) + t.offset
            return (0..<n).map { Float(p[$0]) }
        case .float16, .bfloat16:
            return t.toFloat32().scalars
        }
    }

    /// The values as integers (for index tensors; floats are truncated).
    public var indexScalars: [Int] {
        switch dtype {
        case .int64:
            let p = storage.base.assumingMemoryBound(to: Int64.self) + offset
            return (0..<count).map { Int(p[$0]) }
        case .int32:
            let p = storage.base.assumingMemoryBound(to: Int32.self) + offset
            return (0..<count).map { Int(p[$0]) }
        default:
            return scalars.map { Int($0) }
        }
    }

    /// The single value of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "item needs a one-element tensor, shape is \(shape)")
        return scalars[0]
    }

    /// The raw bytes of a plain tensor, in its storage type.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let t = plain()
        return try body(UnsafeRawBufferPointer(start: t.storage.base + t.offset * t.dtype.byteSize,
                                               count: t.count * t.dtype.byteSize))
    }

    /// Runs `body` on this tensor's float elements for in-place updates (optimizer steps). The
    /// storage is shared with every copy of this tensor, which all see the change; the tensor must be
    /// plain F32 (parameters are). Not recorded by autograd.
    public func withUnsafeMutableFloats<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        precondition(format == nil && dtype == .float32, "in-place access needs a plain F32 tensor")
        storage.noteMutation()
        return try body(UnsafeMutableBufferPointer(start: storage.floats + offset, count: count))
    }

    // MARK: - Identity and layout

    /// The same values with no autograd history (shares storage).
    public func detached() -> Tensor {
        Tensor(shape: shape, storage: storage, offset: offset, format: format, node: nil)
    }

    /// The same values in plain row-major layout; free when already plain. Keeps the autograd
    /// identity: layout is a physical detail, not an operation.
    public func plain() -> Tensor {
        guard let format else { return self }
        var t = DNNL.reorderToPlain(self, from: format)
        t.node = node
        return t
    }

    /// A plain copy with its own storage.
    public func copy() -> Tensor {
        let p = plain()
        let out = Tensor(uninitialized: shape, dtype: dtype)
        let bytes = count * dtype.byteSize
        if bytes > 0 {
            out.storage.base.copyMemory(from: p.storage.base + p.offset * dtype.byteSize, byteCount: bytes)
        }
        return out
    }

    /// Converts F16, BF16 and integer storage to F32 (a copy); F32 tensors are returned as they are.
    public func toFloat32() -> Tensor {
        if dtype == .float32 { return self }
        let n = count
        let out = Tensor(uninitialized: shape)
        let dst = out.storage.floats
        let raw = storage.base + offset * dtype.byteSize
        switch dtype {
        case .float32: break
        case .float16:
            let p = raw.assumingMemoryBound(to: UInt16.self)
            for i in 0..<n { dst[i] = Float(Float16(bitPattern: p[i])) }
        case .bfloat16:
            let p = raw.assumingMemoryBound(to: UInt16.self)
            for i in 0..<n { dst[i] = Float(bitPattern: UInt32(p[i]) << 16) }
        case .int64:
            let p = raw.assumingMemoryBound(to: Int64.self)
            for i in 0..<n { dst[i] = Float(p[i]) }
        case .int32:
            let p = raw.assumingMemoryBound(to: Int32.self)
            for i in 0..<n { dst[i] = Float(p[i]) }
        case .uint8:
            let p = raw.assumingMemoryBound(to: UInt8.self)
            for i in 0..<n { dst[i] = Float(p[i]) }
        }
        return out
    }
}

extension Tensor {
    /// An F32 tensor rounded to BF16 storage (to nearest, ties to even; a plain copy without
    /// gradient), half the memory: how a frozen weight is held under `ComputePrecision.bfloat16`
    /// (`Module.storeFrozenWeightsInBF16`). Convolutions and linear layers take such a weight
    /// directly; everything else reads it through `toFloat32()`.
    public func toBFloat16() -> Tensor {
        precondition(dtype == .float32, "toBFloat16: needs an F32 tensor, got \(dtype.rawValue) \(shape)")
        let p = plain().detached()
        let out = Tensor(uninitialized: shape, dtype: .bfloat16)
        let n = count
        let src = p.storage.floats + p.offset
        let dst = out.storage.base.assumingMemoryBound(to: UInt16.self)
        parallelFor(n, grain: 1 << 16) { i0, i1 in
            for i in i0..<i1 {
                let bits = src[i].bitPattern
                // NaN stays a (quiet) NaN; everything else rounds to nearest even.
                dst[i] = src[i].isNaN ? UInt16(bits >> 16) | 0x40
                                      : UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
            }
        }
        return out
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let values = count <= 16 ? "\(scalars)" : "\(Array(scalars.prefix(8)))…"
        return "Tensor(shape: \(shape), \(dtype.rawValue)\(requiresGrad ? ", requiresGrad" : ""), \(values))"
    }
}

/// Maps a possibly negative axis into 0..<rank.
@inlinable func normalizeAxis(_ axis: Int, rank: Int) -> Int {
    let a = axis < 0 ? axis + rank : axis
    precondition(a >= 0 && a < Swift.max(rank, 1), "axis \(axis) out of range for rank \(rank)")
    return a
}
