import Foundation

/// Everything that can go wrong reading or writing a safetensors file.
///
/// Every case carries the file's path and, where one is involved, the tensor's name and the
/// numbers that broke the rule, so that the message alone tells the user what to fix. Offsets
/// and byte counts are relative to the start of the data buffer (the bytes after the header),
/// as they are in the header's `data_offsets`.
public enum SafeTensorsError: Error, Equatable, Sendable {
    /// The file is shorter than the 8-byte header length that every file starts with.
    case fileTooShort(path: String, byteCount: Int)
    /// The header length in the first 8 bytes is larger than the rest of the file.
    case headerLengthOutOfBounds(path: String, declared: UInt64, available: Int)
    /// The header is larger than `SafeTensors.maximumHeaderByteCount` (as in the reference).
    case headerTooLarge(path: String, declared: UInt64, limit: Int)
    /// The header is not valid UTF-8 JSON.
    case invalidJSON(path: String, reason: String)
    /// The header is valid JSON but not an object.
    case headerNotAnObject(path: String)
    /// A tensor's entry is not a JSON object.
    case entryNotAnObject(path: String, tensor: String)
    /// A tensor's entry lacks `dtype`, `shape` or `data_offsets`.
    case missingField(path: String, tensor: String, field: String)
    /// A field has the wrong JSON type or an impossible value (not an integer, wrong length…).
    case invalidField(path: String, tensor: String, field: String, reason: String)
    /// The `dtype` string is not one this reader can lay out.
    case unknownDType(path: String, tensor: String, dtype: String)
    /// A dimension of `shape` is negative.
    case negativeDimension(path: String, tensor: String, shape: [Int])
    /// `data_offsets` has `begin > end`.
    case invertedOffsets(path: String, tensor: String, begin: Int, end: Int)
    /// `data_offsets` reaches past the end of the data buffer.
    case offsetsOutOfBounds(path: String, tensor: String, begin: Int, end: Int, dataByteCount: Int)
    /// `end - begin` differs from `product(shape) × dtype size`; `expectedByteCount` is nil
    /// when that product does not fit in an `Int`.
    case sizeMismatch(path: String, tensor: String, dtype: String, shape: [Int],
                      expectedByteCount: Int?, actualByteCount: Int)
    /// Two tensors' byte ranges overlap.
    case overlappingTensors(path: String, first: String, second: String)
    /// Bytes `begin..<end` of the data buffer belong to no tensor (a gap, or trailing bytes);
    /// the reference implementation rejects these ("MetadataIncompleteBuffer").
    case uncoveredData(path: String, begin: Int, end: Int)
    /// The header names the same tensor twice.
    case duplicateName(path: String, name: String)
    /// `__metadata__` is not an object of strings; `key` is nil when the map itself is wrong.
    case invalidMetadata(path: String, key: String?, reason: String)
    /// No tensor of this name is in the file.
    case tensorNotFound(path: String, name: String)
    /// The file's element type is valid safetensors but has no `DType` to load into.
    case unsupportedDType(path: String, tensor: String, dtype: String)
    /// A tensor to be written has a name the format reserves (`__metadata__`).
    case reservedName(path: String, name: String)
    /// A system call failed; `errno` is the C error number.
    case io(path: String, operation: String, errno: Int32)
}

extension SafeTensorsError: CustomStringConvertible, LocalizedError {
    public var description: String {
        switch self {
        case let .fileTooShort(path, count):
            return "\(path): not a safetensors file: \(count) bytes, shorter than the 8-byte header length"
        case let .headerLengthOutOfBounds(path, declared, available):
            return "\(path): header length \(declared) exceeds the \(available) bytes that follow it"
        case let .headerTooLarge(path, declared, limit):
            return "\(path): header length \(declared) exceeds the limit of \(limit) bytes"
        case let .invalidJSON(path, reason):
            return "\(path): header is not valid JSON: \(reason)"
        case let .headerNotAnObject(path):
            return "\(path): header is not a JSON object"
        case let .entryNotAnObject(path, tensor):
            return "\(path): tensor '\(tensor)': entry is not a JSON object"
        case let .missingField(path, tensor, field):
            return "\(path): tensor '\(tensor)': missing field '\(field)'"
        case let .invalidField(path, tensor, field, reason):
            return "\(path): tensor '\(tensor)': field '\(field)' \(reason)"
        case let .unknownDType(path, tensor, dtype):
            return "\(path): tensor '\(tensor)': unknown dtype '\(dtype)'"
        case let .negativeDimension(path, tensor, shape):
            return "\(path): tensor '\(tensor)': shape \(shape) has a negative dimension"
        case let .invertedOffsets(path, tensor, begin, end):
            return "\(path): tensor '\(tensor)': data_offsets [\(begin), \(end)] begin after they end"
        case let .offsetsOutOfBounds(path, tensor, begin, end, count):
            return "\(path): tensor '\(tensor)': data_offsets [\(begin), \(end)] exceed the data buffer of \(count) bytes"
        case let .sizeMismatch(path, tensor, dtype, shape, expected, actual):
            let need = expected.map { "\($0) bytes" } ?? "more bytes than an Int can count"
            return "\(path): tensor '\(tensor)': shape \(shape) of \(dtype) needs \(need), data_offsets span \(actual)"
        case let .overlappingTensors(path, first, second):
            return "\(path): tensors '\(first)' and '\(second)' overlap in the data buffer"
        case let .uncoveredData(path, begin, end):
            return "\(path): data bytes \(begin)..<\(end) belong to no tensor"
        case let .duplicateName(path, name):
            return "\(path): tensor '\(name)' appears more than once in the header"
        case let .invalidMetadata(path, key, reason):
            if let key { return "\(path): __metadata__ key '\(key)': \(reason)" }
            return "\(path): __metadata__ \(reason)"
        case let .tensorNotFound(path, name):
            return "\(path): no tensor named '\(name)'"
        case let .unsupportedDType(path, tensor, dtype):
            return "\(path): tensor '\(tensor)': dtype \(dtype) cannot be loaded (supported: F32, F16, BF16, I64, I32, U8)"
        case let .reservedName(path, name):
            return "\(path): '\(name)' is reserved by the safetensors format and cannot name a tensor"
        case let .io(path, operation, code):
            return "\(path): \(operation) failed: \(String(cString: strerror(code))) (errno \(code))"
        }
    }

    public var errorDescription: String? { description }
}
