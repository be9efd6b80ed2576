import Tensor
import Glibc

extension Image {
    /// The `height × width` region whose top-left sample is (`top`, `left`); the region may reach
    /// outside the image, where samples are `fill` (so padding is a crop with negative offsets).
    public func cropped(top: Int, left: Int, height newHeight: Int, width newWidth: Int, fill: Float = 0) -> Image {
        precondition(newHeight >= 0 && newWidth >= 0, "cropped: negative size \(newHeight)×\(newWidth)")
        var out = [Float](repeating: fill, count: channels * newHeight * newWidth)
        let y0 = max(0, top), y1 = min(height, top + newHeight)
        let x0 = max(0, left), x1 = min(width, left + newWidth)
        guard y0 < y1, x0 < x1 else { return Image(height: newHeight, width: newWidth, channels: channels, pixels: out) }
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for c in 0..<channels {
                    for y in y0..<y1 {
                        let s = src.baseAddress! + (c * height + y) * width
                        let d = dst.baseAddress! + (c * newHeight + (y - top)) * newWidth - left
                        for x in x0..<x1 { d[x] = s[x] }
                    }
                }
            }
        }
        return Image(height: newHeight, width: newWidth, channels: channels, pixels: out)
    }

    /// The image with `fill` borders added (negative amounts crop instead).
    public func padded(top: Int, left: Int, bottom: Int, right: Int, fill: Float = 0) -> Image {
        cropped(top: -top, left: -left, height: height + top + bottom, width: width + left + right, fill: fill)
    }
}

/// Crops the centre `height × width` region (torchvision's `CenterCrop`): the offset is
/// `round((H − h) / 2)`, rounding halves to even as Python does; a side smaller than the crop is
/// first padded with zeros, `⌊(h − H) / 2⌋` before it.
public struct CenterCrop: ImageTransform {
    public var height: Int
    public var width: Int

    public init(height: Int, width: Int) {
        precondition(height > 0 && width > 0, "CenterCrop: size must be positive, got \(height)×\(width)")
        self.height = height
        self.width = width
    }

    public init(size: Int) { self.init(height: size, width: size) }

    public func apply(_ image: Image, generator: inout RandomGenerator) throws -> Image {
        func offset(_ have: Int, _ want: Int) -> Int {
            have >= want ? Int((Double(have - want) / 2).rounded(.toNearestOrEven)) : -((want - have) / 2)
        }
        return image.cropped(top: offset(image.height, height), left: offset(image.width, width), height: height, width: width)
    }
}

/// Crops a `height × width` region at a uniformly random position (torchvision's `RandomCrop`),
/// after optionally padding every side by `padding` and, with `padIfNeeded`, padding a side that
/// is still too small by its shortfall on both ends (as torchvision does).
public struct RandomCrop: ImageTransform {
    public var height: Int
    public var width: Int
    public var padding: Int
    public var padIfNeeded: Bool
    public var fill: Float

    public init(height: Int, width: Int, padding: Int = 0, padIfNeeded: Bool = false, fill: Float = 0) {
        precondition(height > 0 && width > 0 && padding >= 0, "RandomCrop: invalid size \(height)×\(width) or padding \(padding)")
        self.height = height
        self.width = width
        self.padding = padding
        self.padIfNeeded = padIfNeeded
        self.fill = fill
    }

    public init(size: Int, padding: Int = 0, padIfNeeded: Bool = false, fill: Float = 0) {
        self.init(height: size, width: size, padding: padding, padIfNeeded: padIfNeeded, fill: fill)
    }

    public func apply(_ image: Image, generator: inout RandomGenerator) throws -> Image {
        var source = image
        if padding > 0 { source = source.padded(top: padding, left: padding, bottom: padding, right: padding, fill: fill) }
        if padIfNeeded {
            let dy = max(0, height - source.height), dx = max(0, width - source.width)
            if dy > 0 || dx > 0 { source = source.padded(top: dy, left: dx, bottom: dy, right: dx, fill: fill) }
        }
        guard source.height >= height, source.width >= width else {
            throw ImageTransformError.imageTooSmall(transform: "RandomCrop", image: [source.height, source.width],
                                                    required: [height, width])
        }
        let top = ImageRandom.integer(&generator, in: 0...(source.height - height))
        let left = ImageRandom.integer(&generator, in: 0...(source.width - width))
        return source.cropped(top: top, left: left, height: height, width: width)
    }
}

/// Crops a random region and resizes it to `height × width` (torchvision's
/// `RandomResizedCrop`, the standard ImageNet training augmentation): up to ten tries draw an
/// area fraction from `scale` and a log-uniform aspect ratio (width / height) from `ratio`, and
/// take the first region that fits; otherwise the centre crop of the nearest allowed ratio.
public struct RandomResizedCrop: ImageTransform {
    public var height: Int
    public var width: Int
    public var scale: ClosedRange<Float>
    public var ratio: ClosedRange<Float>

    public init(height: Int, width: Int, scale: ClosedRange<Float> = 0.08...1, ratio: ClosedRange<Float> = (3.0 / 4)...(4.0 / 3)) {
        precondition(height > 0 && width > 0, "RandomResizedCrop: size must be positive, got \(height)×\(width)")
        precondition(scale.lowerBound > 0 && ratio.lowerBound > 0, "RandomResizedCrop: scale and ratio must be positive")
        self.height = height
        self.width = width
        self.scale = scale
        self.ratio = ratio
    }

    public init(size: Int, scale: ClosedRange<Float> = 0.08...1, ratio: ClosedRange<Float> = (3.0 / 4)...(4.0 / 3)) {
        self.init(height: size, width: size, scale: scale, ratio: ratio)
    }

    /// The region (top, left, height, width) for an image of `imageHeight × imageWidth`.
    public func region(imageHeight: Int, imageWidth: Int, generator: inout RandomGenerator) -> (top: Int, left: Int, height: Int, width: Int) {
        let area = Float(imageHeight * imageWidth)
        let logRatio = (logf(ratio.lowerBound), logf(ratio.upperBound))
        for _ in 0..<10 {
            let target = area * ImageRandom.uniform(&generator, scale.lowerBound, scale.upperBound)
            let aspect = expf(ImageRandom.uniform(&generator, logRatio.0, logRatio.1))
            let w = Int((target * aspect).squareRoot().rounded(.toNearestOrEven))
            let h = Int((target / aspect).squareRoot().rounded(.toNearestOrEven))
            if w > 0, h > 0, w <= imageWidth, h <= imageHeight {
                let top = ImageRandom.integer(&generator, in: 0...(imageHeight - h))
                let left = ImageRandom.integer(&generator, in: 0...(imageWidth - w))
                return (top, left, h, w)
            }
        }
        let inRatio = Float(imageWidth) / Float(imageHeight)
        var w = imageWidth, h = imageHeight
        if inRatio < ratio.lowerBound {
            h = Int((Float(w) / ratio.lowerBound).rounded(.toNearestOrEven))
        } else if inRatio > ratio.upperBound {
            w = Int((Float(h) * ratio.upperBound).rounded(.toNearestOrEven))
        }
        return ((imageHeight - h) / 2, (imageWidth - w) / 2, h, w)
    }

    public func apply(_ image: Image, generator: inout RandomGenerator) throws -> Image {
        let r = region(imageHeight: image.height, imageWidth: image.width, generator: &generator)
        return image.cropped(top: r.top, left: r.left, height: r.height, width: r.width).resized(height: height, width: width)
    }
}
