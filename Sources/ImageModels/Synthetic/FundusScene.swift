import Tensor

/// What one synthetic fundus photograph shows, before the camera: anatomy and lesions in retina
/// coordinates, where the unit of length is the radius of the camera's field of view, the origin
/// its centre, x points right and y down in the image.
///
/// `FundusGenerator.scene(index:grade:)` returns it so that tests and tools can see which lesions
/// an image holds; `FundusGenerator.image(index:grade:)` draws it.
public struct FundusScene: Sendable {
    public enum Eye: String, Sendable { case right, left }

    /// Which eye: the optic disc lies on the nasal side, right of the fovea for a right eye.
    public var eye: Eye
    /// Centre and horizontal radius of the optic disc (the disc is a slightly tall ellipse).
    public var discCenter: SIMD2<Float>
    public var discRadius: Float
    /// Cup-to-disc ratio (radius of the pale central cup over the disc radius).
    public var cupRatio: Float
    /// Centre of the macula.
    public var fovea: SIMD2<Float>
    /// Every lesion and distractor, in drawing order.
    public var lesions: [FundusLesion]

    var background: FundusBackground
    var vessels: [FundusVessel]

    /// How many lesions of `kind` the scene holds (an exudate cluster or a tuft of new vessels
    /// counts once).
    public func count(_ kind: FundusLesion.Kind) -> Int {
        lesions.reduce(0) { $0 + ($1.kind == kind ? 1 : 0) }
    }
}

/// One lesion (or look-alike) drawn on a synthetic retina.
public struct FundusLesion: Sendable {
    public enum Kind: String, CaseIterable, Sendable {
        /// Tiny dark-red dot (grade ≥ 1).
        case microaneurysm
        /// Dot, blot or flame-shaped intraretinal haemorrhage (grade ≥ 2).
        case haemorrhage
        /// Cluster or ring of small sharp yellow-white deposits (grade ≥ 2).
        case hardExudate
        /// Fluffy pale patch near the vascular arcades (mostly grade ≥ 3).
        case cottonWoolSpot
        /// Tuft of fine tortuous new vessels on the disc or along a vessel (grade 4).
        case newVessels
        /// Large dark-red boat-shaped haemorrhage in front of the retina (some grade 4).
        case preretinalHaemorrhage
        /// Whitish fibrous veil along new vessels (some grade 4).
        case fibrosis
        /// Soft pale-yellow deposits of ageing, not diabetic retinopathy (any grade).
        case drusen
        /// Faint dark smudge from dust on the optics (any grade).
        case dust
    }

    public var kind: Kind
    /// Centre and approximate radius of the lesion (of the whole cluster or tuft).
    public var center: SIMD2<Float>
    public var radius: Float
    var blobs: [FundusBlob]

    /// Whether this is a sign of diabetic retinopathy (not drusen or dust).
    public var isRetinopathy: Bool { kind != .drusen && kind != .dust }
}

/// Per-image background appearance: base colour and smooth texture grids (value noise).
struct FundusBackground: Sendable {
    /// Scene colour of the retina far from the macula and disc.
    var color: SIMD3<Float>
    /// Darkening of the macula (per channel, at its centre) and of the fovea.
    var maculaDepth: SIMD3<Float>
    var maculaSigma: Float
    var foveaDepth: Float
    /// Rim and cup colours of the optic disc.
    var rimColor: SIMD3<Float>
    var cupColor: SIMD3<Float>
    /// Coarse brightness variation, coarse green variation and fine choroidal mottling.
    var brightness: FundusNoiseGrid
    var greenShift: FundusNoiseGrid
    var mottling: FundusNoiseGrid
}

/// A square grid of random values spanning retina coordinates [-1.15, 1.15]², read with smooth
/// (smoothstep-weighted bilinear) interpolation.
struct FundusNoiseGrid: Sendable {
    var cells: Int
    var values: [Float]

    init(cells: Int, amplitude: Float, random: inout FundusRandom) {
        self.cells = cells
        values = (0..<((cells + 1) * (cells + 1))).map { _ in amplitude * random.normal() }
    }

    /// Where each coordinate falls along one axis of the grid: the cell and the smoothed weight
    /// of its far side.
    struct Axis {
        var cell: [Int]
        var weight: [Float]

        /// The value at position `k` of the axis, from a row interpolated by `interpolateRow`.
        @inline(__always)
        func value(in row: [Float], at k: Int) -> Float {
            let i = cell[k], f = weight[k]
            return row[i] + (row[i + 1] - row[i]) * f
        }
    }

    private func locate(_ t: Float) -> (Int, Float) {
        let g = min(max((t + 1.15) * Float(cells) / 2.3, 0), Float(cells) - 0.001)
        let i = Int(g)
        let f = g - Float(i)
        return (i, f * f * (3 - 2 * f))
    }

    func axis(_ coordinates: [Float]) -> Axis {
        let located = coordinates.map(locate)
        return Axis(cell: located.map(\.0), weight: located.map(\.1))
    }

    /// The grid interpolated at height `y`: one value per grid column.
    func interpolateRow(at y: Float, into row: inout [Float]) {
        let (i, f) = locate(y)
        let width = cells + 1
        for x in 0..<width {
            let a = values[i * width + x], b = values[(i + 1) * width + x]
            row[x] = a + (b - a) * f
        }
    }
}

/// A vessel as a polyline; each point carries its diameter (retina units).
struct FundusVessel: Sendable {
    enum Kind: Sendable { case artery, vein, newVessel }
    var kind: Kind
    /// Branching depth: 0 for the trunks leaving the disc.
    var depth: Int
    /// (x, y, diameter) per point.
    var points: [SIMD3<Float>]
    /// Contrast of the vessel at full width (thin vessels are drawn fainter).
    var opacity: Float
}

/// An elliptical patch of colour, the drawing primitive of lesions.
struct FundusBlob: Sendable {
    enum Mode: Sendable {
        /// Multiplies the colour under it by the transmission (dark lesions: blood).
        case absorb
        /// Replaces the colour under it (pale lesions: exudates, cotton wool, fibrosis).
        case paint
    }
    var center: SIMD2<Float>
    var radiusX: Float
    var radiusY: Float
    /// Rotation of the x radius from the image x axis, radians.
    var angle: Float
    var opacity: Float
    /// Width of the soft edge as a fraction of the smaller radius (0: as sharp as a pixel allows).
    var softness: Float
    var mode: Mode
    var color: SIMD3<Float>
}

/// The seeded draws the generator needs, over the Tensor module's `RandomGenerator`
/// (a wrapper, so that these helper names stay private to the fundus generator).
struct FundusRandom {
    var generator: RandomGenerator

    init(_ generator: RandomGenerator) { self.generator = generator }

    /// Independent generators for each (seed, index): anatomy, lesions and camera come from
    /// separate streams so that the same eye can be drawn at any grade.
    static func streams(seed: UInt64, index: Int) -> (anatomy: FundusRandom, lesions: FundusRandom, camera: FundusRandom) {
        var root = RandomGenerator(seed: mix(seed) ^ mix(UInt64(bitPattern: Int64(index)) &+ 0x5851_F42D_4C95_7F2D))
        return (FundusRandom(root.split()), FundusRandom(root.split()), FundusRandom(root.split()))
    }

    /// SplitMix64's finaliser.
    static func mix(_ value: UInt64) -> UInt64 {
        var x = value &+ 0x9E37_79B9_7F4A_7C15
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
        return x ^ (x >> 31)
    }

    mutating func next() -> UInt64 { generator.next() }
    mutating func uniform() -> Float { generator.nextUniform() }
    mutating func uniform(_ low: Float, _ high: Float) -> Float { low + (high - low) * generator.nextUniform() }
    mutating func normal() -> Float { generator.nextNormal() }
    mutating func chance(_ probability: Float) -> Bool { generator.nextUniform() < probability }
    mutating func sign() -> Float { generator.next() & 1 == 0 ? 1 : -1 }
    mutating func integer(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(generator.next() % UInt64(range.count))
    }

    /// Poisson draw (Knuth's product of uniforms; means here stay below ~40).
    mutating func poisson(_ mean: Float) -> Int {
        if mean <= 0 { return 0 }
        let limit = exp(-Double(mean))
        var product = 1.0
        var k = -1
        repeat {
            k += 1
            product *= Double(generator.nextUniform()) + 1e-9
        } while product > limit && k < 1000
        return k
    }

    /// Uniform point in the disc of `radius` around `center`.
    mutating func pointInDisc(center: SIMD2<Float> = .zero, radius: Float) -> SIMD2<Float> {
        let r = radius * uniform().squareRoot()
        let a = uniform(0, 2 * .pi)
        return center + SIMD2(r * cos(a), r * sin(a))
    }

    /// Two approximately normal values from one 64-bit draw, each the sum of four 8-bit uniforms
    /// (Irwin–Hall, mean and variance matched): cheap enough for per-pixel sensor noise.
    @inline(__always)
    mutating func fastNormalPair() -> (Float, Float) {
        let bits = generator.next()
        @inline(__always) func byte(_ k: UInt64) -> Float { Float((bits >> (8 * k)) & 0xFF) }
        // Each byte + 0.5 is uniform on (0, 256) in 1/256 steps: mean 128, variance ≈ 256² / 12.
        let scale: Float = 1.7320508 / 256
        let first = (byte(0) + byte(1) + byte(2) + byte(3) - 510) * scale
        let second = (byte(4) + byte(5) + byte(6) + byte(7) - 510) * scale
        return (first, second)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
