import CDNNL

/// Tensors in the layouts oneDNN primitives choose.
extension DNNL {
    /// Uninitialised storage for `shape` in layout `md`: a plain tensor when `md` is plain
    /// row-major, otherwise a blocked one (its buffer includes the layout's padding).
    static func empty(_ shape: [Int], _ md: dnnl_memory_desc_t) -> Tensor {
        if isPlain(md, shape: shape) { return Tensor(uninitialized: shape) }
        let format = BlockedFormat(md, logicalCount: shape.reduce(1, *))
        return Tensor(shape: shape, storage: TensorStorage(byteCount: format.byteCount, dtype: .float32),
                      format: format)
    }

    /// An execution argument for `Primitive.execute`: the tensor's descriptor and data pointer.
    static func execArg(_ id: Int32, _ t: Tensor) -> (Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer) {
        let (md, ptr) = arg(t)
        return (id, md, ptr)
    }

    /// The layout descriptor of `t` (plain row-major when `t` is plain).
    static func desc(of t: Tensor) -> dnnl_memory_desc_t { t.format?.desc ?? plainDesc(t.shape) }

    /// A cache-key fragment naming the layout of `t`.
    static func layoutKey(_ t: Tensor) -> String { t.format?.key ?? "plain" }
}
