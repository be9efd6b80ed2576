import Tensor
import Glibc

extension Image {
    /// The image mirrored left–right.
    public func flippedHorizontally() -> Image {
        var out = pixels
        for row in 0..<(channels * height) {
            let base = row * width
            for x in 0..<width { out[base + x] = pixels[base + width - 1 - x] }
        }
        return Image(height: height, width: width, channels: channels, pixels: out)
    }

    /// The image mirrored top–bottom.
    public func flippedVertically() -> Image {
        var out = pixels
        for c in 0..<channels {
            for y in 0..<height {
                let target = (c * height + y) * width, source = (c * height + height - 1 - y) * width
                out.replaceSubrange(target..<(target + width), with: pixels[source..<(source + width)])
            }
        }
        return Image(height: height, width: width, channels: channels, pixels: out)
    }

    /// The image rotated counter-clockwise by `degrees` about its centre, same size, sampled
    /// bilinearly; where the rotated image does not cover the frame the samples are `fill`.
    ///
    /// The centre is the middle of the frame (sample coordinates `((W − 1)/2, (H − 1)/2)`, as
    /// torchvision's `rotate`). Output sample (x, y), relative to the centre, reads the input at
    ///
    ///     (x', y') = (cos θ · x − sin θ · y,  sin θ · x + cos θ · y)     (y pointing down)
    ///
    /// interpolated from its four neighbours, a neighbour outside the image counting as `fill`
    /// (grid sampling with constant padding; torchvision additionally blends the border with the
    /// fill by a sampled mask, which differs only along the edge of the rotated image).
    public func rotated(degrees: Float, fill: Float = 0) -> Image {
        let theta = Double(degrees) * Double.pi / 180
        let (c, s) = (cos(theta), sin(theta))
        let cx = Double(width - 1) / 2, cy = Double(height - 1) / 2
        var out = [Float](repeating: fill, count: pixels.count)
        pixels.withUnsafeBufferPointer { src in
            for y in 0..<height {
                for x in 0..<width {
                    let dx = Double(x) - cx, dy = Double(y) - cy
                    let sx = c * dx - s * dy + cx, sy = s * dx + c * dy + cy
                    let fx = sx.rounded(.down), fy = sy.rounded(.down)
                    // Far outside: every neighbour is fill (also keeps Int() in range).
                    if fx < -1 || fy < -1 || fx > Double(width) || fy > Double(height) { continue }
                    let x0 = Int(fx), y0 = Int(fy)
                    let ax = Float(sx - fx), ay = Float(sy - fy)
                    let inX0 = x0 >= 0 && x0 < width, inX1 = x0 + 1 >= 0 && x0 + 1 < width
                    let inY0 = y0 >= 0 && y0 < height, inY1 = y0 + 1 >= 0 && y0 + 1 < height
                    for ch in 0..<channels {
                        let base = ch * height * width
                        let v00 = inX0 && inY0 ? src[base + y0 * width + x0] : fill
                        let v10 = inX1 && inY0 ? src[base + y0 * width + x0 + 1] : fill
                        let v01 = inX0 && inY1 ? src[base + (y0 + 1) * width + x0] : fill
                        let v11 = inX1 && inY1 ? src[base + (y0 + 1) * width + x0 + 1] : fill
                        let top = v00 + ax * (v10 - v00), bottom = v01 + ax * (v11 - v01)
                        out[base + y * width + x] = top + ay * (bottom - top)
                    }
                }
            }
        }
        return Image(height: height, width: width, channels: channels, pixels: out)
    }
}

/// Mirrors the image left–right.
public struct HorizontalFlip: ImageTransform {
    public init() {}
    public func apply(_ image: Image, generator: inout RandomGenerator) throws -> Image { image.flippedHorizontally() }
}

/// Mirrors the image top–bottom.
public struct VerticalFlip: ImageTransform {
    public init() {}
    public func apply(_ image: Image, generator: inout RandomGenerator) throws -> Image { image.flippedVertically() }
}

/// Mirrors the image left–right with probability `probability` (torchvision's
/// `RandomHorizontalFlip`; one uniform draw per image).
public struct RandomHorizontalFlip: ImageTransform {
    public var probability: Float
    public init(probability: Float = 0.5) { self.probability = probability }
    public func apply(_ image: Image, generator: inout RandomGenerator) throws -> Image {
        ImageRandom.chance(&generator, probability) ? image.flippedHorizontally() : image
    }
}

/// Mirrors the image top–bottom with probability `probability` (torchvision's
/// `RandomVerticalFlip`).
public struct RandomVerticalFlip: ImageTransform {
    public var probability: Float
    public init(probability: Float = 0.5) { self.probability = probability }
    public func apply(_ image: Image, generator: inout RandomGenerator) throws -> Image {
        ImageRandom.chance(&generator, probability) ? image.flippedVertically() : image
    }
}

/// Rotates counter-clockwise by a fixed angle (bilinear, `fill` outside); see `Image.rotated`.
public struct Rotate: ImageTransform {
    public var degrees: Float
    public var fill: Float
    public init(degrees: Float, fill: Float = 0) {
        self.degrees = degrees
        self.fill = fill
    }
    public func apply(_ image: Image, generator: inout RandomGenerator) throws -> Image {
        image.rotated(degrees: degrees, fill: fill)
    }
}

/// Rotates by an angle drawn uniformly from `degrees` (torchvision's `RandomRotation`, here
/// with bilinear interpolation; fundus photographs have no "up", so any angle is plausible).
public struct RandomRotation: ImageTransform {
    public var degrees: ClosedRange<Float>
    public var fill: Float

    /// Angles in `-degrees ... degrees`.
    public init(degrees: Float, fill: Float = 0) {
        precondition(degrees >= 0, "RandomRotation: degrees must be non-negative, got \(degrees)")
        self.init(range: -degrees...degrees, fill: fill)
    }

    public init(range: ClosedRange<Float>, fill: Float = 0) {
        self.degrees = range
        self.fill = fill
    }

    public func apply(_ image: Image, generator: inout RandomGenerator) throws -> Image {
        image.rotated(degrees: ImageRandom.uniform(&generator, degrees.lowerBound, degrees.upperBound), fill: fill)
    }
}
