import Tensor

/// A decoded image: `channels` planes of `height × width` samples, stored planar (channel-major,
/// `[C, H, W]`, the layout of the tensors models take), as `Float`.
///
/// Decoders return samples in [0, 1] (an 8-bit value v becomes v / 255, a 16-bit one v / 65535);
/// transforms such as `Normalize` may leave that range. Channel meaning follows the count: 1 gray,
/// 2 gray + alpha, 3 RGB, 4 RGBA (alpha last). `converted(to:)` makes RGB or gray the way Pillow's
/// `convert` does, which is what torchvision's `ImageFolder` loader does with every file.
///
/// Floats rather than bytes: every transform after decoding (resize, jitter, normalise) works in
/// floating point anyway, 16-bit PNGs keep their precision, and `tensor()` is a plain copy.
public struct Image: Equatable, Sendable {
    public let height: Int
    public let width: Int
    public let channels: Int
    /// Samples in `[C, H, W]` order: sample (c, y, x) is at `(c · height + y) · width + x`.
    public var pixels: [Float]

    /// An image from planar samples. The count must be `channels · height · width`.
    public init(height: Int, width: Int, channels: Int, pixels: [Float]) {
        precondition(height >= 0 && width >= 0 && channels >= 1,
                     "Image: invalid size \(channels)×\(height)×\(width)")
        precondition(pixels.count == channels * height * width,
                     "Image: \(pixels.count) samples for shape [\(channels), \(height), \(width)]")
        self.height = height
        self.width = width
        self.channels = channels
        self.pixels = pixels
    }

    /// An image with every sample equal to `value`.
    public init(height: Int, width: Int, channels: Int, repeating value: Float = 0) {
        self.init(height: height, width: width, channels: channels,
                  pixels: [Float](repeating: value, count: max(0, channels * height * width)))
    }

    /// An image from interleaved samples (`[H, W, C]`, how files and Pillow store pixels).
    public init(height: Int, width: Int, channels: Int, interleaved: [Float]) {
        precondition(interleaved.count == channels * height * width,
                     "Image: \(interleaved.count) samples for \(height)×\(width)×\(channels)")
        var planar = [Float](repeating: 0, count: interleaved.count)
        let plane = height * width
        for p in 0..<plane {
            for c in 0..<channels { planar[c * plane + p] = interleaved[p * channels + c] }
        }
        self.init(height: height, width: width, channels: channels, pixels: planar)
    }

    /// An image from a float tensor of shape `[C, H, W]`.
    public init(tensor: Tensor) {
        precondition(tensor.rank == 3, "Image(tensor:): expected shape [C, H, W], got \(tensor.shape)")
        self.init(height: tensor.shape[1], width: tensor.shape[2], channels: tensor.shape[0], pixels: tensor.scalars)
    }

    /// The samples as a tensor of shape `[C, H, W]` (torchvision's `ToTensor` layout; the values
    /// are already in [0, 1] after decoding).
    public func tensor() -> Tensor { Tensor(pixels, shape: [channels, height, width]) }

    /// The samples in interleaved `[H, W, C]` order.
    public var interleaved: [Float] {
        var out = [Float](repeating: 0, count: pixels.count)
        let plane = height * width
        for p in 0..<plane {
            for c in 0..<channels { out[p * channels + c] = pixels[c * plane + p] }
        }
        return out
    }

    /// Samples per channel plane.
    public var planeSize: Int { height * width }

    /// Sample (channel, y, x).
    public subscript(channel: Int, y: Int, x: Int) -> Float {
        get { pixels[(channel * height + y) * width + x] }
        set { pixels[(channel * height + y) * width + x] = newValue }
    }

    /// Whether the last channel is alpha (2 or 4 channels).
    public var hasAlpha: Bool { channels == 2 || channels == 4 }

    /// The samples of one channel, `height · width` of them in row-major order.
    public func plane(_ channel: Int) -> ArraySlice<Float> {
        pixels[(channel * planeSize)..<((channel + 1) * planeSize)]
    }
}

// MARK: - Colour conversion

/// The channels an image is decoded or converted to.
public enum ColorMode: String, Sendable, Codable {
    /// Three channels. Gray is repeated, alpha is dropped (not composited), as Pillow's
    /// `convert("RGB")` does.
    case rgb
    /// One channel: luma `L = 0.299 R + 0.587 G + 0.114 B` (ITU-R 601-2, Pillow's `convert("L")`);
    /// alpha is dropped.
    case gray
    /// The file's own channels (1 gray, 2 gray + alpha, 3 RGB, 4 RGBA).
    case original
}

extension Image {
    /// This image with the channels of `mode` (see `ColorMode`).
    public func converted(to mode: ColorMode) -> Image {
        let n = planeSize
        switch mode {
        case .original:
            return self
        case .rgb:
            if channels == 3 { return self }
            var out = [Float](repeating: 0, count: 3 * n)
            if channels <= 2 {
                for c in 0..<3 { out.replaceSubrange((c * n)..<((c + 1) * n), with: pixels[0..<n]) }
            } else {
                out.replaceSubrange(0..<(3 * n), with: pixels[0..<(3 * n)])
            }
            return Image(height: height, width: width, channels: 3, pixels: out)
        case .gray:
            if channels == 1 { return self }
            if channels == 2 { return Image(height: height, width: width, channels: 1, pixels: Array(pixels[0..<n])) }
            var out = [Float](repeating: 0, count: n)
            pixels.withUnsafeBufferPointer { p in
                for i in 0..<n { out[i] = 0.299 * p[i] + 0.587 * p[n + i] + 0.114 * p[2 * n + i] }
            }
            return Image(height: height, width: width, channels: 1, pixels: out)
        }
    }

    /// The image with every sample mapped through `body`.
    public func mapped(_ body: (Float) -> Float) -> Image {
        Image(height: height, width: width, channels: channels, pixels: pixels.map(body))
    }

    /// The image with samples clamped to [lower, upper].
    public func clamped(to lower: Float = 0, _ upper: Float = 1) -> Image {
        mapped { min(max($0, lower), upper) }
    }
}
