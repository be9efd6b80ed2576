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
