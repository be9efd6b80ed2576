import CParallel

/// The thread count of the one pool (OpenMP's) shared by oneDNN and Swift's loops.
public enum Threads {
    /// Threads used by kernels; follows the machine's cores unless set.
    public static var count: Int { Int(lk_threads()) }
    /// Sets the number of kernel threads (OpenMP's `omp_set_num_threads`).
    public static func set(_ n: Int) { lk_set_threads(Int32(max(1, n))) }
}

private final class ChunkBody {
    let body: (Int, Int) -> Void
    init(_ body: @escaping (Int, Int) -> Void) { self.body = body }
}

/// Runs `body(begin, end)` over contiguous chunks of `0..<count`, in parallel on the OpenMP pool
/// (public so that optimizers and data code share the one pool)
/// when there is at least `grain` work per chunk.
@inline(__always)
public func parallelFor(_ count: Int, grain: Int = 32_768, _ body: (Int, Int) -> Void) {
    if count <= 0 { return }
    if count <= grain || Threads.count == 1 { body(0, count); return }
    withoutActuallyEscaping(body) { escapable in
        let box = ChunkBody(escapable)
        withExtendedLifetime(box) {
            lk_parallel_for(Int64(count), Int64(grain), Unmanaged.passUnretained(box).toOpaque()) { ctx, b, e in
                Unmanaged<ChunkBody>.fromOpaque(ctx!).takeUnretainedValue().body(Int(b), Int(e))
            }
        }
    }
}
