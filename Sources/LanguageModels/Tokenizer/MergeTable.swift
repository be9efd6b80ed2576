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
