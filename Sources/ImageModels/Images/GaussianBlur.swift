import Tensor
import Glibc

extension Image {
    /// The image convolved with a Gaussian of standard deviation `sigma` samples, per channel.
    ///
    /// Hand-written (no library here provides it: libpng/libjpeg-turbo only code images, and
    /// oneDNN has no Gaussian filter — a depthwise convolution would do, but not on the loader's
    /// threads). The 2-D Gaussian is separable, so it is two 1-D passes (rows, then columns) of
    /// the kernel `g(k) ∝ exp(−k² / (2σ²))` for `|k| ≤ ⌈3σ⌉`, normalised to sum 1: cost
    /// `O(H · W · σ)` rather than `O(H · W · σ²)`. Borders reflect without repeating the edge
    /// sample (`… c b | a b c …`, OpenCV's default BORDER_REFLECT_101).
    public func gaussianBlurred(sigma: Float) -> Image {
        precondition(sigma >= 0, "gaussianBlurred: sigma must be non-negative, got \(sigma)")
        guard sigma > 0, height > 0, width > 0 else { return self }
        let radius = max(1, Int((3 * sigma).rounded(.up)))
        var kernel = (-radius...radius).map { k in Float(exp(-Double(k * k) / (2 * Double(sigma) * Double(sigma)))) }
        let total = kernel.reduce(0, +)
        kernel = kernel.map { $0 / total }

        func reflect(_ i: Int, _ n: Int) -> Int {
            if n == 1 { return 0 }
            let period = 2 * (n - 1)
            var m = i % period
            if m < 0 { m += period }
            return m < n ? m : period - m
        }
        // Source index of each tap for each position, so the inner loops have no branches.
        let columns = (0..<width).map { x in (-radius...radius).map { reflect(x + $0, width) } }
        let rows = (0..<height).map { y in (-radius...radius).map { reflect(y + $0, height) } }
        let taps = 2 * radius + 1

        var horizontal = [Float](repeating: 0, count: pixels.count)
        var out = [Float](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { src in
            horizontal.withUnsafeMutableBufferPointer { mid in
                for row in 0..<(channels * height) {
                    let s = src.baseAddress! + row * width
                    let d = mid.baseAddress! + row * width
                    for x in 0..<width {
                        var sum: Float = 0
                        let index = columns[x]
                        for k in 0..<taps { sum += kernel[k] * s[index[k]] }
                        d[x] = sum
                    }
                }
            }
        }
        horizontal.withUnsafeBufferPointer { mid in
            out.withUnsafeMutableBufferPointer { dst in
                for c in 0..<channels {
                    let plane = mid.baseAddress! + c * height * width
                    for y in 0..<height {
                        let d = dst.baseAddress! + (c * height + y) * width
                        let index = rows[y]
                        for k in 0..<taps {
                            let weight = kernel[k]
                            let line = plane + index[k] * width
                            for x in 0..<width { d[x] += weight * line[x] }
                        }
                    }
                }
            }
        }
        return Image(height: height, width: width, channels: channels, pixels: out)
    }
}

/// Blurs with a Gaussian whose σ is drawn uniformly from `sigma` (a fixed σ: a one-point range).
public struct GaussianBlur: ImageTransform {
    public var sigma: ClosedRange<Float>

    public init(sigma: Float) { self.init(sigmaRange: sigma...sigma) }

    public init(sigmaRange: ClosedRange<Float>) {
        precondition(sigmaRange.lowerBound >= 0, "GaussianBlur: sigma must be non-negative")
        sigma = sigmaRange
    }

    public func apply(_ image: Image, generator: inout RandomGenerator) throws -> Image {
        let s = sigma.lowerBound == sigma.upperBound ? sigma.lowerBound
            : ImageRandom.uniform(&generator, sigma.lowerBound, sigma.upperBound)
        return image.gaussianBlurred(sigma: s)
    }
}
