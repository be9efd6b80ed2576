import Foundation
import SafeTensors
import Tensor

/// A GGUF file (versions 2 and 3, little-endian), memory-mapped: its metadata, its tensor table,
/// and its tensors' bytes, read in place.
///
/// Opening a file reads and checks the header, every metadata entry and the whole tensor table
/// (see `GGUFParser`); tensor data is not touched until asked for. A malformed file is a
/// `GGUFError` naming the file and the field or offset, never a crash or a read past the end.
///
///     let gguf = try GGUFFile(path: "SmolLM2-135M-Instruct.Q4_1.gguf")
///     let layers = try gguf.int("llama.block_count")              // 30
///     let norm = try gguf.tensor(named: "output_norm.weight")      // F32 [576]
///     let q = try gguf.rawData(named: "blk.0.attn_q.weight")       // Q4_1 blocks, in place
///
/// The mapping lives as long as this object: buffers from `rawData(named:)` are valid while the
/// `GGUFFile` is alive (keep a reference next to them). Tensors from `tensor(named:)` are copies.
public final class GGUFFile: @unchecked Sendable {
    /// The path the file was opened from (used in every error).
    public let path: String
    /// The format version (2 or 3).
    public let version: UInt32
    /// Every metadata entry, by key.
    public let metadata: [String: GGUFValue]
    /// The metadata keys in file order.
    public let metadataKeys: [String]
    /// The tensor table in file order.
    public let tensors: [GGUFTensorInfo]
    /// The alignment of the data section and of every tensor in it (`general.alignment`, default 32).
    public let alignment: Int
    /// Offset of the data section from the start of the file.
    public let dataOffset: Int

    let mapping: MemoryMappedFile
    private let index: [String: Int]

    /// Opens, maps and checks a GGUF file.
    /// - Throws: `GGUFError` naming the file and what is wrong in it (`.io` when it cannot be opened).
    public init(path: String) throws {
        do {
            mapping = try MemoryMappedFile(path: path)
        } catch let SafeTensorsError.io(_, operation, code) {
            throw GGUFError.io(path: path, operation: operation, errno: code)
        }
        var parser = GGUFParser(bytes: mapping.bytes, path: path)
        let result = try parser.parse()
        self.path = path
        version = result.version
        metadata = result.metadata
        metadataKeys = result.metadataKeys
        tensors = result.tensors
        alignment = result.alignment
        dataOffset = result.dataOffset
        index = Dictionary(uniqueKeysWithValues: result.tensors.enumerated().map { ($1.name, $0) })
    }

    /// Opens the file at `url` (see `init(path:)`).
    public convenience init(url: URL) throws {
        try self.init(path: url.path)
    }

    // MARK: - Tensors

    /// The table entry of tensor `name`.
    /// - Throws: `GGUFError.tensorNotFound`.
    public func tensorInfo(named name: String) throws -> GGUFTensorInfo {
        guard let i = index[name] else { throw GGUFError.tensorNotFound(path: path, name: name) }
        return tensors[i]
    }

    /// Whether the file has a tensor called `name`.
    public func contains(tensor name: String) -> Bool { index[name] != nil }

    /// The stored bytes of tensor `name`, in place (no copy): `info.byteCount` bytes of
    /// `info.type` blocks, rows of `info.rowByteCount` bytes. Valid while this `GGUFFile` is
    /// alive. Use `GGUFDequantize` to turn blocks into floats when they are needed.
    /// - Throws: `GGUFError.tensorNotFound`.
    public func rawData(named name: String) throws -> UnsafeRawBufferPointer {
        rawData(of: try tensorInfo(named: name))
    }

    /// The bytes of a tensor from this file's table (its offsets were checked when the file was opened).
    func rawData(of info: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        let start = dataOffset + info.offset
        precondition(start >= 0 && info.byteCount <= mapping.byteCount - start,
                     "tensor '\(info.name)' lies outside \(path)")
        guard info.byteCount > 0, let base = mapping.base else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + start, count: info.byteCount)
    }

    /// Tensor `name` dequantised to F32, in row-major `shape` (GGUF's dimensions reversed): a copy,
    /// dequantised in parallel, exactly as ggml and the `gguf` Python package dequantise it.
    /// - Throws: `GGUFError.tensorNotFound`, or `.unsupportedTensorType` for a type other than
    ///   F32, F16, BF16, Q8_0, Q4_0 and Q4_1.
    public func tensor(named name: String) throws -> Tensor {
        let info = try tensorInfo(named: name)
        try checkDequantizable(info)
        // Uninitialised: every element is written below (`Tensor.zeros` would fill it first).
        let tensor = Tensor(uninitialized: info.shape)
        let source = rawData(of: info)
        let blocks = info.elementCount / info.type.blockSize
        tensor.withUnsafeMutableFloats { out in
            guard let base = out.baseAddress else { return }
            // Dequantising is memory-bound and runs at gigafloats a second on one core, so only
            // large tensors are split (chunks of at least 1M floats): waking the thread pool after
            // it has gone idle costs up to ~10 ms on a small VM, more than a layer's dequantisation.
            parallelFor(blocks, grain: max(1, (1 << 20) / info.type.blockSize)) { begin, end in
                GGUFDequantize.dequantize(info.type, blocks: source, range: begin..<end,
                                          into: base + begin * info.type.blockSize)
            }
        }
        return tensor
    }

    /// Dequantises rows `rows` of tensor `name` (rows of `rowLength` elements: an embedding's
    /// token rows, a weight's output rows) into `destination`, which must hold
    /// `rows.count × rowLength` floats.
    /// - Throws: `GGUFError.tensorNotFound`, `.unsupportedTensorType`.
    /// - Precondition: `rows` lies within `0..<rowCount` and `destination` is large enough.
    public func dequantizeRows(named name: String, rows: Range<Int>,
                               into destination: UnsafeMutableBufferPointer<Float>) throws {
        let info = try tensorInfo(named: name)
        try checkDequantizable(info)
        precondition(rows.lowerBound >= 0 && rows.upperBound <= info.rowCount,
                     "rows \(rows) of '\(name)' outside 0..<\(info.rowCount)")
        precondition(destination.count >= rows.count * info.rowLength,
                     "destination holds \(destination.count) floats, rows \(rows) of '\(name)' need \(rows.count * info.rowLength)")
        guard !rows.isEmpty, info.rowLength > 0, let out = destination.baseAddress else { return }
        let perRow = info.blocksPerRow
        GGUFDequantize.dequantize(info.type, blocks: rawData(of: info),
                                  range: (rows.lowerBound * perRow)..<(rows.upperBound * perRow), into: out)
    }

    /// Throws `GGUFError.unsupportedTensorType` unless `GGUFDequantize` can read the tensor's type.
    public func checkDequantizable(_ info: GGUFTensorInfo) throws {
        guard info.type.isDequantizable else {
            throw GGUFError.unsupportedTensorType(path: path, tensor: info.name, type: info.type)
        }
    }
}
