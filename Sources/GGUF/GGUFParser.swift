/// Parses and checks a GGUF file's header, metadata and tensor table (the layout of ggml's
/// `gguf.cpp` and the `gguf` Python package's `GGUFReader`):
///
///     "GGUF" · UINT32 version · UINT64 tensor count · UINT64 metadata count
///     metadata: (string key · UINT32 type · value)*
///     tensors:  (string name · UINT32 n_dims · UINT64 ne[n_dims] · UINT32 ggml type · UINT64 offset)*
///     padding to `general.alignment` (default 32) · tensor data
///
/// Every length, count and offset is checked against the file before it is used; nothing is
/// read past the end, and a count is checked against what the rest of the file could hold before
/// anything is reserved for it.
struct GGUFParser {
    struct Result {
        var version: UInt32
        var metadata: [String: GGUFValue]
        var metadataKeys: [String]
        var tensors: [GGUFTensorInfo]
        var alignment: Int
        var dataOffset: Int
    }

    /// Arrays of arrays are allowed to this depth (llama.cpp allows none; the format allows any).
    static let maximumArrayNesting = 4
    static let defaultAlignment = 32
    static let magic: [UInt8] = Array("GGUF".utf8)

    private var cursor: GGUFCursor
    private var path: String { cursor.path }

    init(bytes: UnsafeRawBufferPointer, path: String) {
        cursor = GGUFCursor(bytes: bytes, path: path)
    }

    mutating func parse() throws -> Result {
        let bytes = cursor.bytes
        guard bytes.count >= 4, Array(bytes[0..<4]) == GGUFParser.magic else {
            throw GGUFError.badMagic(path: path, found: Array(bytes.prefix(4)))
        }
        _ = try cursor.take(4, "magic")
        let version = try cursor.u32("version")
        guard version == 2 || version == 3 else { throw GGUFError.unsupportedVersion(path: path, version: version) }
        // The smallest tensor entry: an empty name (8), n_dims (4), type (4), offset (8).
        let tensorCount = try cursor.count("tensor count", minimumItemBytes: 24)
        // The smallest metadata entry: an empty key (8), a type (4), a one-byte value.
        let keyCount = try cursor.count("metadata count", minimumItemBytes: 13)

        var metadata: [String: GGUFValue] = [:]
        var keys: [String] = []
        metadata.reserveCapacity(keyCount)
        keys.reserveCapacity(keyCount)
        for index in 0..<keyCount {
            let key = try cursor.string("metadata key #\(index)")
            guard metadata[key] == nil else { throw GGUFError.duplicateKey(path: path, key: key) }
            let typeOffset = cursor.offset
            let code = try cursor.u32("type of '\(key)'")
            guard let type = GGUFValueType(rawValue: code) else {
                throw GGUFError.unknownValueType(path: path, key: key, offset: typeOffset, code: code)
            }
            metadata[key] = try value(of: type, key: key, depth: 0)
            keys.append(key)
        }
        let alignment = try GGUFParser.alignment(in: metadata, path: path)

        var infos: [(name: String, dimensions: [UInt64], code: UInt32, offset: UInt64)] = []
        infos.reserveCapacity(tensorCount)
        var names = Set<String>()
        for index in 0..<tensorCount {
            let name = try cursor.string("name of tensor #\(index)")
            guard names.insert(name).inserted else { throw GGUFError.duplicateTensor(path: path, name: name) }
            let rank = try cursor.u32("dimension count of '\(name)'")
            guard rank <= 4 else { throw GGUFError.tooManyDimensions(path: path, tensor: name, count: rank) }
            var dimensions: [UInt64] = []
            for axis in 0..<Int(rank) { dimensions.append(try cursor.u64("dimension \(axis) of '\(name)'")) }
            let code = try cursor.u32("type of '\(name)'")
            let offset = try cursor.u64("data offset of '\(name)'")
            infos.append((name, dimensions, code, offset))
        }

        // The data section starts at the next multiple of the alignment.
        let (padded, overflow) = cursor.offset.addingReportingOverflow(alignment - 1)
        precondition(!overflow, "offsets within a mapped file cannot overflow")
        let dataOffset = padded / alignment * alignment
        let dataByteCount = max(0, bytes.count - dataOffset)
        let tensors = try infos.map { info in
            try GGUFParser.tensorInfo(name: info.name, dimensions: info.dimensions, code: info.code,
                                      offset: info.offset, alignment: alignment, dataByteCount: dataByteCount,
                                      path: path)
        }
        try GGUFParser.checkOverlaps(tensors, path: path)
        return Result(version: version, metadata: metadata, metadataKeys: keys, tensors: tensors,
                      alignment: alignment, dataOffset: dataOffset)
    }

    // MARK: - Metadata values

    private mutating func value(of type: GGUFValueType, key: String, depth: Int) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try cursor.u8("value of '\(key)'"))
        case .int8: return .int8(Int8(bitPattern: try cursor.u8("value of '\(key)'")))
        case .uint16: return .uint16(try cursor.read(UInt16.self, "value of '\(key)'"))
        case .int16: return .int16(try cursor.read(Int16.self, "value of '\(key)'"))
        case .uint32: return .uint32(try cursor.u32("value of '\(key)'"))
        case .int32: return .int32(try cursor.read(Int32.self, "value of '\(key)'"))
        case .float32: return .float32(Float(bitPattern: try cursor.u32("value of '\(key)'")))
        case .bool: return .bool(try cursor.u8("value of '\(key)'") != 0)
        case .string: return .string(try cursor.string("value of '\(key)'"))
        case .uint64: return .uint64(try cursor.u64("value of '\(key)'"))
        case .int64: return .int64(try cursor.read(Int64.self, "value of '\(key)'"))
        case .float64: return .float64(Double(bitPattern: try cursor.u64("value of '\(key)'")))
        case .array:
            let typeOffset = cursor.offset
            let code = try cursor.u32("element type of '\(key)'")
            guard let element = GGUFValueType(rawValue: code) else {
                throw GGUFError.unknownValueType(path: path, key: key, offset: typeOffset, code: code)
            }
            if element == .array && depth + 1 >= GGUFParser.maximumArrayNesting {
                throw GGUFError.nestingTooDeep(path: path, key: key, offset: typeOffset)
            }
            let count = try cursor.count("element count of '\(key)'", minimumItemBytes: element.minimumByteCount)
            var values: [GGUFValue] = []
            values.reserveCapacity(count)
            for _ in 0..<count { values.append(try value(of: element, key: key, depth: depth + 1)) }
            return .array(element, values)
        }
    }

    /// `general.alignment` when present: a UINT32 that is a non-zero power of two (as ggml and the
    /// `gguf` package require); 32 otherwise.
    static func alignment(in metadata: [String: GGUFValue], path: String) throws -> Int {
        guard let value = metadata["general.alignment"] else { return defaultAlignment }
        guard case let .uint32(alignment) = value else {
            throw GGUFError.invalidAlignment(path: path, detail: "is \(value.typeName), expected UINT32")
        }
        guard alignment != 0, alignment & (alignment - 1) == 0 else {
            throw GGUFError.invalidAlignment(path: path, detail: "is \(alignment), not a non-zero power of two")
        }
        return Int(alignment)
    }

    // MARK: - Tensor table

    static func tensorInfo(name: String, dimensions: [UInt64], code: UInt32, offset: UInt64, alignment: Int,
                           dataByteCount: Int, path: String) throws -> GGUFTensorInfo {
        guard let type = GGUFTensorType(rawValue: code) else {
            throw GGUFError.unknownTensorType(path: path, tensor: name, code: code)
        }
        func invalid(_ reason: String) -> GGUFError {
            .invalidDimensions(path: path, tensor: name, dimensions: dimensions, reason: reason)
        }
        var elements = 1
        for d in dimensions {
            guard d <= UInt64(Int.max) else { throw invalid("has a dimension larger than \(Int.max)") }
            let (product, overflow) = elements.multipliedReportingOverflow(by: Int(d))
            guard !overflow else { throw invalid("hold more elements than an Int can count") }
            elements = product
        }
        let intDimensions = dimensions.map { Int($0) }
        let rowLength = intDimensions.first ?? 1
        guard rowLength % type.blockSize == 0 else {
            throw invalid("start with \(rowLength), not a multiple of \(type)'s block of \(type.blockSize)")
        }
        let (byteCount, overflow) = (elements / type.blockSize).multipliedReportingOverflow(by: type.typeSize)
        guard !overflow else { throw invalid("need more bytes than an Int can count") }
        guard offset % UInt64(alignment) == 0 else {
            throw GGUFError.misalignedTensor(path: path, tensor: name, offset: offset, alignment: alignment)
        }
        guard offset <= UInt64(dataByteCount), byteCount <= dataByteCount - Int(offset) else {
            throw GGUFError.tensorOutOfBounds(path: path, tensor: name, offset: offset, byteCount: byteCount,
                                              dataByteCount: dataByteCount)
        }
        return GGUFTensorInfo(name: name, dimensions: intDimensions, type: type, offset: Int(offset),
                              byteCount: byteCount, elementCount: elements)
    }

    static func checkOverlaps(_ tensors: [GGUFTensorInfo], path: String) throws {
        let sorted = tensors.filter { $0.byteCount > 0 }.sorted { $0.offset < $1.offset }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.offset + a.byteCount > b.offset {
            throw GGUFError.overlappingTensors(path: path, first: a.name, second: b.name)
        }
    }
}

// MARK: - GGUFCursor

/// Reads little-endian fields from the mapped bytes, checking every length against what is left
/// before it touches memory, and naming the field and offset when the file ends early.
struct GGUFCursor {
    let bytes: UnsafeRawBufferPointer
    let path: String
    /// Offset of the next byte to read, from the start of the file.
    private(set) var offset = 0

    init(bytes: UnsafeRawBufferPointer, path: String) {
        self.bytes = bytes
        self.path = path
    }

    /// Bytes from `offset` to the end of the file.
    var remaining: Int { bytes.count - offset }

    /// Checks that `count` bytes of `field` are there, then returns their start offset and moves past them.
    mutating func take(_ count: Int, _ field: @autoclosure () -> String) throws -> Int {
        guard count >= 0, count <= remaining else {
            throw GGUFError.truncated(path: path, field: field(), offset: offset, needed: count, fileSize: bytes.count)
        }
        defer { offset += count }
        return offset
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ field: @autoclosure () -> String) throws -> T {
        let at = try take(MemoryLayout<T>.size, field())
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: T.self))
    }

    mutating func u8(_ field: @autoclosure () -> String) throws -> UInt8 { try read(UInt8.self, field()) }
    mutating func u32(_ field: @autoclosure () -> String) throws -> UInt32 { try read(UInt32.self, field()) }
    mutating func u64(_ field: @autoclosure () -> String) throws -> UInt64 { try read(UInt64.self, field()) }

    /// A GGUF string: a UINT64 byte length, then that many bytes of UTF-8 (no terminator).
    mutating func string(_ field: @autoclosure () -> String) throws -> String {
        let start = offset
        let length = try u64("length of \(field())")
        guard length <= UInt64(remaining) else {
            throw GGUFError.truncated(path: path, field: field(), offset: offset,
                                      needed: Int(clamping: length), fileSize: bytes.count)
        }
        let at = try take(Int(length), field())
        let slice = UnsafeRawBufferPointer(rebasing: bytes[at..<(at + Int(length))])
        guard let text = String(validating: slice, as: UTF8.self) else {
            throw GGUFError.invalidString(path: path, field: field(), offset: start)
        }
        return text
    }

    /// A count that the rest of the file must be able to hold, at `minimumItemBytes` bytes per item;
    /// checked before anything is allocated for it, so that an absurd count is an error, not an
    /// attempt to reserve petabytes.
    mutating func count(_ field: String, minimumItemBytes: Int) throws -> Int {
        let at = offset
        let value = try u64(field)
        let limit = remaining / max(1, minimumItemBytes)
        guard value <= UInt64(limit) else {
            throw GGUFError.countTooLarge(path: path, field: field, offset: at, count: value, limit: limit)
        }
        return Int(value)
    }

    /// Moves to `target` (a later offset, possibly past the end: the data section of a file
    /// without tensors may start after its last byte).
    mutating func seek(to target: Int) {
        precondition(target >= offset, "GGUFCursor only moves forward")
        offset = target
    }
}
