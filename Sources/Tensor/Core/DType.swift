/// The element type of a tensor's storage.
///
/// Arithmetic runs on `float32`; the other types exist so that checkpoints (safetensors) and
/// index tensors keep their type, and so that reduced-precision storage can follow.
public enum DType: String, Sendable, CaseIterable, Codable {
    case float32 = "F32"
    case float16 = "F16"
    case bfloat16 = "BF16"
    case int64 = "I64"
    case int32 = "I32"
    case uint8 = "U8"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .float32, .int32: return 4
        case .float16, .bfloat16: return 2
        case .int64: return 8
        case .uint8: return 1
        }
    }

    public var isFloatingPoint: Bool {
        switch self {
        case .float32, .float16, .bfloat16: return true
        case .int64, .int32, .uint8: return false
        }
    }
}
