import Foundation

/// Everything that can go wrong reading a GGUF file or dequantising its tensors.
///
/// Every case carries the file's path and, where one is involved, the metadata key or tensor name
/// and the byte offset (from the start of the file) at which the reader found the problem, so that
/// the message alone says what is wrong and where.
public enum GGUFError: Error, Equatable, Sendable {
    /// A system call failed; `errno` is the C error number.
    case io(path: String, operation: String, errno: Int32)
    /// The file does not start with the four bytes `GGUF`.
    case badMagic(path: String, found: [UInt8])
    /// The version is not 2 or 3 (1 used 32-bit counts; a byte-swapped version is a big-endian file).
    case unsupportedVersion(path: String, version: UInt32)
    /// The file ends inside `field`, which starts at `offset` and needs `needed` bytes.
    case truncated(path: String, field: String, offset: Int, needed: Int, fileSize: Int)
    /// A count (of tensors, metadata entries or array elements) is larger than the rest of the file
    /// could hold, given the smallest size of one item.
    case countTooLarge(path: String, field: String, offset: Int, count: UInt64, limit: Int)
    /// A string at `offset` is not valid UTF-8.
    case invalidString(path: String, field: String, offset: Int)
    /// A metadata value's type code is not a GGUF value type.
    case unknownValueType(path: String, key: String, offset: Int, code: UInt32)
    /// Arrays nest deeper than `GGUFFile.maximumArrayNesting`.
    case nestingTooDeep(path: String, key: String, offset: Int)
    /// The same metadata key appears twice.
    case duplicateKey(path: String, key: String)
    /// `general.alignment` is not a non-zero power of two stored as UINT32.
    case invalidAlignment(path: String, detail: String)
    /// The same tensor name appears twice.
    case duplicateTensor(path: String, name: String)
    /// A tensor has more than four dimensions (ggml's limit).
    case tooManyDimensions(path: String, tensor: String, count: UInt32)
    /// A tensor's dimensions are impossible: too large, an element count that overflows, or a first
    /// dimension that is not a whole number of its type's blocks.
    case invalidDimensions(path: String, tensor: String, dimensions: [UInt64], reason: String)
    /// A tensor's type code is not a ggml type.
    case unknownTensorType(path: String, tensor: String, code: UInt32)
    /// A tensor's data offset is not a multiple of the file's alignment.
    case misalignedTensor(path: String, tensor: String, offset: UInt64, alignment: Int)
    /// A tensor's bytes reach past the end of the file.
    case tensorOutOfBounds(path: String, tensor: String, offset: UInt64, byteCount: Int, dataByteCount: Int)
    /// Two tensors' byte ranges overlap.
    case overlappingTensors(path: String, first: String, second: String)
    /// No tensor of this name is in the file.
    case tensorNotFound(path: String, name: String)
    /// The tensor's type cannot be dequantised by LoRAKit (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1).
    case unsupportedTensorType(path: String, tensor: String, type: GGUFTensorType)
    /// No metadata entry has this key.
    case missingKey(path: String, key: String)
    /// A metadata entry holds another type than the one asked for (or a number out of range).
    case wrongType(path: String, key: String, expected: String, found: String)
}

extension GGUFError: CustomStringConvertible, LocalizedError {
    public var description: String {
        switch self {
        case let .io(path, operation, code):
            return "\(path): \(operation) failed: \(String(cString: strerror(code))) (errno \(code))"
        case let .badMagic(path, found):
            let hex = found.map { String(format: "%02x", $0) }.joined(separator: " ")
            return "\(path): not a GGUF file: starts with [\(hex)], expected \"GGUF\""
        case let .unsupportedVersion(path, version):
            let hint = version & 0xFFFF == 0 ? " (a big-endian file, which LoRAKit does not read)" : ""
            return "\(path): GGUF version \(version) is not supported (2 and 3 are)\(hint)"
        case let .truncated(path, field, offset, needed, size):
            return "\(path): file ends inside \(field): \(needed) bytes at offset \(offset), file has \(size)"
        case let .countTooLarge(path, field, offset, count, limit):
            return "\(path): \(field) at offset \(offset) is \(count), more than the rest of the file can hold (≤ \(limit))"
        case let .invalidString(path, field, offset):
            return "\(path): \(field) at offset \(offset) is not valid UTF-8"
        case let .unknownValueType(path, key, offset, code):
            return "\(path): metadata '\(key)': unknown value type \(code) at offset \(offset)"
        case let .nestingTooDeep(path, key, offset):
            return "\(path): metadata '\(key)': arrays nested too deeply at offset \(offset)"
        case let .duplicateKey(path, key):
            return "\(path): metadata key '\(key)' appears more than once"
        case let .invalidAlignment(path, detail):
            return "\(path): general.alignment \(detail)"
        case let .duplicateTensor(path, name):
            return "\(path): tensor '\(name)' appears more than once"
        case let .tooManyDimensions(path, tensor, count):
            return "\(path): tensor '\(tensor)' has \(count) dimensions, at most 4 are allowed"
        case let .invalidDimensions(path, tensor, dims, reason):
            return "\(path): tensor '\(tensor)': dimensions \(dims) \(reason)"
        case let .unknownTensorType(path, tensor, code):
            return "\(path): tensor '\(tensor)': unknown ggml type \(code)"
        case let .misalignedTensor(path, tensor, offset, alignment):
            return "\(path): tensor '\(tensor)': data offset \(offset) is not a multiple of the alignment \(alignment)"
        case let .tensorOutOfBounds(path, tensor, offset, count, available):
            return "\(path): tensor '\(tensor)': \(count) bytes at data offset \(offset) exceed the \(available) bytes of tensor data"
        case let .overlappingTensors(path, first, second):
            return "\(path): tensors '\(first)' and '\(second)' overlap"
        case let .tensorNotFound(path, name):
            return "\(path): no tensor named '\(name)'"
        case let .unsupportedTensorType(path, tensor, type):
            return "\(path): tensor '\(tensor)': type \(type) cannot be dequantised (supported: "
                + GGUFTensorType.dequantizable.map(\.description).joined(separator: ", ") + ")"
        case let .missingKey(path, key):
            return "\(path): no metadata key '\(key)'"
        case let .wrongType(path, key, expected, found):
            return "\(path): metadata '\(key)' is \(found), expected \(expected)"
        }
    }

    public var errorDescription: String? { description }
}
