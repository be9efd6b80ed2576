import Tensor

/// Standardises each channel: `(x − mean[c]) / std[c]` (torchvision's `Normalize`). The
/// defaults are ImageNet's statistics, which pretrained torchvision/timm ResNets expect.
public struct Normalize: ImageTransform {
    public static let imageNetMean: [Float] = [0.485, 0.456, 0.406]
    public static let imageNetStd: [Float] = [0.229, 0.224, 0.225]

    public var mean: [Float]
    public var std: [Float]

    public init(mean: [Float] = Normalize.imageNetMean, std: [Float] = Normalize.imageNetStd) {
        precondition(mean.count == std.count && !mean.isEmpty, "Normalize: \(mean.count) means for \(std.count) deviations")
        precondition(std.allSatisfy { $0 > 0 }, "Normalize: deviations must be positive, got \(std)")
        self.mean = mean
        self.std = std
    }

    public func apply(_ image: Image, generator: inout RandomGenerator) throws -> Image {
        guard image.channels == mean.count else {
            throw ImageTransformError.unsupportedChannels(transform: "Normalize", channels: image.channels, supported: [mean.count])
        }
        var out = image.pixels
        let n = image.planeSize
        for c in 0..<image.channels {
            let m = mean[c], inverse = 1 / std[c]
            for i in (c * n)..<((c + 1) * n) { out[i] = (out[i] - m) * inverse }
        }
        return Image(height: image.height, width: image.width, channels: image.channels, pixels: out)
    }
}

/// Converts the channels (RGB, gray) as `Image.converted(to:)` does; datasets decode to RGB
/// already, so this matters for gray models or inside custom pipelines.
public struct ConvertColor: ImageTransform {
    public var mode: ColorMode
    public init(_ mode: ColorMode) { self.mode = mode }
    public func apply(_ image: Image, generator: inout RandomGenerator) throws -> Image { image.converted(to: mode) }
}
