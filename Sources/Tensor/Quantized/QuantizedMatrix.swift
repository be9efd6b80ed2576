/// A frozen weight matrix [rows, columns] kept in a compact storage format (`QuantizedFormat`):
/// ggml's Q8_0/Q4_0/Q4_1 blocks as a GGUF file holds them, or F16/BF16/F32 values. It is decoded
/// to Float32 only where it is used (`Tensor.linear(_:quantizedWeight:)`, `rows(_:)`), so a model
/// whose base weights are quantised takes their size in memory, not four bytes per weight.
///
/// Row `r` (an output of a linear layer, as a PyTorch weight's row) is `rowBytes` bytes at
/// `byteOffset + r·rowBytes` in `storage`; a row of a block format is `columns / 32` blocks.
/// A value type over shared, immutable storage: copies are free.
public struct QuantizedMatrix: @unchecked Sendable {
    /// How the weights are stored.
    public let format: QuantizedFormat
    /// Rows (a linear layer's outputs).
    public let rows: Int
    /// Columns (a linear layer's inputs): a multiple of 32 for the block formats.
    public let columns: Int
    /// Bytes of one row.
    public let rowBytes: Int
    let storage: TensorStorage
    let byteOffset: Int

    /// `[rows, columns]`, the shape of the float matrix it stands for.
    public var shape: [Int] { [rows, columns] }

    /// Bytes the weights take in memory.
    public var byteCount: Int { rows * rowBytes }

    /// A matrix holding a copy of `bytes`, laid out as GGUF stores the tensor (row after row).
    /// - Throws: `QuantizedMatrixError.partialBlock` when `columns` is not a whole number of
    ///   blocks, `.byteCountMismatch` when `bytes` is not exactly the matrix, `.invalidShape`.
    public init(format: QuantizedFormat, rows: Int, columns: Int, bytes: UnsafeRawBufferPointer) throws {
        let rowBytes = try QuantizedMatrix.checkedRowBytes(format: format, rows: rows, columns: columns,
                                                           available: bytes.count, exact: true)
        let storage = MemoryPool.withLongLivedAllocations {
            TensorStorage(byteCount: rows * rowBytes, dtype: .uint8)
        }
        if rows * rowBytes > 0 { storage.base.copyMemory(from: bytes.baseAddress!, byteCount: rows * rowBytes) }
        self.init(format: format, rows: rows, columns: columns, rowBytes: rowBytes, storage: storage, byteOffset: 0)
    }

    /// A matrix over `storage` (a memory-mapped file, for example) from `byteOffset`, without
    /// copying. The storage must stay unchanged while the matrix is used.
    /// - Throws: as `init(format:rows:columns:bytes:)`, and `.byteCountMismatch` when the matrix
    ///   would reach past the storage's end.
    public init(format: QuantizedFormat, rows: Int, columns: Int, sharing storage: TensorStorage,
                byteOffset: Int) throws {
        guard byteOffset >= 0, byteOffset <= storage.byteCount else {
            throw QuantizedMatrixError.byteCountMismatch(format: format, rows: rows, columns: columns,
                                                         expected: byteOffset, got: storage.byteCount)
        }
        let rowBytes = try QuantizedMatrix.checkedRowBytes(format: format, rows: rows, columns: columns,
                                                           available: storage.byteCount - byteOffset, exact: false)
        self.init(format: format, rows: rows, columns: columns, rowBytes: rowBytes, storage: storage,
                  byteOffset: byteOffset)
    }

    /// A float matrix stored as F32, F16 or BF16 (`format` must be one of these): the values of
    /// `tensor` [rows, columns] rounded to the format (to nearest, ties to even).
    public init(_ tensor: Tensor, format: QuantizedFormat = .float32) {
        precondition(!format.isBlockFormat, "QuantizedMatrix(_:format:) makes float formats only, not \(format.rawValue)")
        precondition(tensor.rank == 2, "QuantizedMatrix needs a 2-D tensor, got \(tensor.shape)")
        let values = tensor.detached().toFloat32().plain()
        let (rows, columns) = (tensor.shape[0], tensor.shape[1])
        let rowBytes = columns * format.blockBytes
        let storage = MemoryPool.withLongLivedAllocations { TensorStorage(byteCount: rows * rowBytes, dtype: .uint8) }
        let src = values.floats
        for i in 0..<(rows * columns) {
            switch format {
            case .float32: (storage.base + 4 * i).storeBytes(of: src[i], as: Float.self)
            case .float16: (storage.base + 2 * i).storeBytes(of: Float16(src[i]).bitPattern, as: UInt16.self)
            case .bfloat16: (storage.base + 2 * i).storeBytes(of: QuantizedMatrix.bfloat16(src[i]), as: UInt16.self)
            case .q8_0, .q4_0, .q4_1: break
            }
        }
        self.init(format: format, rows: rows, columns: columns, rowBytes: rowBytes, storage: storage, byteOffset: 0)
    }

    init(format: QuantizedFormat, rows: Int, columns: Int, rowBytes: Int, storage: TensorStorage, byteOffset: Int) {
        self.format = format
        self.rows = rows
        self.columns = columns
        self.rowBytes = rowBytes
        self.storage = storage
        self.byteOffset = byteOffset
    }

    private static func checkedRowBytes(format: QuantizedFormat, rows: Int, columns: Int, available: Int,
                                        exact: Bool) throws -> Int {
        guard rows >= 0, columns >= 0 else { throw QuantizedMatrixError.invalidShape(rows: rows, columns: columns) }
        guard let rowBytes = format.rowBytes(columns: columns) else {
            if columns % format.blockSize != 0 { throw QuantizedMatrixError.partialBlock(format: format, columns: columns) }
            throw QuantizedMatrixError.invalidShape(rows: rows, columns: columns)
        }
        let (total, overflow) = rows.multipliedReportingOverflow(by: rowBytes)
        guard !overflow else { throw QuantizedMatrixError.invalidShape(rows: rows, columns: columns) }
        guard exact ? total == available : total <= available else {
            throw QuantizedMatrixError.byteCountMismatch(format: format, rows: rows, columns: columns,
                                                         expected: total, got: available)
        }
        return rowBytes
    }

    /// Float32 to BF16, rounding to nearest even (NaN kept a NaN).
    static func bfloat16(_ x: Float) -> UInt16 {
        if x.isNaN { return 0x7FC0 }
        let bits = x.bitPattern
        return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    }

    /// Address of row `r`'s bytes.
    @inline(__always) var base: UnsafeRawPointer { UnsafeRawPointer(storage.base + byteOffset) }

    // MARK: - Decoding

    /// The whole matrix as a Float32 tensor [rows, columns], each value as ggml dequantises it.
    public func dequantized() -> Tensor {
        let out = Tensor(uninitialized: [rows, columns])
        dequantizeRows(0, rows, into: out.storage.floats)
        return out
    }

    /// Decodes rows `r0 ..< r1` into `out` (row after row, `columns` apart), in parallel.
    func dequantizeRows(_ r0: Int, _ r1: Int, into out: UnsafeMutablePointer<Float>) {
        precondition(r0 >= 0 && r0 <= r1 && r1 <= rows, "dequantizeRows \(r0)..<\(r1) of \(rows) rows")
        KernelTrace.note("dequantize.\(format.rawValue)")
        let (base, rowBytes, columns, format) = (self.base, self.rowBytes, self.columns, self.format)
        parallelFor(r1 - r0, grain: Swift.max(1, 16_384 / Swift.max(columns, 1))) { b, e in
            QuantizedKernels.dequantize(format, base: base, rowBytes: rowBytes, columns: columns, rows: r0 + b, r0 + e,
                                        into: out + b * columns, ld: columns)
        }
    }

    /// The rows named by `indices`, decoded: [indices.count, columns] (an embedding lookup).
    /// - Throws: `QuantizedMatrixError.rowOutOfRange` for an index outside `0..<rows`.
    public func rows(_ indices: [Int]) throws -> Tensor {
        for i in indices where !(0..<rows).contains(i) {
            throw QuantizedMatrixError.rowOutOfRange(operation: "QuantizedMatrix.rows", row: i, rows: rows)
        }
        let out = Tensor(uninitialized: [indices.count, columns])
        let (base, rowBytes, columns, format) = (self.base, self.rowBytes, self.columns, self.format)
        let dst = out.storage.floats
        indices.withUnsafeBufferPointer { idx in
            parallelFor(idx.count, grain: Swift.max(1, 16_384 / Swift.max(columns, 1))) { b, e in
                for k in b..<e {
                    QuantizedKernels.dequantize(format, base: base + idx[k] * rowBytes, rowBytes: rowBytes, columns: columns,
                                                rows: 0, 1, into: dst + k * columns, ld: columns)
                }
            }
        }
        return out
    }

    /// A copy whose row `i` is this matrix's row `order[i]`: a permutation of the outputs, exact in
    /// every format because blocks never span rows (llama.cpp's Q/K row order back to Hugging Face's).
    /// - Throws: `QuantizedMatrixError.rowOutOfRange` when `order` is not a permutation of `0..<rows`.
    public func permutingRows(_ order: [Int]) throws -> QuantizedMatrix {
        var seen = [Bool](repeating: false, count: rows)
        guard order.count == rows else {
            throw QuantizedMatrixError.rowOutOfRange(operation: "permutingRows (\(order.count) indices)", row: order.count, rows: rows)
        }
        for r in order {
            guard (0..<rows).contains(r), !seen[r] else {
                throw QuantizedMatrixError.rowOutOfRange(operation: "permutingRows (not a permutation)", row: r, rows: rows)
            }
            seen[r] = true
        }
        let storage = MemoryPool.withLongLivedAllocations { TensorStorage(byteCount: byteCount, dtype: .uint8) }
        for (i, r) in order.enumerated() {
            (storage.base + i * rowBytes).copyMemory(from: base + r * rowBytes, byteCount: rowBytes)
        }
        return QuantizedMatrix(format: format, rows: rows, columns: columns, rowBytes: rowBytes, storage: storage, byteOffset: 0)
    }
}
