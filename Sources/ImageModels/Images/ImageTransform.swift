import Tensor

/// A step of an image pipeline: takes an image, returns a new one. Random transforms draw from
/// the generator they are given — a dataset passes its item's `ItemContext.generator`, so an
/// item's augmentation depends only on (seed, epoch, index) and a resumed run sees the same
/// pixels. Deterministic transforms ignore it.
///
/// Transforms are plain single-threaded loops: datasets run them on the loader's reading
/// threads, beside training, where a parallel kernel would compete with it for the cores.
public protocol ImageTransform: Sendable {
    /// The transformed image.
    /// - Throws: `ImageTransformError` when the image does not suit the transform.
    func apply(_ image: Image, generator: inout RandomGenerator) throws -> Image
}

extension ImageTransform {
    /// Applies a transform that draws no random numbers (a fixed generator is passed).
    public func apply(_ image: Image) throws -> Image {
        var generator = RandomGenerator(seed: 0)
        return try apply(image, generator: &generator)
    }
}

/// Transforms applied one after the other (torchvision's `Compose`). Empty: the identity.
///
/// ```swift
/// let train = Compose([RandomResizedCrop(size: 224), RandomHorizontalFlip(), Normalize()])
/// ```
public struct Compose: ImageTransform {
    public var transforms: [any ImageTransform]

    public init(_ transforms: [any ImageTransform] = []) { self.transforms = transforms }

    public func apply(_ image: Image, generator: inout RandomGenerator) throws -> Image {
        var current = image
        for transform in transforms { current = try transform.apply(current, generator: &generator) }
        return current
    }

    /// The usual ImageNet training pipeline: random resized crop to `size`, horizontal flip,
    /// ImageNet normalisation.
    public static func imageNetTraining(size: Int = 224) -> Compose {
        Compose([RandomResizedCrop(size: size), RandomHorizontalFlip(), Normalize()])
    }

    /// The usual ImageNet evaluation pipeline: shorter side to `resize` (default 256/224 of
    /// `size`), centre crop to `size`, ImageNet normalisation.
    public static func imageNetEvaluation(size: Int = 224, resize: Int? = nil) -> Compose {
        Compose([Resize(shorterSide: resize ?? size * 256 / 224), CenterCrop(size: size), Normalize()])
    }
}

/// Draws of the random transforms, written out (rather than `Int.random(in:using:)`) so that an
/// augmentation stays the same across Swift versions, like the loader's shuffle.
enum ImageRandom {
    /// Uniform in [lower, upper).
    static func uniform(_ generator: inout RandomGenerator, _ lower: Float, _ upper: Float) -> Float {
        lower + (upper - lower) * generator.nextUniform()
    }

    /// Uniform integer in `range` (modulo bias below 2⁻⁴⁰ for image-sized ranges).
    static func integer(_ generator: inout RandomGenerator, in range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(generator.next() % UInt64(range.upperBound - range.lowerBound + 1))
    }

    /// True with probability `p`.
    static func chance(_ generator: inout RandomGenerator, _ p: Float) -> Bool { generator.nextUniform() < p }
}
