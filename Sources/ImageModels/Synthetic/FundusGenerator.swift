import Tensor

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Seeded synthetic colour fundus photographs with diabetic retinopathy of a chosen grade (0–4),
/// standing in for a clinic's retina images where none can be downloaded.
///
/// Each image shows a circular field of view (black outside) on an orange-red fundus with
/// vignetting, a yellowish optic disc with its pale cup, a darker macula and fovea, and a
/// branching tree of arteries (lighter, thinner) and veins (darker, thicker) leaving the disc.
/// Lesions follow the grade (see `FundusLesion.Kind`): microaneurysms from grade 1, dot/blot/flame
/// haemorrhages, hard exudates and cotton-wool spots from grade 2, many more with venous beading at
/// grade 3, new vessels at grade 4. Their counts grow with a random severity within each grade, so
/// neighbouring grades overlap a little, as they do for human graders; drusen and dust appear at
/// any grade as look-alikes. All sizes are fractions of the field of view, so an image of any
/// size shows the same retina.
///
/// The `site` is the camera (`FundusCamera`): two sites show the same disease through different
/// colour balance, exposure, contrast, blur, noise and field of view.
///
/// Reproducible and independent per image: image `index` depends only on `(seed, index, grade)`,
/// site and size, drawn from `RandomGenerator` streams seeded by `(seed, index)` — any image can
/// be regenerated alone, in any order, on any thread. The anatomy stream does not depend on the
/// grade, so `image(index: i, grade: g)` for different `g` shows the same eye at different severity.
///
/// ```swift
/// let generator = FundusGenerator(site: .target, size: 128, seed: 7)
/// let pixels = generator.image(index: 0, grade: 3)   // [3 · 128 · 128], channel-major
/// ```
public struct FundusGenerator: Sendable {
    /// The camera the images imitate.
    public let site: FundusSite
    /// Width and height of the square images, in pixels.
    public let size: Int
    public let seed: UInt64
    /// Number of grades: 0 none, 1 mild, 2 moderate, 3 severe non-proliferative, 4 proliferative.
    public static let gradeCount = 5

    /// - Precondition: `size >= 8`; validate user input before (`FundusDataset` throws).
    public init(site: FundusSite, size: Int, seed: UInt64) {
        precondition(size >= 8, "FundusGenerator: size must be at least 8 pixels, got \(size)")
        self.site = site
        self.size = size
        self.seed = seed
    }

    /// What image `index` shows at `grade`: the eye's anatomy and its lesions.
    public func scene(index: Int, grade: Int) -> FundusScene {
        var streams = FundusRandom.streams(seed: seed, index: index)
        return makeScene(grade: grade, anatomy: &streams.anatomy, lesions: &streams.lesions)
    }

    /// Image `index` at `grade`, as RGB values in [0, 1], channel-major (CHW):
    /// `pixels[c * size * size + y * size + x]` for channel c (0 red, 1 green, 2 blue), row y
    /// (top first) and column x — the layout of a `[3, size, size]` tensor.
    /// - Complexity: O(size²) plus the shapes' bounding boxes; one thread.
    public func image(index: Int, grade: Int) -> [Float] {
        var streams = FundusRandom.streams(seed: seed, index: index)
        let scene = makeScene(grade: grade, anatomy: &streams.anatomy, lesions: &streams.lesions)
        return FundusRenderer(size: size, camera: site.camera).render(scene, random: &streams.camera)
    }

    /// Image `index` at `grade` as a tensor of shape [3, size, size].
    public func tensor(index: Int, grade: Int) -> Tensor {
        Tensor(image(index: index, grade: grade), shape: [3, size, size])
    }

    /// Several images, rendered in parallel on the shared thread pool; equal, image by image, to
    /// `image(index:grade:)`.
    /// - Precondition: `indices.count == grades.count`.
    public func images(indices: [Int], grades: [Int]) -> [[Float]] {
        precondition(indices.count == grades.count,
                     "FundusGenerator.images: \(indices.count) indices but \(grades.count) grades")
        var result = [[Float]](repeating: [], count: indices.count)
        result.withUnsafeMutableBufferPointer { out in
            let out = out
            parallelFor(indices.count, grain: 1) { begin, end in
                for k in begin..<end { out[k] = image(index: indices[k], grade: grades[k]) }
            }
        }
        return result
    }

    /// Planar (CHW) floats in [0, 1] to interleaved 8-bit RGB (HWC), rounding to nearest — the
    /// layout image encoders take.
    public static func interleavedRGB8(_ planar: [Float], width: Int, height: Int) -> [UInt8] {
        let n = width * height
        precondition(planar.count == 3 * n, "interleavedRGB8: \(planar.count) values for 3×\(height)×\(width)")
        var bytes = [UInt8](repeating: 0, count: 3 * n)
        for i in 0..<n {
            for c in 0..<3 { bytes[3 * i + c] = UInt8(min(max(planar[c * n + i], 0), 1) * 255 + 0.5) }
        }
        return bytes
    }

    private func makeScene(grade: Int, anatomy anatomyRandom: inout FundusRandom,
                           lesions lesionRandom: inout FundusRandom) -> FundusScene {
        precondition((0..<FundusGenerator.gradeCount).contains(grade), "FundusGenerator: grade must be 0...4, got \(grade)")
        let anatomy = FundusAnatomy(random: &anatomyRandom)
        var planner = FundusLesionPlanner(anatomy: anatomy)
        planner.plan(grade: grade, dustProbability: site.camera.dustProbability, random: &lesionRandom)
        var vessels = anatomy.vessels
        if let beading = planner.beading {
            // Venous beading: sausage-like calibre changes along the larger veins.
            for k in vessels.indices where vessels[k].kind == .vein && vessels[k].depth <= 1 {
                var s: Float = 0
                let phase = lesionRandom.uniform(0, 2 * .pi)
                let base = vessels[k].points
                for j in base.indices {
                    if j > 0 {
                        let dx = base[j].x - base[j - 1].x, dy = base[j].y - base[j - 1].y
                        s += (dx * dx + dy * dy).squareRoot()
                    }
                    vessels[k].points[j].z = base[j].z * (1 + beading.amplitude * sin(phase + 2 * .pi * s / beading.period))
                }
            }
        }
        vessels += planner.newVessels
        return FundusScene(eye: anatomy.eye, discCenter: anatomy.discCenter, discRadius: anatomy.discRadius,
                           cupRatio: anatomy.cupRatio, fovea: anatomy.fovea, lesions: planner.lesions,
                           background: anatomy.background, vessels: vessels)
    }
}
