import LoRAKit

/// A seeded multi-label image set: noise plus any subset of six bars — near the top, bottom,
/// left and right edges and through the middle, horizontal and vertical. Each bar is present with
/// probability `p`, independently; the label set of an image is the bars it has.
public struct MultiLabelPatterns: Dataset {
    public static let labelNames = ["top", "bottom", "left", "right", "middle_row", "middle_column"]

    public let count: Int
    public let size: Int
    public let probability: Float
    public let seed: UInt64

    public init(count: Int, size: Int = 12, probability: Float = 0.4, seed: UInt64) {
        precondition(size >= 8, "MultiLabelPatterns: size must be at least 8, got \(size)")
        self.count = count
        self.size = size
        self.probability = probability
        self.seed = seed
    }

    /// The labels of item `index` (fixed by the seed and the index).
    public func targets(at index: Int) -> [Float] {
        var rng = RandomGenerator(seed: seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
        return Self.labelNames.map { _ in rng.nextUniform() < probability ? 1 : 0 }
    }

    public func item(at index: Int, context: inout ItemContext) throws -> MultiLabelItem {
        let targets = targets(at: index)
        var rng = RandomGenerator(seed: (seed ^ 0x5DEE_CE66) &+ UInt64(index) &* 0xBF58_476D_1CE4_E5B9)
        let n = size
        var pixels = (0..<(n * n)).map { _ in 0.3 * rng.nextNormal() }
        let lines = [1, n - 2, 1, n - 2, n / 2, n / 2]
        for (j, present) in targets.enumerated() where present > 0 {
            let horizontal = j == 0 || j == 1 || j == 4
            for k in 1..<(n - 1) {
                let (y, x) = horizontal ? (lines[j], k) : (k, lines[j])
                pixels[y * n + x] += 1.5
            }
        }
        return (Tensor(pixels, shape: [1, n, n]), targets)
    }
}
