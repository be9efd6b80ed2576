#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Rasterises a `FundusScene` through a `FundusCamera` into planar RGB floats.
///
/// Hand-written because no library here draws anti-aliased shapes into float planes. Every shape
/// touches only the pixels of its bounding box; all buffers are allocated once per image.
/// Order: background (texture, macula, disc) → vessel coverage (max over segments, so joints
/// are not darkened twice) → vessel absorption → lesion blobs → camera illumination → optical
/// blur → contrast → sensor noise → clamp and field-of-view mask.
struct FundusRenderer {
    let size: Int
    let camera: FundusCamera
    /// Field of view in pixels: centre and radius.
    let centerX: Float
    let centerY: Float
    let radius: Float

    /// Transmission of arteries and veins (fraction of each channel let through at full contrast).
    static let arteryTransmission = SIMD3<Float>(0.80, 0.50, 0.56)
    static let veinTransmission = SIMD3<Float>(0.58, 0.26, 0.34)

    init(size: Int, camera: FundusCamera) {
        self.size = size
        self.camera = camera
        let half = Float(size) / 2
        centerX = half * (1 + camera.fieldCenterX)
        centerY = half * (1 + camera.fieldCenterY)
        radius = half * camera.fieldRadius
    }

    /// The image, channel-major: `out[c * size * size + y * size + x]`, values in [0, 1].
    func render(_ scene: FundusScene, random: inout FundusRandom) -> [Float] {
        let n = size * size
        var out = [Float](repeating: 0, count: 3 * n)
        var scratch = [Float](repeating: 0, count: 2 * n)
        out.withUnsafeMutableBufferPointer { o in
            scratch.withUnsafeMutableBufferPointer { s in
                let rgb = o.baseAddress!, work = s.baseAddress!
                drawBackground(scene, rgb)
                for vessel in scene.vessels {
                    // New vessels are fine but blood-filled: as dark as veins.
                    stroke(vessel, into: vessel.kind == .artery ? work : work + n)
                }
                absorbVessels(rgb, arteries: work, veins: work + n)
                for lesion in scene.lesions {
                    for blob in lesion.blobs { stamp(blob, rgb) }
                }
                photograph(rgb, scratch: work, random: &random)
            }
        }
        return out
    }

    // MARK: - Scene

    private func drawBackground(_ scene: FundusScene, _ rgb: UnsafeMutablePointer<Float>) {
        let n = size * size
        let bg = scene.background
        let inverse = 1 / radius
        let macula = 1 / (2 * bg.maculaSigma * bg.maculaSigma)
        let foveola: Float = 1 / (2 * 0.03 * 0.03)
        let discEdge = 0.012 + 0.5 * inverse
        let cupRadius = scene.discRadius * scene.cupRatio
        let cupEdge = 0.03 + 0.5 * inverse
        let reach = scene.discRadius + 2 * discEdge
        let halo = scene.discRadius * 2.2
        // Everything but the disc separates into a column factor times a row factor (the
        // Gaussians of macula and fovea) or a row interpolation then a column one (the texture
        // grids), so the per-pixel work is a few multiply-adds.
        let xs = (0..<size).map { (Float($0) + 0.5 - centerX) * inverse }
        let ys = (0..<size).map { (Float($0) + 0.5 - centerY) * inverse }
        let maculaX = xs.map { exp(-($0 - scene.fovea.x) * ($0 - scene.fovea.x) * macula) }
        let maculaY = ys.map { exp(-($0 - scene.fovea.y) * ($0 - scene.fovea.y) * macula) }
        let foveaX = xs.map { exp(-($0 - scene.fovea.x) * ($0 - scene.fovea.x) * foveola) }
        let foveaY = ys.map { exp(-($0 - scene.fovea.y) * ($0 - scene.fovea.y) * foveola) }
        let grids = [bg.brightness, bg.greenShift, bg.mottling]
        let columns = grids.map { $0.axis(xs) }
        var rows = grids.map { [Float](repeating: 0, count: $0.cells + 1) }
        for y in 0..<size {
            let ry = ys[y]
            for g in 0..<3 { grids[g].interpolateRow(at: ry, into: &rows[g]) }
            for x in 0..<size {
                let rx = xs[x]
                let texture = columns[2].value(in: rows[2], at: x)
                var c = bg.color * (1 + columns[0].value(in: rows[0], at: x) + texture)
                c.y *= 1 + columns[1].value(in: rows[1], at: x)
                c *= (1 - (maculaX[x] * maculaY[y]) * bg.maculaDepth) * (1 - foveaX[x] * foveaY[y] * bg.foveaDepth)
                let dx = rx - scene.discCenter.x, dy = (ry - scene.discCenter.y) * (1 / 1.08)
                let dd2 = dx * dx + dy * dy
                if dd2 < halo * halo {
                    let dd = dd2.squareRoot()
                    if dd < reach {
                        let a = smooth((scene.discRadius - dd) / discEdge + 0.5)
                        let cup = smooth((cupRadius - dd) / cupEdge + 0.5)
                        let disc = (bg.rimColor + (bg.cupColor - bg.rimColor) * cup) * (1 + 2 * texture)
                        c += (disc - c) * a
                    } else {
                        // Peripapillary nerve fibres: a faint sheen around the disc.
                        c *= 1 + 0.06 * (halo - dd) / (halo - reach)
                    }
                }
                let i = y * size + x
                rgb[i] = c.x
                rgb[n + i] = c.y
                rgb[2 * n + i] = c.z
            }
        }
    }

    /// Accumulates a vessel's coverage (× contrast) into `buffer` with max.
    private func stroke(_ vessel: FundusVessel, into buffer: UnsafeMutablePointer<Float>) {
        let points = vessel.points
        guard points.count >= 2 else { return }
        let fade = vessel.kind != .newVessel
        // Points are 0.012 field radii apart (0.006 in tortuous new vessels), less than a pixel
        // at small sizes: draw segments at least `spacing` pixels long, which keeps the curves
        // smooth and the work per image nearly independent of the tree's resolution.
        let spacing: Float = fade ? 1.5 : 0.8
        var previous = pixel(points[0], opacity: vessel.opacity, fade: fade)
        for k in 1..<points.count {
            let current = pixel(points[k], opacity: vessel.opacity, fade: fade)
            let step = SIMD2(current.x - previous.x, current.y - previous.y)
            if (step * step).sum() < spacing * spacing && k < points.count - 1 { continue }
            segment(from: previous, to: current, into: buffer)
            previous = current
        }
    }

    /// A vessel point in pixels: (x, y, drawn width ≥ 1 px, contrast). Thinner vessels are paler,
    /// and a vessel narrower than a pixel keeps its area by trading width for contrast.
    @inline(__always)
    private func pixel(_ p: SIMD3<Float>, opacity: Float, fade: Bool) -> SIMD4<Float> {
        var width = p.z * radius
        var alpha = fade ? opacity * min(1, 0.45 + 17 * p.z) : opacity
        if width < 1 { alpha *= width; width = 1 }
        return SIMD4(centerX + p.x * radius, centerY + p.y * radius, width, alpha)
    }

    private func segment(from a: SIMD4<Float>, to b: SIMD4<Float>, into buffer: UnsafeMutablePointer<Float>) {
        let reach = max(a.z, b.z) / 2 + 1
        let x0 = max(0, Int((min(a.x, b.x) - reach).rounded(.down)))
        let x1 = min(size - 1, Int((max(a.x, b.x) + reach).rounded(.up)))
        let y0 = max(0, Int((min(a.y, b.y) - reach).rounded(.down)))
        let y1 = min(size - 1, Int((max(a.y, b.y) + reach).rounded(.up)))
        guard x0 <= x1 && y0 <= y1 else { return }
        let ex = b.x - a.x, ey = b.y - a.y
        let inverseLength2 = 1 / max(ex * ex + ey * ey, 1e-12)
        for y in y0...y1 {
            let py = Float(y) + 0.5 - a.y
            for x in x0...x1 {
                let px = Float(x) + 0.5 - a.x
                let t = min(max((px * ex + py * ey) * inverseLength2, 0), 1)
                let qx = px - t * ex, qy = py - t * ey
                let distance2 = qx * qx + qy * qy
                let half = (a.z + (b.z - a.z) * t) * 0.5
                if distance2 >= (half + 0.5) * (half + 0.5) { continue }
                let distance = distance2.squareRoot()
                let edge = min(half - distance + 0.5, 1)
                // Blood columns are thickest in the middle: a rounded profile, not a flat band.
                let r = min(distance / half, 1)
                let coverage = edge * (1 - 0.3 * r * r) * (a.w + (b.w - a.w) * t)
                let i = y * size + x
                if coverage > buffer[i] { buffer[i] = coverage }
            }
        }
    }

    private func absorbVessels(_ rgb: UnsafeMutablePointer<Float>, arteries: UnsafeMutablePointer<Float>,
                               veins: UnsafeMutablePointer<Float>) {
        let n = size * size
        let ta = 1 - FundusRenderer.arteryTransmission, tv = 1 - FundusRenderer.veinTransmission
        for i in 0..<n {
            let a = arteries[i], v = veins[i]
            if a == 0 && v == 0 { continue }
            let f = (1 - a * ta) * (1 - v * tv)
            rgb[i] *= f.x
            rgb[n + i] *= f.y
            rgb[2 * n + i] *= f.z
        }
    }

    private func stamp(_ blob: FundusBlob, _ rgb: UnsafeMutablePointer<Float>) {
        let n = size * size
        let cx = centerX + blob.center.x * radius, cy = centerY + blob.center.y * radius
        var rx = blob.radiusX * radius, ry = blob.radiusY * radius
        var opacity = blob.opacity
        // Below a pixel, keep the lesion's area (its total darkening) by trading size for opacity.
        let smallest: Float = 0.6
        if rx < smallest { opacity *= rx / smallest; rx = smallest }
        if ry < smallest { opacity *= ry / smallest; ry = smallest }
        let minor = min(rx, ry)
        let edge = max(blob.softness * minor, 0.7)
        let reach = max(rx, ry) + edge
        let x0 = max(0, Int((cx - reach).rounded(.down))), x1 = min(size - 1, Int((cx + reach).rounded(.up)))
        let y0 = max(0, Int((cy - reach).rounded(.down))), y1 = min(size - 1, Int((cy + reach).rounded(.up)))
        guard x0 <= x1 && y0 <= y1 else { return }
        let cosA = cos(blob.angle), sinA = sin(blob.angle)
        let absorb = blob.mode == .absorb
        let tint = absorb ? 1 - blob.color : blob.color
        for y in y0...y1 {
            let dy = Float(y) + 0.5 - cy
            for x in x0...x1 {
                let dx = Float(x) + 0.5 - cx
                let u = (dx * cosA + dy * sinA) / rx, v = (dy * cosA - dx * sinA) / ry
                let d = (u * u + v * v).squareRoot()
                let a = opacity * smooth((1 - d) * minor / edge + 0.5)
                if a <= 0 { continue }
                let i = y * size + x
                if absorb {
                    rgb[i] *= 1 - a * tint.x
                    rgb[n + i] *= 1 - a * tint.y
                    rgb[2 * n + i] *= 1 - a * tint.z
                } else {
                    rgb[i] += a * (tint.x - rgb[i])
                    rgb[n + i] += a * (tint.y - rgb[n + i])
                    rgb[2 * n + i] += a * (tint.z - rgb[2 * n + i])
                }
            }
        }
    }

    // MARK: - Camera

    private func photograph(_ rgb: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                            random: inout FundusRandom) {
        let n = size * size
        let exposure = camera.exposure * exp(camera.exposureJitter * random.normal())
        let gains = SIMD3(camera.redGain, camera.greenGain, camera.blueGain)
            * SIMD3(1 + 0.03 * random.normal(), 1 + 0.03 * random.normal(), 1 + 0.03 * random.normal()) * exposure
        let light = SIMD2(0.08 * random.normal(), 0.08 * random.normal())
        let inverse = 1 / radius
        let columns = (0..<size).map { x -> Float in
            let rx = (Float(x) + 0.5 - centerX) * inverse - light.x
            return rx * rx
        }
        for y in 0..<size {
            let ry = (Float(y) + 0.5 - centerY) * inverse - light.y
            let ry2 = ry * ry
            for x in 0..<size {
                let rho2 = min(columns[x] + ry2, 1.6)
                let shade = max(1 - camera.vignetting * rho2 * rho2.squareRoot().squareRoot(), 0)
                let i = y * size + x
                rgb[i] *= gains.x * shade
                rgb[n + i] *= gains.y * shade
                rgb[2 * n + i] *= gains.z * shade
            }
        }
        let sigma = camera.blur * Float(size)
        if sigma >= 0.25 {
            for c in 0..<3 { blur(rgb + c * n, sigma: sigma, scratch: scratch) }
        }
        // Contrast stretches each channel about its own mean inside the field of view, so that it
        // changes the spread of colours and leaves the colour balance to the gains.
        var mean = SIMD3<Float>(repeating: 0), count: Float = 0
        for y in 0..<size {
            let dy = Float(y) + 0.5 - centerY
            for x in 0..<size {
                let dx = Float(x) + 0.5 - centerX
                if dx * dx + dy * dy < radius * radius {
                    let i = y * size + x
                    mean += SIMD3(rgb[i], rgb[n + i], rgb[2 * n + i])
                    count += 1
                }
            }
        }
        let pivot = mean / max(count, 1)
        let noise = camera.noise
        for y in 0..<size {
            let dy = Float(y) + 0.5 - centerY
            for x in 0..<size {
                let dx = Float(x) + 0.5 - centerX
                let inside = min(max(radius - (dx * dx + dy * dy).squareRoot() + 0.5, 0), 1)
                let i = y * size + x
                if inside == 0 {
                    rgb[i] = 0; rgb[n + i] = 0; rgb[2 * n + i] = 0
                    continue
                }
                let (z0, z1) = random.fastNormalPair()
                let z2 = random.fastNormalPair().0
                let v = pivot + camera.contrast * (SIMD3(rgb[i], rgb[n + i], rgb[2 * n + i]) - pivot)
                    + noise * SIMD3(z0, z1, z2)
                let out = v.clamped(lowerBound: SIMD3(repeating: 0), upperBound: SIMD3(repeating: 1)) * inside
                rgb[i] = out.x; rgb[n + i] = out.y; rgb[2 * n + i] = out.z
            }
        }
    }

    /// Separable Gaussian blur of one plane in place (edges clamped).
    private func blur(_ plane: UnsafeMutablePointer<Float>, sigma: Float, scratch: UnsafeMutablePointer<Float>) {
        let k = min(max(1, Int((2.5 * sigma).rounded(.up))), size - 1)
        var weights = (-k...k).map { exp(-Float($0 * $0) / (2 * sigma * sigma)) }
        let total = weights.reduce(0, +)
        for j in weights.indices { weights[j] /= total }
        weights.withUnsafeBufferPointer { w in
            let last = size - 1
            // Rows into scratch: clamped taps at the two ends, plain ones in between.
            for y in 0..<size {
                let row = plane + y * size, out = scratch + y * size
                for x in 0..<size {
                    if x >= k && x < size - k {
                        var sum: Float = 0
                        for t in 0...(2 * k) { sum += w[t] * row[x - k + t] }
                        out[x] = sum
                    } else {
                        var sum: Float = 0
                        for t in -k...k { sum += w[t + k] * row[min(max(x + t, 0), last)] }
                        out[x] = sum
                    }
                }
            }
            // Columns back into the plane, a whole row at a time (contiguous, vectorisable).
            for y in 0..<size {
                let out = plane + y * size
                out.update(repeating: 0, count: size)
                for t in -k...k {
                    let source = scratch + min(max(y + t, 0), last) * size
                    let weight = w[t + k]
                    for x in 0..<size { out[x] += weight * source[x] }
                }
            }
        }
    }
}

/// Smoothstep of a value clamped to [0, 1].
@inline(__always)
private func smooth(_ t: Float) -> Float {
    let c = min(max(t, 0), 1)
    return c * c * (3 - 2 * c)
}
