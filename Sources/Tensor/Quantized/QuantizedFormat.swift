/// How the weights of a `QuantizedMatrix` are stored: ggml's block formats (as GGUF files hold
/// them) and the plain float types.
///
/// A block format stores each row in blocks of 32 consecutive weights, each with its own scale:
///
/// | format | bytes per block | layout | weight `j` of the block |
/// |---|---|---|---|
/// | `q8_0` | 34 | f16 `d`, 32 × int8 `q` | `q[j]·d` |
/// | `q4_0` | 18 | f16 `d`, 16 bytes of nibbles | `(n[j] − 8)·d` |
/// | `q4_1` | 20 | f16 `d`, f16 `m`, 16 bytes of nibbles | `n[j]·d + m` |
///
/// where `n[j]` is the low nibble of byte `j` for `j < 16` and the high nibble of byte `j − 16`
/// otherwise. The float formats (`float32`, `float16`, `bfloat16`) are "blocks" of one element.
/// Every product is rounded to Float32 as ggml's and gguf-py's dequantisers round it (no fused
/// multiply-add), so dequantised values equal theirs exactly.
public enum QuantizedFormat: String, Sendable, CaseIterable, Codable {
    case float32 = "F32"
    case float16 = "F16"
    case bfloat16 = "BF16"
    case q8_0 = "Q8_0"
    case q4_0 = "Q4_0"
    case q4_1 = "Q4_1"

    /// Weights per block: 32 for the block formats, 1 for the float types.
    public var blockSize: Int {
        switch self {
        case .float32, .float16, .bfloat16: return 1
        case .q8_0, .q4_0, .q4_1: return 32
        }
    }

    /// Bytes per block.
    public var blockBytes: Int {
        switch self {
        case .float32: return 4
        case .float16, .bfloat16: return 2
        case .q8_0: return 34
        case .q4_0: return 18
        case .q4_1: return 20
        }
    }

    /// Storage bits per weight, scales included (4.5 for `q4_0`, 5 for `q4_1`, 8.5 for `q8_0`).
    public var bitsPerWeight: Double { Double(blockBytes * 8) / Double(blockSize) }

    /// Whether the format is one of ggml's block formats (rather than a float type).
    public var isBlockFormat: Bool { blockSize > 1 }

    /// Bytes of one row of `columns` weights, or nil when `columns` is not a whole number of
    /// blocks (or the count overflows).
    public func rowBytes(columns: Int) -> Int? {
        guard columns >= 0, columns % blockSize == 0 else { return nil }
        let (bytes, overflow) = (columns / blockSize).multipliedReportingOverflow(by: blockBytes)
        return overflow ? nil : bytes
    }
}

/// Errors from making a `QuantizedMatrix` out of user data (a file's bytes).
public enum QuantizedMatrixError: Error, Equatable, CustomStringConvertible {
    /// The row width is not a whole number of blocks of the format.
    case partialBlock(format: QuantizedFormat, columns: Int)
    /// The byte count does not match the shape in the format.
    case byteCountMismatch(format: QuantizedFormat, rows: Int, columns: Int, expected: Int, got: Int)
    /// A dimension is negative, or the sizes overflow.
    case invalidShape(rows: Int, columns: Int)
    /// A row index (of a permutation or a lookup) is out of range.
    case rowOutOfRange(operation: String, row: Int, rows: Int)

    public var description: String {
        switch self {
        case let .partialBlock(format, columns):
            return "a \(format.rawValue) row needs a multiple of \(format.blockSize) weights, got \(columns)"
        case let .byteCountMismatch(format, rows, columns, expected, got):
            return "a \(format.rawValue) matrix [\(rows), \(columns)] needs \(expected) bytes, got \(got)"
        case let .invalidShape(rows, columns):
            return "invalid quantised matrix shape [\(rows), \(columns)]"
        case let .rowOutOfRange(operation, row, rows):
            return "\(operation): row \(row) is out of range 0..<\(rows)"
        }
    }
}
