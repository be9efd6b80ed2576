import Foundation
import Tensor

/// Where and how one tensor is stored in a safetensors file.
public struct TensorInfo: Equatable, Sendable {
    /// The tensor's key in the header.
    public let name: String
    /// The element type as stored in the file.
    public let dtype: SafeTensorsDType
    /// The logical shape, outermost dimension first (`[]` for a scalar).
    public let shape: [Int]
    /// The tensor's bytes, relative to the start of the data buffer (the header's `data_offsets`).
    public let dataRange: Range<Int>

    /// Number of elements, `product(shape)`.
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A safetensors file opened for reading, memory-mapped.
///
/// The format is an 8-byte little-endian header length `N`, `N` bytes of UTF-8 JSON
/// (`{"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, …,
/// "__metadata__": {"key": "value"}}`, possibly padded with spaces), then the data buffer, to
/// which `data_offsets` are relative. Opening maps the file copy-on-write and validates the whole
/// header (see `SafeTensorsError` for every rule); no tensor data is read until asked for.
///
/// Loaded tensors point into the mapping without copying whenever their bytes are aligned for
/// their element type (always, for files this package or the reference writes). They keep the
/// mapping alive on their own, so they outlive this value. Writing into such a tensor changes
/// private pages only, never the file. F16 and BF16 tensors are converted to F32 on load unless
/// asked otherwise; I64, I32 and U8 keep their type.
///
/// ```swift
/// let file = try SafeTensorsFile(path: "model.safetensors")
/// let weight = try file.tensor(named: "encoder.layer.0.attention.query.weight")
/// ```
public struct SafeTensorsFile: Sendable {
    /// The path the file was opened from.
    public let path: String
    /// The `__metadata__` map (empty when the file has none).
    public let metadata: [String: String]
    /// Size in bytes of the JSON header, padding included.
    public let headerByteCount: Int

    /// The mapping, internal so that tests can check which tensors share it.
    let mapping: MemoryMappedFile
    private let entries: [String: TensorInfo]

    /// Opens, maps and validates a safetensors file.
    /// - Throws: `SafeTensorsError` naming the path and what is wrong.
    public init(path: String) throws {
        let mapping = try MemoryMappedFile(path: path)
        let bytes = mapping.bytes
        guard bytes.count >= 8 else { throw SafeTensorsError.fileTooShort(path: path, byteCount: bytes.count) }
        let declared = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        let available = bytes.count - 8
        // Compare as UInt64 before converting: a declared 2^63 must not trap or allocate.
        guard declared <= UInt64(available) else {
            throw SafeTensorsError.headerLengthOutOfBounds(path: path, declared: declared, available: available)
        }
        guard declared <= UInt64(SafeTensors.maximumHeaderByteCount) else {
            throw SafeTensorsError.headerTooLarge(path: path, declared: declared,
                                                  limit: SafeTensors.maximumHeaderByteCount)
        }
        let headerCount = Int(declared)
        let header = try SafeTensorsHeader.parse(UnsafeRawBufferPointer(rebasing: bytes[8..<(8 + headerCount)]),
                                                 dataByteCount: available - headerCount, path: path)
        self.path = path
        self.metadata = header.metadata
        self.headerByteCount = headerCount
        self.mapping = mapping
        self.entries = header.entries
    }

    /// Opens, maps and validates the safetensors file at a file URL.
    public init(contentsOf url: URL) throws {
        try self.init(path: url.path)
    }

    /// The tensors' names, sorted.
    public var names: [String] { entries.keys.sorted() }

    /// Number of tensors in the file.
    public var count: Int { entries.count }

    /// Where and how a tensor is stored, or nil when the file has no tensor of that name.
    public func info(_ name: String) -> TensorInfo? { entries[name] }

    /// Loads one tensor.
    ///
    /// - Parameters:
    ///   - name: the tensor's key in the header.
    ///   - convertingHalfPrecision: convert F16 and BF16 to F32 (a copy); when false they keep
    ///     their storage type and, when aligned, share the mapping.
    /// - Returns: a tensor of the stored shape, sharing the mapping when its bytes are aligned
    ///   for its element type, a copy otherwise.
    /// - Throws: `SafeTensorsError.tensorNotFound`, or `.unsupportedDType` for a file type that
    ///   has no `DType` (F64, I8, BOOL, …).
    public func tensor(named name: String, convertingHalfPrecision: Bool = true) throws -> Tensor {
        guard let info = entries[name] else { throw SafeTensorsError.tensorNotFound(path: path, name: name) }
        guard let dtype = info.dtype.tensorDType else {
            throw SafeTensorsError.unsupportedDType(path: path, tensor: name, dtype: info.dtype.rawValue)
        }
        let tensor: Tensor
        let count = info.dataRange.count
        if count > 0, let base = mapping.base {
            let start = base + 8 + headerByteCount + info.dataRange.lowerBound
            if Int(bitPattern: start) % dtype.byteSize == 0 {
                let storage = TensorStorage(wrapping: start, byteCount: count, dtype: dtype, owner: mapping)
                tensor = try Tensor(shape: info.shape, sharing: storage)
            } else {
                tensor = try Tensor(shape: info.shape, dtype: dtype,
                                    bytes: UnsafeRawBufferPointer(start: start, count: count))
            }
        } else {
            tensor = try Tensor(shape: info.shape, dtype: dtype, bytes: UnsafeRawBufferPointer(start: nil, count: 0))
        }
        if convertingHalfPrecision && (dtype == .float16 || dtype == .bfloat16) {
            return tensor.toFloat32()
        }
        return tensor
    }

    /// Loads every tensor, keyed by name.
    /// - Throws: as `tensor(named:convertingHalfPrecision:)`.
    public func tensors(convertingHalfPrecision: Bool = true) throws -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        result.reserveCapacity(entries.count)
        for name in entries.keys {
            result[name] = try tensor(named: name, convertingHalfPrecision: convertingHalfPrecision)
        }
        return result
    }
}
