import Tensor

/// torchvision's grayscale weights for its colour adjustments (`rgb_to_grayscale`), which differ
/// in the fourth digit from Pillow's `convert("L")` weights used by `ColorMode.gray`.
let jitterGrayWeights: (r: Float, g: Float, b: Float) = (0.2989, 0.587, 0.114)

extension Image {
    /// Brightness scaled by `factor`: `clamp(f · x, 0, 1)` (torchvision's `adjust_brightness`).
    public func adjustingBrightness(_ factor: Float) -> Image {
        mapped { min(max(factor * $0, 0), 1) }
    }

    /// Contrast scaled by `factor` about the image's mean gray level m:
    /// `clamp(f · x + (1 − f) · m, 0, 1)`, with m the mean of `0.2989 R + 0.587 G + 0.114 B` over
    /// the whole image (of the single channel for gray images) — torchvision's `adjust_contrast`.
    public func adjustingContrast(_ factor: Float) throws -> Image {
        try requireGrayOrRGB("adjustingContrast")
        let gray = jitterGray()
        let mean = gray.isEmpty ? 0 : gray.reduce(0, +) / Float(gray.count)
        return mapped { min(max(factor * $0 + (1 - factor) * mean, 0), 1) }
    }

    /// Saturation scaled by `factor`: each pixel blended with its own gray level g,
    /// `clamp(f · x + (1 − f) · g, 0, 1)` (torchvision's `adjust_saturation`; gray images are
    /// returned unchanged).
    public func adjustingSaturation(_ factor: Float) throws -> Image {
        try requireGrayOrRGB("adjustingSaturation")
        if channels == 1 { return self }
        let gray = jitterGray()
        let n = planeSize
        var out = pixels
        for c in 0..<3 {
            for i in 0..<n { out[c * n + i] = min(max(factor * pixels[c * n + i] + (1 - factor) * gray[i], 0), 1) }
        }
        return Image(height: height, width: width, channels: channels, pixels: out)
    }

    /// Per-pixel gray level with torchvision's weights.
    func jitterGray() -> [Float] {
        if channels == 1 { return pixels }
        let n = planeSize
        let (wr, wg, wb) = jitterGrayWeights
        return (0..<n).map { wr * pixels[$0] + wg * pixels[n + $0] + wb * pixels[2 * n + $0] }
    }

    func requireGrayOrRGB(_ transform: String) throws {
        guard channels == 1 || channels == 3 else {
            throw ImageTransformError.unsupportedChannels(transform: transform, channels: channels, supported: [1, 3])
        }
    }
}

/// Random brightness, contrast and saturation changes (torchvision's `ColorJitter` without hue).
///
/// A strength `s` draws the factor uniformly from `[max(0, 1 − s), 1 + s]`; 0 disables that
/// adjustment. The enabled adjustments are applied in a random order, as torchvision does.
public struct ColorJitter: ImageTransform {
    public var brightness: Float
    public var contrast: Float
    public var saturation: Float

    public init(brightness: Float = 0, contrast: Float = 0, saturation: Float = 0) {
        precondition(brightness >= 0 && contrast >= 0 && saturation >= 0,
                     "ColorJitter: strengths must be non-negative, got \(brightness), \(contrast), \(saturation)")
        self.brightness = brightness
        self.contrast = contrast
        self.saturation = saturation
    }

    public func apply(_ image: Image, generator: inout RandomGenerator) throws -> Image {
        try image.requireGrayOrRGB("ColorJitter")
        var order = [0, 1, 2]
        for i in stride(from: 2, to: 0, by: -1) {
            order.swapAt(i, ImageRandom.integer(&generator, in: 0...i))
        }
        func factor(_ strength: Float) -> Float? {
            strength > 0 ? ImageRandom.uniform(&generator, max(0, 1 - strength), 1 + strength) : nil
        }
        let factors = [factor(brightness), factor(contrast), factor(saturation)]
        var out = image
        for which in order {
            guard let f = factors[which] else { continue }
            switch which {
            case 0: out = out.adjustingBrightness(f)
            case 1: out = try out.adjustingContrast(f)
            default: out = try out.adjustingSaturation(f)
            }
        }
        return out
    }
}
