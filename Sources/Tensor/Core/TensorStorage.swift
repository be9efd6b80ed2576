import Foundation

/// Reference-counted, 64-byte-aligned memory behind one or more tensors.
///
/// Storage is allocated through `BufferPool`, which keeps freed memory for reuse so that a training
/// step, which allocates the same sizes every time, does not page-fault. Storage can also wrap
/// memory owned by someone else (a memory-mapped file), kept alive by `owner`.
public final class TensorStorage: @unchecked Sendable {
    public let dtype: DType
    /// Size in bytes of the buffer (for a blocked layout this includes padding).
    public let byteCount: Int
    @usableFromInline let base: UnsafeMutableRawPointer
    private let pooled: Bool
    private let owner: AnyObject?

    /// Allocates uninitialised storage from the pool; stops the program with the byte count when
    /// the system has no memory for it (see `BufferPool.allocate`).
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
        let value = MemoryPool.withLongLivedAllocations(make)
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

/// Memory straight from the system (`posix_memalign`), for the caching allocator's segments and
/// kernels' scratch buffers: a refusal is reported with the byte count and what the memory was
/// for, rather than as Swift's bare "Could not allocate memory" (or a null pointer dereferenced).
enum SystemMemory {
    /// `byteCount` bytes aligned to `alignment` (a power of two, at least a pointer's size), or
    /// nil when the system refuses. Release with `free`.
    static func allocate(byteCount: Int, alignment: Int) -> UnsafeMutableRawPointer? {
        var pointer: UnsafeMutableRawPointer?
        guard posix_memalign(&pointer, alignment, Swift.max(byteCount, 1)) == 0 else { return nil }
        return pointer
    }

    /// `allocate(byteCount:alignment:)`, stopping the program with a message naming the byte
    /// count and `purpose` when the system refuses.
    static func allocateOrStop(byteCount: Int, alignment: Int = 64,
                               purpose: @autoclosure () -> String) -> UnsafeMutableRawPointer {
        precondition(byteCount >= 0, "\(purpose()): invalid allocation of \(byteCount) bytes")
        guard let p = allocate(byteCount: byteCount, alignment: alignment) else {
            fatalError("out of memory: cannot allocate \(describe(byteCount)) for \(purpose())")
        }
        return p
    }

    /// `"N bytes (x.y MiB)"`.
    static func describe(_ byteCount: Int) -> String {
        "\(byteCount) bytes (\(String(format: "%.1f", Double(byteCount) / 1_048_576)) MiB)"
    }
}

/// A caching allocator: freed buffers are kept and reused, so steady-state training allocates
/// nothing from the system. It is process-wide like `malloc` itself; it holds no observable
/// state (a freed buffer's contents are never relied upon) and bounds what it caches.
///
/// Memory comes from the system in *segments*, one per request that nothing cached can serve.
/// A request takes a cached block of exactly its size when there is one (a training step asks for
/// the same sizes every time). Otherwise a request of at least `splitMinimum` bytes takes the
/// smallest larger cached block and leaves the rest of it cached; a freed block merges with its
/// free neighbours in the same segment. So the memory of activations that die early in a step
/// (ResNet's 112×112 stem: two 24.5 MiB buffers at batch 8) serves smaller ones later in the same
/// step instead of sitting idle beside fresh allocations: 104 MiB of ResNet-34's LoRA training
/// footprint (408 MiB of segments for a peak of 304 MiB live) was such idle cache.
/// PyTorch's CUDA caching allocator splits and merges blocks the same way.
///
/// Memory that outlives a step (a frozen weight's packed copy, optimizer moments) is allocated
/// inside `MemoryPool.withLongLivedAllocations`, which gives it a segment of its own: carved out of
/// a cached block, it would pin the middle of a segment that the next step's activations need
/// whole (BERT-base's packed weights did that: +47 MiB peak).
final class BufferPool: @unchecked Sendable {
    static let shared = BufferPool()

    /// A block of a segment: where it starts, its length, and its segment's start.
    private struct Block {
        var size: Int
        var segment: UnsafeMutableRawPointer
    }

    /// Free blocks by exact size, and by start address (for merging with a freed neighbour).
    private var freeBySize: [Int: [UnsafeMutableRawPointer]] = [:]
    private var freeBlocks: [UnsafeMutableRawPointer: Block] = [:]
    /// Start of every free block by its end address.
    private var freeEnds: [UnsafeMutableRawPointer: UnsafeMutableRawPointer] = [:]
    /// Blocks held by live storage.
    private var usedBlocks: [UnsafeMutableRawPointer: Block] = [:]
    /// Segment sizes by start address.
    private var segments: [UnsafeMutableRawPointer: Int] = [:]
    private var cachedBytes = 0
    /// Bytes held by live tensors, and the most ever held since the last `resetPeak()`.
    private(set) var liveBytes = 0
    private(set) var peakLiveBytes = 0
    private let lock = NSLock()
    /// Beyond this many cached bytes, segments that are entirely free go back to the system.
    var limitBytes = 4 << 30
    /// Requests of at least this many bytes may be carved out of a larger cached block.
    static let splitMinimum = 1 << 20
    /// Block sizes are multiples of this (the alignment of every block).
    static let alignment = 64

    private static func blockSize(_ byteCount: Int) -> Int {
        (max(byteCount, 1) + alignment - 1) / alignment * alignment
    }

    /// A block of at least `byteCount` bytes: a cached one, a piece of a larger cached one, or a
    /// new segment from the system. When the system refuses a segment, the cached segments that
    /// no tensor uses go back to it and the request is tried once more; a second refusal stops the
    /// program with a message naming the byte count and what the pool holds.
    func allocate(byteCount: Int) -> UnsafeMutableRawPointer {
        precondition(byteCount >= 0 && byteCount <= Int.max - BufferPool.alignment,
                     "BufferPool: invalid allocation of \(byteCount) bytes")
        let size = BufferPool.blockSize(byteCount)
        lock.lock()
        defer { lock.unlock() }
        liveBytes += size
        peakLiveBytes = max(peakLiveBytes, liveBytes)
        if let p = freeBySize[size]?.last, !BufferPool.longLived || isSegment(p) {
            let block = takeFree(p)
            usedBlocks[p] = block
            return p
        }
        if size >= BufferPool.splitMinimum && !BufferPool.longLived, let larger = smallestFreeSize(above: size), let p = freeBySize[larger]?.last {
            let block = takeFree(p)
            usedBlocks[p] = Block(size: size, segment: block.segment)
            insertFree(p + size, Block(size: block.size - size, segment: block.segment))
            return p
        }
        var fresh = SystemMemory.allocate(byteCount: size, alignment: BufferPool.alignment)
        if fresh == nil {
            releaseFreeSegments()
            fresh = SystemMemory.allocate(byteCount: size, alignment: BufferPool.alignment)
        }
        guard let p = fresh else {
            liveBytes -= size
            fatalError("out of memory: cannot allocate \(SystemMemory.describe(size)) for a tensor "
                       + "(\(SystemMemory.describe(liveBytes)) held by live tensors, "
                       + "\(SystemMemory.describe(cachedBytes)) cached)")
        }
        segments[p] = size
        usedBlocks[p] = Block(size: size, segment: p)
        return p
    }

    func release(_ pointer: UnsafeMutableRawPointer, byteCount: Int) {
        lock.lock()
        defer { lock.unlock() }
        guard var block = usedBlocks.removeValue(forKey: pointer) else {
            preconditionFailure("BufferPool: release of a pointer it did not allocate")
        }
        liveBytes -= block.size
        var start = pointer
        // Merge with the free block after this one, and with the one before, in the same segment.
        if let next = freeBlocks[start + block.size], next.segment == block.segment {
            block.size += takeFree(start + block.size).size
        }
        if let previous = freeEnds[start], freeBlocks[previous]?.segment == block.segment {
            block.size += takeFree(previous).size
            start = previous
        }
        insertFree(start, block)
        if cachedBytes > limitBytes { releaseFreeSegments() }
    }

    /// Whether the free block at `p` is a whole segment.
    private func isSegment(_ p: UnsafeMutableRawPointer) -> Bool {
        segments[p] == freeBlocks[p]?.size
    }

    /// Whether allocations on this thread are to outlive the current step (`withLongLivedAllocations`).
    @TaskLocal static var longLived = false

    /// Removes the free block at `p` from the free lists and returns it.
    private func takeFree(_ p: UnsafeMutableRawPointer) -> Block {
        let block = freeBlocks.removeValue(forKey: p)!
        freeEnds.removeValue(forKey: p + block.size)
        if var list = freeBySize[block.size], let i = list.lastIndex(of: p) {
            list.remove(at: i)
            freeBySize[block.size] = list.isEmpty ? nil : list
        }
        cachedBytes -= block.size
        return block
    }

    private func insertFree(_ p: UnsafeMutableRawPointer, _ block: Block) {
        freeBlocks[p] = block
        freeEnds[p + block.size] = p
        freeBySize[block.size, default: []].append(p)
        cachedBytes += block.size
    }

    /// The smallest size of a cached block larger than `size`, if any.
    private func smallestFreeSize(above size: Int) -> Int? {
        var best: Int?
        for s in freeBySize.keys where s > size && s < (best ?? .max) { best = s }
        return best
    }

    /// Returns every segment that no live storage uses to the system.
    private func releaseFreeSegments() {
        for (base, size) in segments {
            guard let block = freeBlocks[base], block.size == size else { continue }
            _ = takeFree(base)
            segments.removeValue(forKey: base)
            free(base)
        }
    }

    /// Returns every cached segment (one no live storage uses) to the system.
    func trim() {
        lock.lock()
        releaseFreeSegments()
        lock.unlock()
    }

    var cachedByteCount: Int { lock.lock(); defer { lock.unlock() }; return cachedBytes }

    var statistics: (live: Int, peak: Int) { lock.lock(); defer { lock.unlock() }; return (liveBytes, peakLiveBytes) }

    /// Bytes held in segments from the system, live or cached.
    var segmentByteCount: Int { lock.lock(); defer { lock.unlock() }; return segments.values.reduce(0, +) }

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
    /// Runs `body` with its allocations marked as long-lived (kept beyond the current training
    /// step: packed weights, optimizer state). They get memory of their own instead of a piece
    /// of a cached block, so that they do not fragment the memory the steps reuse.
    public static func withLongLivedAllocations<R>(_ body: () throws -> R) rethrows -> R {
        try BufferPool.$longLived.withValue(true, operation: body)
    }

    /// Bytes the pool holds from the system: live tensors, cached blocks, and what splitting
    /// leaves unused between them.
    public static var reservedBytes: Int { BufferPool.shared.segmentByteCount }
}
