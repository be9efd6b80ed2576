import Foundation
import SafeTensors

/// Writes a GGUF v3 file: metadata (any `GGUFValue`) and Float32 tensors, each tensor's data
/// aligned to `general.alignment` (32), written to a temporary file and renamed into place (a
/// reader never sees half a file). What LoRAKit writes in GGUF is small (a LoRA adapter), so the
/// file is built in memory.
///
/// A tensor is given as PyTorch and this codebase lay it out, `[rows, columns]` row-major; GGUF
/// lists dimensions innermost first, so its `ne` is `[columns, rows]` (as gguf-py writes a numpy
/// array).
public struct GGUFWriter {
    public static let alignment = 32

    private var metadata: [(String, GGUFValue)] = []
    private var tensors: [(name: String, shape: [Int], values: [Float])] = []

    public init() {}

    /// Adds a metadata entry (kept in the order added).
    public mutating func set(_ key: String, _ value: GGUFValue) {
        precondition(!metadata.contains { $0.0 == key }, "GGUFWriter: metadata key \(key) set twice")
        metadata.append((key, value))
    }

    /// Adds a Float32 tensor `[d0, d1, …]` (row-major, outermost first).
    public mutating func add(_ name: String, shape: [Int], values: [Float]) {
        precondition(!tensors.contains { $0.name == name }, "GGUFWriter: tensor \(name) added twice")
        precondition(shape.reduce(1, *) == values.count, "GGUFWriter: \(name) has \(values.count) values for shape \(shape)")
        tensors.append((name, shape, values))
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
            u32(0)                                           // GGML_TYPE_F32
            u64(UInt64(offset))
            offset += t.values.count * 4
            offset = (offset + Self.alignment - 1) / Self.alignment * Self.alignment
        }
        pad()
        for t in tensors {
            for v in t.values { u32(v.bitPattern) }
            pad()
        }
        return out
    }

    /// Writes the file at `path` atomically.
    public func write(to path: String) throws {
        try AtomicFileWriter.write(contentsOf: bytes(), to: path)
    }
}
