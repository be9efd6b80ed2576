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
