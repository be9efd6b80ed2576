import Foundation
import Tensor

/// Writing safetensors files, and the format's constants. Reading is `SafeTensorsFile`.
///
/// A file is an 8-byte little-endian header length `N`, `N` bytes of UTF-8 JSON describing each
/// tensor (`dtype`, `shape`, `data_offsets` into the data buffer) plus an optional
/// `__metadata__` map of strings, then the data buffer: each tensor's bytes, row-major,
/// little-endian, with no gaps.
public enum SafeTensors {
    /// The largest header accepted when reading, in bytes (the reference's limit, 100 MB).
    public static let maximumHeaderByteCount = 100_000_000

    /// Writes tensors to a safetensors file, atomically.
    ///
    /// The header lists `__metadata__` first, then the tensors in sorted key order, compact, and
    /// is padded with spaces to a multiple of 8 bytes. Data is laid out by element size, largest
    /// first, then by name (the reference's order), so that every tensor's bytes are aligned for
    /// its type and loading can share them without copying. Tensors in a blocked layout are
    /// written plain; tensors keep their storage type (F16 stays F16).
    ///
    /// The bytes go to a temporary file in the destination's directory, which is synced and
    /// renamed into place: after a failure (full disk, missing or read-only directory) the
    /// destination keeps its previous content, or stays absent, and no temporary file remains.
    ///
    /// - Parameters:
    ///   - tensors: the tensors, keyed by name.
    ///   - metadata: the `__metadata__` map; nil writes none.
    ///   - path: the destination file.
    /// - Throws: `SafeTensorsError.reservedName` for a tensor named `__metadata__`,
    ///   `SafeTensorsError.io` naming `path` and the failing call.
    public static func write(_ tensors: [String: Tensor], metadata: [String: String]? = nil,
                             to path: String) throws {
        if tensors[SafeTensorsHeader.metadataKey] != nil {
            throw SafeTensorsError.reservedName(path: path, name: SafeTensorsHeader.metadataKey)
        }
        let layout = tensors.sorted { a, b in
            let (sa, sb) = (a.value.dtype.byteSize, b.value.dtype.byteSize)
            return sa != sb ? sa > sb : a.key.utf8.lexicographicallyPrecedes(b.key.utf8)
        }
        var offsets: [String: Range<Int>] = [:]
        var end = 0
        for (name, tensor) in layout {
            let size = tensor.count * tensor.dtype.byteSize
            offsets[name] = end ..< end + size
            end += size
        }
        let header = encodeHeader(tensors, offsets: offsets, metadata: metadata)
        var prefix = [UInt8]()
        prefix.reserveCapacity(8 + header.count)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { prefix.append(contentsOf: $0) }
        prefix.append(contentsOf: header)

        try AtomicFileWriter.write(to: path) { file in
            try prefix.withUnsafeBytes { try file.write($0) }
            for (_, tensor) in layout {
                try tensor.withUnsafeBytes { try file.write($0) }
            }
        }
    }

    /// Writes tensors to the safetensors file at a file URL, atomically; see `write(_:metadata:to:)`.
    public static func write(_ tensors: [String: Tensor], metadata: [String: String]? = nil,
                             to url: URL) throws {
        try write(tensors, metadata: metadata, to: url.path)
    }

    /// The header JSON: compact, `__metadata__` first, tensors in sorted key order, padded with
    /// spaces to a multiple of 8 bytes so that the data buffer starts 8-byte aligned.
    static func encodeHeader(_ tensors: [String: Tensor], offsets: [String: Range<Int>],
                             metadata: [String: String]?) -> [UInt8] {
        var json = "{"
        var first = true
        func separator() { if !first { json += "," }; first = false }
        if let metadata {
            separator()
            json += "\"\(SafeTensorsHeader.metadataKey)\":{"
            let keys = metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            json += keys.map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }.joined(separator: ",")
            json += "}"
        }
        for name in tensors.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            let tensor = tensors[name]!, range = offsets[name]!
            separator()
            json += "\(jsonString(name)):{\"dtype\":\"\(tensor.dtype.rawValue)\","
            json += "\"shape\":[\(tensor.shape.map(String.init).joined(separator: ","))],"
            json += "\"data_offsets\":[\(range.lowerBound),\(range.upperBound)]}"
        }
        json += "}"
        var bytes = Array(json.utf8)
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - bytes.count % 8) % 8))
        return bytes
    }

    /// `value` as a JSON string literal.
    static func jsonString(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
