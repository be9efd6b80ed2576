/// One entry of a GGUF file's tensor table: where a tensor's bytes are and how to read them.
///
/// GGUF lists dimensions innermost first (ggml's `ne0, ne1, …`): a PyTorch weight of shape
/// `[out, in]` is stored with `dimensions == [in, out]`, its rows of `in` contiguous elements.
/// `shape` gives the row-major (PyTorch) order. Quantised types store each row as
/// `rowLength / type.blockSize` blocks of `type.typeSize` bytes.
public struct GGUFTensorInfo: Equatable, Sendable {
    /// The tensor's name in the file (`blk.0.attn_q.weight`).
    public let name: String
    /// Dimensions as GGUF lists them: ne0 (the contiguous one) first.
    public let dimensions: [Int]
    /// The element type.
    public let type: GGUFTensorType
    /// Offset of the first byte from the start of the file's data section (`GGUFFile.dataOffset`).
    public let offset: Int
    /// Bytes the tensor takes.
    public let byteCount: Int
    /// Number of elements (the product of `dimensions`; 1 for a tensor without dimensions).
    public let elementCount: Int

    /// Row-major (PyTorch) shape: `dimensions` reversed.
    public var shape: [Int] { dimensions.reversed() }

    /// Elements of one row: ne0.
    public var rowLength: Int { dimensions.first ?? 1 }

    /// Rows: the product of the dimensions after the first.
    public var rowCount: Int { dimensions.dropFirst().reduce(1, *) }

    /// Bytes of one row.
    public var rowByteCount: Int { rowLength / type.blockSize * type.typeSize }

    /// Blocks of one row.
    public var blocksPerRow: Int { rowLength / type.blockSize }

    init(name: String, dimensions: [Int], type: GGUFTensorType, offset: Int, byteCount: Int,
                elementCount: Int) {
        self.name = name
        self.dimensions = dimensions
        self.type = type
        self.offset = offset
        self.byteCount = byteCount
        self.elementCount = elementCount
    }
}
