/// Nearest-name suggestions for unknown keys and names.
public enum Suggestion {
    /// The candidate closest to `name` by edit distance (adjacent transpositions count once, so
    /// `rnak` is one edit from `rank`), if it is close enough to be what the user meant: at most
    /// 2 edits, or a third of the name's length for long names. Ties go to the earlier candidate.
    public static func nearest(to name: String, in candidates: [String]) -> String? {
        var best: (candidate: String, distance: Int)?
        for candidate in candidates {
            let d = distance(name.lowercased(), candidate.lowercased())
            if best == nil || d < best!.distance { best = (candidate, d) }
        }
        guard let best, best.distance <= max(2, name.count / 3), best.distance < max(name.count, 1) else { return nil }
        return best.candidate
    }

    /// Optimal-string-alignment distance: insertions, deletions, substitutions and transpositions
    /// of adjacent characters, each costing 1.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty, !b.isEmpty else { return max(a.count, b.count) }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[a.count][b.count]
    }
}
