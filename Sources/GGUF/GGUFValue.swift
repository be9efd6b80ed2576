/// The type code of a GGUF metadata value, as stored in the file (`gguf_type`).
public enum GGUFValueType: UInt32, CaseIterable, Sendable, CustomStringConvertible {
    case uint8 = 0
    case int8 = 1
    case uint16 = 2
    case int16 = 3
    case uint32 = 4
    case int32 = 5
    case float32 = 6
    case bool = 7
    case string = 8
    case array = 9
    case uint64 = 10
    case int64 = 11
    case float64 = 12

    /// The GGUF spelling (`UINT32`, `STRING`, …).
    public var description: String {
        switch self {
        case .uint8: return "UINT8"
        case .int8: return "INT8"
        case .uint16: return "UINT16"
        case .int16: return "INT16"
        case .uint32: return "UINT32"
        case .int32: return "INT32"
        case .float32: return "FLOAT32"
        case .bool: return "BOOL"
        case .string: return "STRING"
        case .array: return "ARRAY"
        case .uint64: return "UINT64"
        case .int64: return "INT64"
        case .float64: return "FLOAT64"
        }
    }

    /// Bytes one value takes in the file, or nil for strings and arrays (variable length).
    var fixedByteCount: Int? {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string, .array: return nil
        }
    }

    /// The fewest bytes one value can take: a string's or an array's length fields alone.
    var minimumByteCount: Int {
        switch self {
        case .string: return 8
        case .array: return 4 + 8
        default: return fixedByteCount!
        }
    }
}

/// One metadata value of a GGUF file, exactly as stored: the type is kept, so that a `UINT32`
/// stays distinguishable from an `INT32`.
///
/// Arrays keep their element type, so an empty array still says what it would hold. Use the
/// typed accessors of `GGUFFile` (`int(_:)`, `strings(_:)`, …) to read values with errors that
/// name the key; the properties here (`intValue`, …) answer nil where the type does not fit.
public enum GGUFValue: Equatable, Sendable {
    case uint8(UInt8)
    case int8(Int8)
    case uint16(UInt16)
    case int16(Int16)
    case uint32(UInt32)
    case int32(Int32)
    case float32(Float)
    case bool(Bool)
    case string(String)
    case uint64(UInt64)
    case int64(Int64)
    case float64(Double)
    /// An array: the element type, and the elements (each of that type).
    indirect case array(GGUFValueType, [GGUFValue])

    /// The stored type.
    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .float32: return .float32
        case .bool: return .bool
        case .string: return .string
        case .uint64: return .uint64
        case .int64: return .int64
        case .float64: return .float64
        case .array: return .array
        }
    }

    /// A readable name of the type, arrays with their element type (`ARRAY[STRING]`).
    public var typeName: String {
        if case let .array(element, values) = self {
            let inner = element == .array ? (values.first?.typeName ?? "ARRAY") : element.description
            return "ARRAY[\(inner)]"
        }
        return type.description
    }

    /// The value of any integer type, when it fits in `Int`; nil for other types.
    public var intValue: Int? {
        switch self {
        case let .uint8(v): return Int(v)
        case let .int8(v): return Int(v)
        case let .uint16(v): return Int(v)
        case let .int16(v): return Int(v)
        case let .uint32(v): return Int(v)
        case let .int32(v): return Int(v)
        case let .uint64(v): return Int(exactly: v)
        case let .int64(v): return Int(v)
        default: return nil
        }
    }

    /// The value of a `FLOAT32` or `FLOAT64` (a `FLOAT32` converts exactly); nil for other types.
    public var doubleValue: Double? {
        switch self {
        case let .float32(v): return Double(v)
        case let .float64(v): return v
        default: return nil
        }
    }

    /// The value of a `BOOL`; nil for other types.
    public var boolValue: Bool? {
        if case let .bool(v) = self { return v }
        return nil
    }

    /// The value of a `STRING`; nil for other types.
    public var stringValue: String? {
        if case let .string(v) = self { return v }
        return nil
    }

    /// The elements of an `ARRAY`; nil for other types.
    public var arrayValue: [GGUFValue]? {
        if case let .array(_, values) = self { return values }
        return nil
    }
}
