import Foundation

/// Reference-counted, 64-byte-aligned memory behind one or more tensors.
///
/// Storage is allocated through `BufferPool`, which keeps freed buffers by size so that a training
/// step, which allocates the same sizes every time, does not page-fault. Storage can also wrap
/// memory owned by someone else (a memory-mapped file), kept alive by `owner`.
public final class TensorStorage: @unchecked Sendable {
    public let dtype: DType
    /// Size in bytes of the buffer (for a blocked layout this includes padding).
    public let byteCount: Int
    @usableFromInline let base: UnsafeMutableRawPointer
    private let pooled: Bool
    private let owner: AnyObject?

    /// Allocates uninitialised storage from the pool.
    init(byteCount: Int, dtype: DType) {
        self.dtype = dtype
        self.byteCount = byteCount
        self.base = BufferPool.shared.allocate(byteCount: byteCount)
        self.pooled = true
        self.owner = nil
    }

    /// Wraps memory owned by `owner` (for example a memory-mapped safetensors file). The memory must
    /// stay valid and writable (copy-on-write mappings are fine) while `owner` lives.
    public init(wrapping pointer: UnsafeMutableRawPointer, byteCount: Int, dtype: DType, owner: AnyObject) {
        self.dtype = dtype
        self.byteCount = byteCount
        self.base = pointer
        self.pooled = false
        self.owner = owner
    }

    /// Counts in-place writes through the public API (`Tensor.withUnsafeMutableFloats`, which
    /// optimizers use), so that data derived from the contents and kept here can tell it is stale.
    private(set) var version: UInt64 = 0
    /// Data derived from this storage's contents (a frozen weight pre-packed for oneDNN's GEMM),
    /// by purpose, with the `version` it was derived from. It lives and dies with the storage.
    private var derived: [String: (version: UInt64, value: AnyObject)] = [:]
    private static let derivedLock = NSLock()

    /// Called before every in-place write of the contents.
    func noteMutation() {
        TensorStorage.derivedLock.lock()
        version &+= 1
        derived.removeAll()
        TensorStorage.derivedLock.unlock()
    }

    /// The value derived for `purpose` if it was derived from the current contents and
    /// `isValid` accepts it; otherwise `make()`'s, which replaces it.
    func derivedValue<T: AnyObject>(_ purpose: String, isValid: (T) -> Bool, make: () -> T) -> T {
        TensorStorage.derivedLock.lock()
        if let entry = derived[purpose], entry.version == version, let value = entry.value as? T, isValid(value) {
            TensorStorage.derivedLock.unlock()
            return value
        }
        let v = version
        TensorStorage.derivedLock.unlock()
        let value = make()
        TensorStorage.derivedLock.lock()
        if version == v { derived[purpose] = (v, value) }
        TensorStorage.derivedLock.unlock()
        return value
    }

    deinit {
        if pooled { BufferPool.shared.release(base, byteCount: byteCount) }
    }

    @inlinable var floats: UnsafeMutablePointer<Float> { base.assumingMemoryBound(to: Float.self) }
}

/// A caching allocator: buffers are reused by exact size, so steady-state training allocates
/// nothing from the system. It is process-wide like `malloc` itself; it holds no observable
/// state (a freed buffer's contents are never relied upon) and bounds what it caches.
final class BufferPool: @unchecked Sendable {
    static let shared = BufferPool()

    private var free: [Int: [UnsafeMutableRawPointer]] = [:]
    private var cachedBytes = 0
    /// Bytes held by live tensors, and the most ever held since the last `resetPeak()`.
    private(set) var liveBytes = 0
    private(set) var peakLiveBytes = 0
    private let lock = NSLock()
    /// Beyond this many cached bytes, released buffers go back to the system.
    var limitBytes = 4 << 30

    func allocate(byteCount: Int) -> UnsafeMutableRawPointer {
        let size = max(byteCount, 1)
        lock.lock()
        liveBytes += size
        peakLiveBytes = max(peakLiveBytes, liveBytes)
        if var list = free[size], let p = list.popLast() {
            free[size] = list
            cachedBytes -= size
            lock.unlock()
            return p
        }
        lock.unlock()
        return UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
    }

    func release(_ pointer: UnsafeMutableRawPointer, byteCount: Int) {
        let size = max(byteCount, 1)
        lock.lock()
        liveBytes -= size
        if cachedBytes + size <= limitBytes {
            free[size, default: []].append(pointer)
            cachedBytes += size
            lock.unlock()
        } else {
            lock.unlock()
            pointer.deallocate()
        }
    }

    /// Returns every cached buffer to the system.
    func trim() {
        lock.lock()
        let lists = free
        free = [:]
        cachedBytes = 0
        lock.unlock()
        for (_, list) in lists { for p in list { p.deallocate() } }
    }

    var cachedByteCount: Int { lock.lock(); defer { lock.unlock() }; return cachedBytes }

    var statistics: (live: Int, peak: Int) { lock.lock(); defer { lock.unlock() }; return (liveBytes, peakLiveBytes) }

    func resetPeak() { lock.lock(); peakLiveBytes = liveBytes; lock.unlock() }
}

/// Memory statistics and control of the caching allocator.
public enum MemoryPool {
    /// Bytes held in the cache, ready for reuse.
    public static var cachedBytes: Int { BufferPool.shared.cachedByteCount }
    /// Frees every cached buffer.
    public static func trim() { BufferPool.shared.trim() }
    /// Bytes held by tensors that are alive now (tensor storage only; memory-mapped files excluded).
    public static var liveBytes: Int { BufferPool.shared.statistics.live }
    /// The most bytes tensors held at once since the last `resetPeak()`.
    public static var peakBytes: Int { BufferPool.shared.statistics.peak }
    /// Starts a new peak measurement from the current live bytes.
    public static func resetPeak() { BufferPool.shared.resetPeak() }
}
