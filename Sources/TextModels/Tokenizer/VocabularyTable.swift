/// Token → id lookup keyed by UTF-8 bytes.
///
/// Not a `Dictionary<String, Int>`: Swift compares strings by canonical equivalence, so `é`
/// (U+00E9) and `e` + U+0301 would be one key, while Hugging Face's vocabularies compare bytes
/// and may hold both. Byte keys also let WordPiece look up a piece of a word, with or without
/// the `##` prefix, without building a `String` for it.
///
/// Open addressing with linear probing over FNV-1a hashes; the table is at most half full.
struct VocabularyTable: Sendable {
    private var bytes: [UInt8] = []
    /// Entry `i`'s bytes are `bytes[starts[i]..<starts[i + 1]]`.
    private var starts: [Int] = [0]
    private var ids: [Int] = []
    private var slots: [Int32]
    private var mask: Int
    /// The most Unicode scalars in any entry.
    private(set) var longestEntry = 0

    /// An empty table with room for `capacity` entries.
    init(capacity: Int) {
        var size = 16
        while size < 2 * capacity { size *= 2 }
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
    }

    /// The number of distinct entries.
    var count: Int { ids.count }

    /// Adds `token` with `id`; a token already present takes the new id (the last line of a
    /// `vocab.txt` wins, as in Hugging Face's `load_vocab`).
    mutating func insert(_ token: String, id: Int) {
        let utf8 = Array(token.utf8)
        let found = utf8.withUnsafeBufferPointer { lookup(prefix: UnsafeBufferPointer(start: nil, count: 0), key: $0) }
        if let found {
            ids[found.entry] = id
            return
        }
        if 2 * (ids.count + 1) > slots.count { grow() }
        let entry = ids.count
        bytes += utf8
        starts.append(bytes.count)
        ids.append(id)
        longestEntry = max(longestEntry, token.unicodeScalars.count)
        place(entry)
    }

    /// The id of the token whose UTF-8 is `prefix` followed by `key`.
    @inline(__always)
    func id(prefix: UnsafeBufferPointer<UInt8>, key: UnsafeBufferPointer<UInt8>) -> Int? {
        lookup(prefix: prefix, key: key).map { ids[$0.entry] }
    }

    /// The id of `token`.
    func id(of token: String) -> Int? {
        var token = token
        return token.withUTF8 { id(prefix: UnsafeBufferPointer(start: nil, count: 0), key: $0) }
    }

    /// All entries as (token, id).
    var entries: [(token: String, id: Int)] {
        (0..<ids.count).map { (String(decoding: bytes[starts[$0]..<starts[$0 + 1]], as: UTF8.self), ids[$0]) }
    }

    @inline(__always)
    private static func hash(_ prefix: UnsafeBufferPointer<UInt8>, _ key: UnsafeBufferPointer<UInt8>) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in prefix { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        for byte in key { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return Int(truncatingIfNeeded: hash ^ (hash >> 29))
    }

    @inline(__always)
    private func lookup(prefix: UnsafeBufferPointer<UInt8>, key: UnsafeBufferPointer<UInt8>) -> (entry: Int, slot: Int)? {
        let length = prefix.count + key.count
        var slot = Self.hash(prefix, key) & mask
        return bytes.withUnsafeBufferPointer { stored in
            while true {
                let entry = Int(slots[slot])
                if entry < 0 { return nil }
                let start = starts[entry]
                if starts[entry + 1] - start == length
                    && Self.equal(stored, start, prefix)
                    && Self.equal(stored, start + prefix.count, key) {
                    return (entry, slot)
                }
                slot = (slot + 1) & mask
            }
        }
    }

    @inline(__always)
    private static func equal(_ stored: UnsafeBufferPointer<UInt8>, _ start: Int, _ part: UnsafeBufferPointer<UInt8>) -> Bool {
        var index = 0
        while index < part.count {
            if stored[start + index] != part[index] { return false }
            index += 1
        }
        return true
    }

    private mutating func place(_ entry: Int) {
        let hash = bytes.withUnsafeBufferPointer { stored in
            Self.hash(UnsafeBufferPointer(start: nil, count: 0),
                      UnsafeBufferPointer(rebasing: stored[starts[entry]..<starts[entry + 1]]))
        }
        var slot = hash & mask
        while slots[slot] >= 0 { slot = (slot + 1) & mask }
        slots[slot] = Int32(entry)
    }

    private mutating func grow() {
        slots = [Int32](repeating: -1, count: slots.count * 2)
        mask = slots.count - 1
        for entry in 0..<ids.count { place(entry) }
    }
}
