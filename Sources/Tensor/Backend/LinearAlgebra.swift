import CLAPACK

/// Matrix factorisations from LAPACK (no gradient): used where a method needs them, such as
/// PiSSA's initialisation from the base weight's singular vectors.
extension Tensor {
    /// The thin singular value decomposition of a 2-D tensor, `self = U · diag(S) · Vh`, with
    /// singular values in descending order. Shapes: U [m, k], S [k], Vh [k, n], k = min(m, n).
    /// - Throws: `TensorError.invalidShape` for an empty matrix, `TensorError.backend` when
    ///   LAPACK's divide-and-conquer SVD does not converge.
    public func svd() throws -> (u: Tensor, s: Tensor, vh: Tensor) {
        precondition(rank == 2, "svd needs a 2-D tensor, got \(shape)")
        let m = shape[0], n = shape[1], k = Swift.min(m, n)
        guard k >= 1, m <= Int(Int32.max), n <= Int(Int32.max) else {
            throw TensorError.invalidShape(operation: "svd", shape: shape,
                                           reason: "LAPACK needs a non-empty matrix with dimensions below 2³¹")
        }
        // LAPACK overwrites its input: work on a copy, in F32 (it reads the storage as floats).
        let a = dtype == .float32 ? copy() : toFloat32()
        let u = Tensor(uninitialized: [m, k]), s = Tensor(uninitialized: [k]), vh = Tensor(uninitialized: [k, n])
        let info = LAPACKE_sgesdd(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "S")), Int32(m), Int32(n),
                                  a.storage.floats, Int32(n), s.storage.floats,
                                  u.storage.floats, Int32(k), vh.storage.floats, Int32(n))
        guard info == 0 else { throw TensorError.backend(operation: "svd \(shape)", status: "sgesdd info \(info)") }
        return (u, s, vh)
    }
}
