import Tensor
import Training

/// A small seeded image-classification set for demos and tests: each image is noise plus a bright
/// bar whose orientation and position give the class (horizontal top, horizontal bottom, vertical
/// left, vertical right, …). A frozen random network cannot separate the classes; a few adapted
/// layers can, which makes it the smallest honest test of LoRA training.
public struct SyntheticPatterns: Dataset {
    public let count: Int
    public let classCount: Int
    public let size: Int
    public let channels: Int
    public let noise: Float
    public let seed: UInt64

    public init(count: Int, classCount: Int = 4, size: Int = 12, channels: Int = 1, noise: Float = 0.3, seed: UInt64) {
        precondition(classCount >= 2 && classCount <= 8, "SyntheticPatterns has 2 to 8 classes")
        self.count = count
        self.classCount = classCount
        self.size = size
        self.channels = channels
        self.noise = noise
        self.seed = seed
    }

    /// The class of item `index` (balanced, fixed by the index).
    public func label(at index: Int) -> Int { index % classCount }

    public func item(at index: Int, context: inout ItemContext) throws -> (input: Tensor, label: Int) {
        // The image depends on (seed, index) only: the same item every epoch, as a real dataset.
        var rng = RandomGenerator(seed: seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
        let label = label(at: index)
        let n = size
        var pixels = [Float](repeating: 0, count: channels * n * n)
        for i in pixels.indices { pixels[i] = noise * rng.nextNormal() }
        let horizontal = label % 2 == 0
        let band = label / 2                                        // which quarter of the image
        let offset = Int(rng.next() % 2)                            // jitter the bar by a pixel
        let line = (band * n) / max(1, (classCount + 1) / 2) + 1 + offset
        for c in 0..<channels {
            for k in 1..<(n - 1) {
                let (y, x) = horizontal ? (min(line, n - 1), k) : (k, min(line, n - 1))
                pixels[c * n * n + y * n + x] += 1.5
            }
        }
        return (Tensor(pixels, shape: [channels, n, n]), label)
    }
}
