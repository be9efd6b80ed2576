/// The BPE model of a byte-level tokenizer: a vocabulary of byte strings and merges by rank.
///
/// A pre-tokenised piece starts as one symbol per byte (the id of that byte's alphabet character);
/// then, repeatedly, the adjacent pair with the best (lowest) merge rank is merged into the token
/// the merge makes, the leftmost pair first among equal ranks — `tokenizers`' `Word::merge_all`,
/// with the same priority queue and the same lazy invalidation of queued pairs, so that the ids
/// are the reference's. O(n log n) in the piece's length.
struct BPEModel: Sendable {
    /// The id of the single-byte token of each byte (-1 where the vocabulary has none).
    let byteIds: [Int32]
    /// (left id, right id) → rank and the id of the merged token.
    let merges: MergeTable
    /// The model's tokens by the bytes they stand for (tokens spelled in the byte alphabet only).
    let vocabulary: [[UInt8]: Int32]
    /// Whether a piece that is itself a token is taken whole, before any merge (`ignore_merges`).
    let ignoreMerges: Bool
    /// Used for a byte without a token when set; otherwise such a byte is dropped (as `tokenizers` does).
    let unknownId: Int32?

    /// Scratch arrays reused from piece to piece.
    struct Workspace {
        var ids: [Int32] = []
        var previous: [Int32] = []
        var next: [Int32] = []
        var alive: [Bool] = []
        var queue: [UInt64] = []
    }

    /// Appends the ids of `piece` (raw bytes) to `output`.
    func encode(_ piece: UnsafeBufferPointer<UInt8>, into output: inout [Int], workspace w: inout Workspace) {
        if piece.isEmpty { return }
        if ignoreMerges, let id = vocabulary[Array(piece)] {
            output.append(Int(id))
            return
        }
        w.ids.removeAll(keepingCapacity: true)
        for byte in piece {
            let id = byteIds[Int(byte)]
            if id >= 0 { w.ids.append(id) } else if let unknownId { w.ids.append(unknownId) }
        }
        let n = w.ids.count
        if n <= 1 {
            if n == 1 { output.append(Int(w.ids[0])) }
            return
        }
        if n == 2 {
            // The commonest case after single bytes: at most one merge.
            if let m = merges.merge(w.ids[0], w.ids[1]) { output.append(Int(m.result)) } else {
                output.append(Int(w.ids[0]))
                output.append(Int(w.ids[1]))
            }
            return
        }
        w.previous.removeAll(keepingCapacity: true)
        w.next.removeAll(keepingCapacity: true)
        w.alive.removeAll(keepingCapacity: true)
        w.queue.removeAll(keepingCapacity: true)
        for i in 0..<n {
            w.previous.append(Int32(i - 1))
            w.next.append(i + 1 < n ? Int32(i + 1) : -1)
            w.alive.append(true)
        }
        for i in 0..<(n - 1) {
            if let m = merges.merge(w.ids[i], w.ids[i + 1]) { push(&w.queue, rank: m.rank, position: Int32(i)) }
        }
        while let top = pop(&w.queue) {
            let position = Int(top & 0xFFFF_FFFF)
            guard w.alive[position], w.next[position] >= 0 else { continue }
            let right = Int(w.next[position])
            // A queued pair may be stale (its symbols merged since): it must still be a merge with this rank.
            guard let m = merges.merge(w.ids[position], w.ids[right]), UInt64(m.rank) == top >> 32 else { continue }
            w.ids[position] = m.result
            w.alive[right] = false
            let after = w.next[right]
            w.next[position] = after
            if after >= 0 { w.previous[Int(after)] = Int32(position) }
            let before = w.previous[position]
            if before >= 0, let left = merges.merge(w.ids[Int(before)], m.result) {
                push(&w.queue, rank: left.rank, position: before)
            }
            if after >= 0, let next = merges.merge(m.result, w.ids[Int(after)]) {
                push(&w.queue, rank: next.rank, position: Int32(position))
            }
        }
        var i = 0
        while i >= 0 {
            output.append(Int(w.ids[i]))
            i = Int(w.next[i])
        }
    }

    // MARK: - A binary min-heap of (rank << 32 | position): best rank first, then leftmost.

    private func push(_ heap: inout [UInt64], rank: Int32, position: Int32) {
        heap.append(UInt64(UInt32(bitPattern: rank)) << 32 | UInt64(UInt32(bitPattern: position)))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if heap[parent] <= heap[child] { break }
            heap.swapAt(parent, child)
            child = parent
        }
    }

    private func pop(_ heap: inout [UInt64]) -> UInt64? {
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        if heap.isEmpty { return top }
        heap[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            if left >= heap.count { break }
            let right = left + 1
            let child = right < heap.count && heap[right] < heap[left] ? right : left
            if heap[parent] <= heap[child] { break }
            heap.swapAt(parent, child)
            parent = child
        }
        return top
    }
}

// MARK: - MergeTable

/// BPE's merges as an open-addressing hash table from a pair of token ids to the merge's rank and
/// result: looked up for every adjacent pair of every piece, it is encoding's innermost step, and a
/// multiplicative hash with linear probing is several times faster there than `Dictionary`'s SipHash.
struct MergeTable: Sendable {
    /// Key and value side by side (key at 2i, value at 2i + 1): one cache line per probe.
    private var slots: [UInt64]
    private let shift: UInt64
    private(set) var count = 0
    private static let empty = UInt64.max

    /// A table for up to `capacity` merges (kept at most three quarters full).
    init(capacity: Int) {
        var size = 16
        while 3 * size < 4 * capacity { size *= 2 }
        slots = [UInt64](repeating: MergeTable.empty, count: 2 * size)
        shift = UInt64(64 - size.trailingZeroBitCount)
    }

    @inline(__always)
    static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    @inline(__always)
    private func slot(_ key: UInt64) -> Int { Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift) }

    /// Sets the merge of `left`, `right` (a later one replaces an earlier one).
    mutating func set(_ left: Int32, _ right: Int32, rank: Int32, result: Int32) {
        let key = MergeTable.key(left, right)
        precondition(key != MergeTable.empty, "token ids must be below 2^32 - 1")
        let mask = slots.count / 2 - 1
        var i = slot(key)
        while slots[2 * i] != MergeTable.empty && slots[2 * i] != key { i = (i + 1) & mask }
        if slots[2 * i] == MergeTable.empty { count += 1 }
        slots[2 * i] = key
        slots[2 * i + 1] = UInt64(UInt32(bitPattern: rank)) << 32 | UInt64(UInt32(bitPattern: result))
        precondition(4 * count <= 3 * (slots.count / 2), "MergeTable filled beyond its capacity")
    }

    /// The rank and result of merging `left` and `right`, or nil when they do not merge.
    @inline(__always)
    func merge(_ left: Int32, _ right: Int32) -> (rank: Int32, result: Int32)? {
        let key = MergeTable.key(left, right)
        let mask = slots.count / 2 - 1
        var i = slot(key)
        return slots.withUnsafeBufferPointer { s in
            while true {
                let found = s[2 * i]
                if found == key {
                    let v = s[2 * i + 1]
                    return (Int32(truncatingIfNeeded: v >> 32), Int32(truncatingIfNeeded: v))
                }
                if found == MergeTable.empty { return nil }
                i = (i + 1) & mask
            }
        }
    }
}
