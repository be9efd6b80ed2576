import Tensor

/// The element types the safetensors format names in its header.
///
/// Every type here can be validated (its size is known), so a file that holds, say, an F64
/// buffer still opens; only the types that map to a `DType` can be loaded as tensors.
/// Sub-byte types (F4, F6) are not listed: their sizes are counted in bits.
public enum SafeTensorsDType: String, CaseIterable, Sendable {
    case bool = "BOOL"
    case uint8 = "U8"
    case int8 = "I8"
    case float8E5M2 = "F8_E5M2"
    case float8E4M3 = "F8_E4M3"
    case float8E8M0 = "F8_E8M0"
    case int16 = "I16"
    case uint16 = "U16"
    case float16 = "F16"
    case bfloat16 = "BF16"
    case int32 = "I32"
    case uint32 = "U32"
    case float32 = "F32"
    case int64 = "I64"
    case uint64 = "U64"
    case float64 = "F64"
    case complex64 = "C64"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .bool, .uint8, .int8, .float8E5M2, .float8E4M3, .float8E8M0: return 1
        case .int16, .uint16, .float16, .bfloat16: return 2
        case .int32, .uint32, .float32: return 4
        case .int64, .uint64, .float64, .complex64: return 8
        }
    }

    /// The tensor element type this loads into, or nil when LoRAKit has none.
    public var tensorDType: DType? { DType(rawValue: rawValue) }

    /// The file type of a tensor's storage type (the names are the same by design).
    public init(_ dtype: DType) {
        guard let value = SafeTensorsDType(rawValue: dtype.rawValue) else {
            preconditionFailure("DType \(dtype.rawValue) has no safetensors name")
        }
        self = value
    }
}
