import Tensor

// The loader's and the split's shuffles are written out here rather than taken from
// `Array.shuffle(using:)` / `Int.random(in:using:)`, whose algorithms the standard library may
// change: a saved `LoaderPosition` or split must mean the same items in a later build.
extension RandomGenerator {
    /// Uniform in `0 ..< bound` without modulo bias (Lemire, "Fast random integer generation in
    /// an interval", 2019).
    mutating func uniform(below bound: UInt64) -> UInt64 {
        precondition(bound > 0)
        var product = next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold { product = next().multipliedFullWidth(by: bound) }
        }
        return product.high
    }

    /// Fisher–Yates: every permutation of `values` equally likely.
    mutating func shuffle(_ values: inout [Int]) {
        guard values.count > 1 else { return }
        for i in stride(from: values.count - 1, through: 1, by: -1) {
            values.swapAt(i, Int(uniform(below: UInt64(i + 1))))
        }
    }
}
