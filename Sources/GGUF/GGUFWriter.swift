import Foundation
import SafeTensors

/// Writes a GGUF v3 file: metadata (any `GGUFValue`) and tensors (Float32 values, or the bytes of
/// any type, `GGUFQuantizer`'s for instance), each tensor's data aligned to `general.alignment`
/// (32), written to a temporary file and renamed into place (a reader never sees half a file).
/// The file is built in memory: an adapter is small, and a re-quantised 135 M-parameter model is
/// about 100 MB.
///
/// A tensor is given as PyTorch and this codebase lay it out, `[rows, columns]` row-major; GGUF
/// lists dimensions innermost first, so its `ne` is `[columns, rows]` (as gguf-py writes a numpy
/// array).
public struct GGUFWriter {
    public static let alignment = 32

    private var metadata: [(String, GGUFValue)] = []
    private var tensors: [(name: String, shape: [Int], type: GGUFTensorType, data: [UInt8])] = []

    public init() {}

    /// Adds a metadata entry (kept in the order added).
    public mutating func set(_ key: String, _ value: GGUFValue) {
        precondition(!metadata.contains { $0.0 == key }, "GGUFWriter: metadata key \(key) set twice")
        metadata.append((key, value))
    }

    /// Adds a Float32 tensor `[d0, d1, …]` (row-major, outermost first).
    public mutating func add(_ name: String, shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "GGUFWriter: \(name) has \(values.count) values for shape \(shape)")
        let data = values.withUnsafeBufferPointer { Array(UnsafeRawBufferPointer($0)) }     // little-endian, as GGUF
        add(name, shape: shape, type: .f32, data: data)
    }

    /// Adds a tensor `[d0, d1, …]` (row-major, outermost first) of `type`, already encoded.
    public mutating func add(_ name: String, shape: [Int], type: GGUFTensorType, data: [UInt8]) {
        precondition(!tensors.contains { $0.name == name }, "GGUFWriter: tensor \(name) added twice")
        let elements = shape.reduce(1, *)
        precondition(elements % type.blockSize == 0 && elements / type.blockSize * type.typeSize == data.count,
                     "GGUFWriter: \(name) has \(data.count) bytes for \(type) \(shape)")
        tensors.append((name, shape, type, data))
    }

    /// The file's bytes.
    public func bytes() -> [UInt8] {
        var out: [UInt8] = []
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func string(_ s: String) { u64(UInt64(s.utf8.count)); out += Array(s.utf8) }
        func value(_ v: GGUFValue) {
            switch v {
            case let .uint8(x): out.append(x)
            case let .int8(x): out.append(UInt8(bitPattern: x))
            case let .uint16(x): withUnsafeBytes(of: x.littleEndian) { out += $0 }
            case let .int16(x): withUnsafeBytes(of: x.littleEndian) { out += $0 }
            case let .uint32(x): u32(x)
            case let .int32(x): withUnsafeBytes(of: x.littleEndian) { out += $0 }
            case let .float32(x): u32(x.bitPattern)
            case let .bool(x): out.append(x ? 1 : 0)
            case let .string(x): string(x)
            case let .uint64(x): u64(x)
            case let .int64(x): withUnsafeBytes(of: x.littleEndian) { out += $0 }
            case let .float64(x): u64(x.bitPattern)
            case let .array(type, items):
                u32(type.rawValue)
                u64(UInt64(items.count))
                for item in items { value(item) }
            }
        }
        func pad() { while out.count % Self.alignment != 0 { out.append(0) } }
        out += Array("GGUF".utf8)
        u32(3)
        u64(UInt64(tensors.count))
        u64(UInt64(metadata.count))
        for (key, v) in metadata {
            string(key)
            u32(v.type.rawValue)
            value(v)
        }
        var offset = 0
        for t in tensors {
            string(t.name)
            u32(UInt32(t.shape.count))
            for d in t.shape.reversed() { u64(UInt64(d)) }
            u32(t.type.rawValue)
            u64(UInt64(offset))
            offset += t.data.count
            offset = (offset + Self.alignment - 1) / Self.alignment * Self.alignment
        }
        pad()
        for t in tensors {
            out += t.data
            pad()
        }
        return out
    }

    /// Writes the file at `path` atomically.
    public func write(to path: String) throws {
        try AtomicFileWriter.write(contentsOf: bytes(), to: path)
    }
}
