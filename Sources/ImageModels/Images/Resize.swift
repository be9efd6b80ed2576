import Tensor

/// Resizes with antialiased bilinear interpolation, the filter of Pillow's
/// `Image.resize(size, BILINEAR)` and of torchvision's `Resize` (which calls Pillow for PIL
/// images and reimplements the same filter, `antialias=True`, for tensors).
///
/// Each output sample is a weighted mean of the input samples under a triangle ("tent") filter
/// centred on the output sample's position in input coordinates. Downscaling by `s > 1` widens
/// the triangle by `s`, so every input sample contributes (that is the antialiasing; plain
/// bilinear interpolation would skip samples and alias). Per axis, for output index `o` of `n`
/// from an input of `N`:
///
///     scale = N / n,   support = max(scale, 1),   centre = (o + 0.5) · scale
///     w_i ∝ max(0, 1 − |i + 0.5 − centre| / support)    for i in ⌊centre − support + 0.5⌋ ..< ⌊centre + support + 0.5⌋
///
/// weights normalised to sum 1, the horizontal pass first, then the vertical one (Pillow's order).
/// Sums are in `Double`, as in Pillow's float path; Pillow's 8-bit path also rounds after each
/// pass, so 8-bit Pillow results differ from these by at most about one unit (1/255).
public struct Resize: ImageTransform {
    public enum Size: Equatable, Sendable {
        /// Exactly this size.
        case exact(height: Int, width: Int)
        /// The shorter side becomes `length`, the other keeps the aspect ratio (truncated, as
        /// torchvision's `Resize(int)`), capped so the longer side is at most `maxSize`.
        case shorterSide(Int, maxSize: Int?)
    }

    public var size: Size

    /// Resizes to `height × width`.
    public init(height: Int, width: Int) {
        precondition(height > 0 && width > 0, "Resize: size must be positive, got \(height)×\(width)")
        size = .exact(height: height, width: width)
    }

    /// Resizes to `size × size`.
    public init(size: Int) { self.init(height: size, width: size) }

    /// Resizes so the shorter side is `shorterSide` (torchvision's `Resize(256)`).
    public init(shorterSide: Int, maxSize: Int? = nil) {
        precondition(shorterSide > 0, "Resize: shorterSide must be positive, got \(shorterSide)")
        size = .shorterSide(shorterSide, maxSize: maxSize)
    }

    /// The output size for an input of `height × width`.
    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        switch size {
        case .exact(let h, let w):
            return (h, w)
        case .shorterSide(let length, let maxSize):
            // torchvision's _compute_resized_output_size.
            let (short, long) = width <= height ? (width, height) : (height, width)
            var newShort = length
            var newLong = Int(Double(length) * Double(long) / Double(short))
            if let maxSize, newLong > maxSize {
                newShort = Int(Double(maxSize) * Double(newShort) / Double(newLong))
                newLong = maxSize
            }
            return width <= height ? (newLong, newShort) : (newShort, newLong)
        }
    }

    public func apply(_ image: Image, generator: inout RandomGenerator) throws -> Image {
        let (h, w) = outputSize(height: image.height, width: image.width)
        return image.resized(height: h, width: w)
    }
}

extension Image {
    /// This image resized to `height × width` with antialiased bilinear filtering (see `Resize`).
    public func resized(height newHeight: Int, width newWidth: Int) -> Image {
        precondition(newHeight > 0 && newWidth > 0, "resized: size must be positive, got \(newHeight)×\(newWidth)")
        precondition(height > 0 && width > 0, "resized: the image is empty")
        var current = self
        if newWidth != width {
            let taps = ResampleTaps(inputSize: width, outputSize: newWidth)
            var out = [Float](repeating: 0, count: channels * height * newWidth)
            current.pixels.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for row in 0..<(channels * height) {
                        let s = src.baseAddress! + row * width
                        let d = dst.baseAddress! + row * newWidth
                        for o in 0..<newWidth {
                            let start = taps.starts[o]
                            var sum = 0.0
                            for k in 0..<taps.counts[o] { sum += taps.weights[o * taps.stride + k] * Double(s[start + k]) }
                            d[o] = Float(sum)
                        }
                    }
                }
            }
            current = Image(height: height, width: newWidth, channels: channels, pixels: out)
        }
        if newHeight != height {
            let taps = ResampleTaps(inputSize: height, outputSize: newHeight)
            let w = current.width
            var out = [Float](repeating: 0, count: channels * newHeight * w)
            var row = [Double](repeating: 0, count: w)
            current.pixels.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for c in 0..<channels {
                        let s = src.baseAddress! + c * height * w
                        for o in 0..<newHeight {
                            for x in 0..<w { row[x] = 0 }
                            let start = taps.starts[o]
                            for k in 0..<taps.counts[o] {
                                let weight = taps.weights[o * taps.stride + k]
                                let line = s + (start + k) * w
                                for x in 0..<w { row[x] += weight * Double(line[x]) }
                            }
                            let d = dst.baseAddress! + (c * newHeight + o) * w
                            for x in 0..<w { d[x] = Float(row[x]) }
                        }
                    }
                }
            }
            current = Image(height: newHeight, width: w, channels: channels, pixels: out)
        }
        return current
    }
}

/// The filter taps of one axis: for output index `o`, `counts[o]` weights from
/// `weights[o · stride]`, applied to inputs `starts[o] ..< starts[o] + counts[o]`.
/// (Pillow's `precompute_coeffs` with its bilinear filter.)
struct ResampleTaps {
    var starts: [Int] = []
    var counts: [Int] = []
    var weights: [Double] = []
    var stride: Int

    init(inputSize: Int, outputSize: Int) {
        let scale = Double(inputSize) / Double(outputSize)
        let filterScale = max(scale, 1)
        let support = 1.0 * filterScale  // the bilinear filter's support is 1
        stride = Int(support.rounded(.up)) * 2 + 1
        weights = [Double](repeating: 0, count: outputSize * stride)
        for o in 0..<outputSize {
            let centre = (Double(o) + 0.5) * scale
            let lower = max(Int(centre - support + 0.5), 0)  // Int() truncates, as C's (int) cast
            let upper = min(Int(centre + support + 0.5), inputSize)
            let count = upper - lower
            var total = 0.0
            for k in 0..<count {
                let x = abs((Double(k + lower) - centre + 0.5) / filterScale)
                let w = x < 1 ? 1 - x : 0
                weights[o * stride + k] = w
                total += w
            }
            if total != 0 { for k in 0..<count { weights[o * stride + k] /= total } }
            starts.append(lower)
            counts.append(count)
        }
    }
}
