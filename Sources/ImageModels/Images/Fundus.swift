import Tensor

/// Crops a retinal fundus photograph to its circular field of view and blacks out what lies
/// outside the circle (the first half of Ben Graham's preprocessing, Kaggle Diabetic
/// Retinopathy 2015, used since in most retinopathy work: APTOS, EyePACS, IDRiD).
///
/// The disc is the region brighter than the black surround: a pixel belongs to it when the mean
/// of its channels exceeds `threshold`; a row (column) belongs to the field of view when at least
/// `minimumCoverage` of its pixels do, so that noise and burnt-in text in a corner (shorter than
/// that) do not widen the box. For the disc this trims only its extreme rows and columns, where
/// its chord is shorter than that: with the default 10 % about 1 % of the radius. The image is
/// cropped to the bounding box of those rows and columns. With `maskOutside`, samples outside
/// the circle of radius `max(h, w) / 2` about the crop's centre become 0 — `max` because a
/// photograph often clips the disc at top and bottom, leaving the full width as its diameter.
/// An image with no field of view (all dark) is returned unchanged.
public struct FundusCrop: ImageTransform {
    public var threshold: Float
    public var minimumCoverage: Float
    public var maskOutside: Bool

    public init(threshold: Float = 7.0 / 255, minimumCoverage: Float = 0.1, maskOutside: Bool = true) {
        self.threshold = threshold
        self.minimumCoverage = minimumCoverage
        self.maskOutside = maskOutside
    }

    /// The field of view's bounding box, or nil when no row passes.
    public func fieldOfView(of image: Image) -> (top: Int, left: Int, height: Int, width: Int)? {
        let h = image.height, w = image.width, n = image.planeSize
        var rowCounts = [Int](repeating: 0, count: h)
        var columnCounts = [Int](repeating: 0, count: w)
        let colorChannels = image.hasAlpha ? image.channels - 1 : image.channels
        let limit = threshold * Float(colorChannels)  // compare the channel sum, not the mean
        image.pixels.withUnsafeBufferPointer { p in
            for y in 0..<h {
                for x in 0..<w {
                    var sum: Float = 0
                    for c in 0..<colorChannels { sum += p[c * n + y * w + x] }
                    if sum > limit {
                        rowCounts[y] += 1
                        columnCounts[x] += 1
                    }
                }
            }
        }
        let rows = rowCounts.indices.filter { Float(rowCounts[$0]) >= max(1, minimumCoverage * Float(w)) }
        let columns = columnCounts.indices.filter { Float(columnCounts[$0]) >= max(1, minimumCoverage * Float(h)) }
        guard let top = rows.first, let bottom = rows.last, let left = columns.first, let right = columns.last else {
            return nil
        }
        return (top, left, bottom - top + 1, right - left + 1)
    }

    public func apply(_ image: Image, generator: inout RandomGenerator) throws -> Image {
        guard let box = fieldOfView(of: image) else { return image }
        var out = image.cropped(top: box.top, left: box.left, height: box.height, width: box.width)
        if maskOutside { out.mask(radiusFraction: 1, outside: 0) }
        return out
    }
}

/// Evens out illumination and colour across a fundus image by subtracting the local average
/// colour (the second half of Ben Graham's preprocessing):
///
///     out = clamp(4 · img − 4 · GaussianBlur(img, σ) + 0.5, 0, 1),    σ = sigmaFraction · r
///
/// with r = max(h, w) / 2 the disc's radius in an image already cropped to it (`FundusCrop`);
/// Graham's code used σ = r / 30 (his `scale` was the radius). Slow shading (vignetting, uneven
/// flash) is in the blur and cancels; vessels, haemorrhages and exudates, smaller than σ,
/// remain, amplified 4×, around mid-gray. The blur mixes the black surround into the rim, so
/// samples outside `maskFraction · r` are set to `background` (Graham: 0.9 and 128/255 ≈ 0.5).
public struct GrahamNormalization: ImageTransform {
    public var sigmaFraction: Float
    public var gain: Float
    public var maskFraction: Float
    public var background: Float

    public init(sigmaFraction: Float = 1.0 / 30, gain: Float = 4, maskFraction: Float = 0.9, background: Float = 0.5) {
        precondition(sigmaFraction > 0, "GrahamNormalization: sigmaFraction must be positive, got \(sigmaFraction)")
        self.sigmaFraction = sigmaFraction
        self.gain = gain
        self.maskFraction = maskFraction
        self.background = background
    }

    public func apply(_ image: Image, generator: inout RandomGenerator) throws -> Image {
        let radius = Float(max(image.height, image.width)) / 2
        let blurred = image.gaussianBlurred(sigma: sigmaFraction * radius)
        var out = image
        for i in out.pixels.indices {
            out.pixels[i] = min(max(gain * (image.pixels[i] - blurred.pixels[i]) + 0.5, 0), 1)
        }
        out.mask(radiusFraction: maskFraction, outside: background)
        return out
    }
}

/// Ben Graham's fundus preprocessing as one step: crop to the field of view (`FundusCrop`),
/// resize to `size × size` when given (before the blur, which costs `O(pixels · σ)`), then
/// subtract the local average colour (`GrahamNormalization`).
public struct FundusPreprocessing: ImageTransform {
    public var crop: FundusCrop
    public var size: Int?
    public var normalization: GrahamNormalization

    public init(size: Int? = nil, crop: FundusCrop = FundusCrop(), normalization: GrahamNormalization = GrahamNormalization()) {
        self.crop = crop
        self.size = size
        self.normalization = normalization
    }

    public func apply(_ image: Image, generator: inout RandomGenerator) throws -> Image {
        var out = try crop.apply(image, generator: &generator)
        if let size { out = out.resized(height: size, width: size) }
        return try normalization.apply(out, generator: &generator)
    }
}

extension Image {
    /// Sets every sample outside the circle of radius `radiusFraction · max(h, w) / 2` about the
    /// image's centre to `outside`.
    mutating func mask(radiusFraction: Float, outside: Float) {
        let cx = Float(width - 1) / 2, cy = Float(height - 1) / 2
        let r = radiusFraction * Float(max(height, width)) / 2
        let n = planeSize
        for y in 0..<height {
            let dy = Float(y) - cy
            for x in 0..<width {
                let dx = Float(x) - cx
                if dx * dx + dy * dy > r * r {
                    for c in 0..<channels { pixels[c * n + y * width + x] = outside }
                }
            }
        }
    }
}
