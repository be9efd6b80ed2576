#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Places the lesions of one grade on an eye, following the international clinical diabetic
/// retinopathy scale: 0 none; 1 microaneurysms only; 2 moderate (haemorrhages, some exudates and
/// cotton-wool spots); 3 severe (many haemorrhages in every quadrant, venous beading, more
/// exudates and cotton-wool spots); 4 proliferative (new vessels, sometimes preretinal
/// haemorrhage and fibrosis, on top of a grade-2 or grade-3 background).
///
/// Counts are Poisson draws whose means grow with a severity `s ∈ [0, 1)` drawn uniformly within
/// the grade, so that a mild grade 3 looks much like a severe grade 2 — the overlap real graders
/// face. Sizes are in field-of-view radii (an image of any size shows the same retina).
struct FundusLesionPlanner {
    let anatomy: FundusAnatomy
    var lesions: [FundusLesion] = []
    var newVessels: [FundusVessel] = []
    /// Venous beading: relative amplitude and period (retina units) of vein calibre changes.
    var beading: (amplitude: Float, period: Float)?

    init(anatomy: FundusAnatomy) { self.anatomy = anatomy }

    /// Lesions for `grade`, and look-alikes (drusen, dust) at any grade.
    ///
    /// The look-alikes are drawn first, so they are the same at every grade of an eye, and
    /// appended last (dust lies on the optics, over everything).
    mutating func plan(grade: Int, dustProbability: Float, random: inout FundusRandom) {
        var lookAlikes = FundusLesionPlanner(anatomy: anatomy)
        if random.chance(0.2) { lookAlikes.addDrusen(random: &random) }
        if random.chance(dustProbability) {
            for _ in 0..<random.integer(1...3) { lookAlikes.addDust(random: &random) }
        }
        defer { lesions += lookAlikes.lesions }
        let severity = random.uniform()
        switch grade {
        case 1:
            add(1 + random.poisson(0.8 + 4 * severity), microaneurysmAt: &random)
        case 2:
            moderate(severity: severity, random: &random)
        case 3:
            severe(severity: severity, random: &random)
        case 4:
            if random.chance(0.5) { moderate(severity: 0.4 + 0.6 * severity, random: &random) }
            else { severe(severity: 0.6 * severity, random: &random) }
            for _ in 0..<(1 + random.poisson(0.4 + 1.4 * severity)) { addNewVessels(random: &random) }
            if random.chance(0.35) { addPreretinalHaemorrhage(random: &random) }
            if random.chance(0.2) { addFibrosis(random: &random) }
        default:
            break
        }
    }

    private mutating func moderate(severity s: Float, random: inout FundusRandom) {
        add(2 + random.poisson(3 + 8 * s), microaneurysmAt: &random)
        for _ in 0..<(1 + random.poisson(1 + 6 * s)) { addHaemorrhage(random: &random) }
        for _ in 0..<random.poisson(0.3 + 1.5 * s) { addExudates(random: &random) }
        for _ in 0..<random.poisson(0.1 + 0.7 * s) { addCottonWool(random: &random) }
    }

    private mutating func severe(severity s: Float, random: inout FundusRandom) {
        add(6 + random.poisson(6 + 10 * s), microaneurysmAt: &random)
        // At least a few haemorrhages in each quadrant around the disc–fovea axis (4-2-1 rule).
        for q in 0..<4 { for _ in 0..<(2 + random.poisson(1 + 3 * s)) { addHaemorrhage(quadrant: q, random: &random) } }
        for _ in 0..<random.poisson(1 + 2.5 * s) { addExudates(random: &random) }
        for _ in 0..<(1 + random.poisson(0.8 + 2 * s)) { addCottonWool(random: &random) }
        if random.chance(0.65) { beading = (random.uniform(0.15, 0.3), random.uniform(0.07, 0.11)) }
    }

    // MARK: - Where lesions go

    /// A point of the posterior pole, off the optic disc; lesions gather around the macula.
    /// With `quadrant` (0–3), in that quadrant around the image centre.
    func lesionSite(quadrant: Int? = nil, random: inout FundusRandom) -> SIMD2<Float> {
        for _ in 0..<32 {
            var p: SIMD2<Float>
            if let q = quadrant {
                let a = (Float(q) + random.uniform()) * (.pi / 2)
                let r = 0.15 + 0.72 * random.uniform().squareRoot()
                p = SIMD2(r * cos(a), r * sin(a))
            } else if random.chance(0.5) {
                p = anatomy.fovea + 0.3 * SIMD2(random.normal(), random.normal())
            } else {
                p = random.pointInDisc(radius: 0.88)
            }
            let toDisc = p - anatomy.discCenter
            if (p * p).sum() < 0.88 * 0.88 && (toDisc * toDisc).sum() > pow(anatomy.discRadius * 1.5, 2) { return p }
        }
        return anatomy.fovea + SIMD2(0.1, 0.1)
    }

    /// A point beside a vessel of depth ≤ `maxDepth`, off the disc, and the vessel's direction.
    func besideVessel(maxDepth: Int, random: inout FundusRandom) -> (SIMD2<Float>, SIMD2<Float>) {
        let candidates = anatomy.vessels.filter { $0.depth <= maxDepth && $0.points.count > 8 }
        guard !candidates.isEmpty else { return (lesionSite(random: &random), SIMD2(1, 0)) }
        for _ in 0..<32 {
            let vessel = candidates[random.integer(0...(candidates.count - 1))]
            let i = random.integer(2...(vessel.points.count - 2))
            let a = vessel.points[i - 1], b = vessel.points[i + 1]
            var dir = SIMD2(b.x - a.x, b.y - a.y)
            dir /= max((dir * dir).sum().squareRoot(), 1e-6)
            let normal = SIMD2(-dir.y, dir.x)
            let p = SIMD2(vessel.points[i].x, vessel.points[i].y)
                + random.sign() * (vessel.points[i].z / 2 + random.uniform(0.01, 0.04)) * normal
            let toDisc = p - anatomy.discCenter
            if (p * p).sum() < 0.9 * 0.9 && (toDisc * toDisc).sum() > pow(anatomy.discRadius * 1.6, 2) { return (p, dir) }
        }
        return (lesionSite(random: &random), SIMD2(1, 0))
    }

    // MARK: - Lesions

    private mutating func add(_ count: Int, microaneurysmAt random: inout FundusRandom) {
        for _ in 0..<count {
            let p = lesionSite(random: &random)
            let r = random.uniform(0.009, 0.016)
            lesions.append(FundusLesion(kind: .microaneurysm, center: p, radius: r, blobs: [
                FundusBlob(center: p, radiusX: r, radiusY: r, angle: 0, opacity: random.uniform(0.8, 0.95),
                           softness: 0.15, mode: .absorb, color: SIMD3(0.6, 0.2, 0.27)),
            ]))
        }
    }

    private mutating func addHaemorrhage(quadrant: Int? = nil, random: inout FundusRandom) {
        let blood = SIMD3<Float>(0.6, 0.2, 0.27) * random.uniform(0.92, 1.08)
        let shape = random.uniform()
        var blobs: [FundusBlob] = []
        var center: SIMD2<Float>
        var radius: Float
        if shape < 0.22 {
            // Flame: superficial, along the nerve fibres, which run radially from the disc.
            let (p, _) = besideVessel(maxDepth: 2, random: &random)
            center = quadrant == nil ? p : lesionSite(quadrant: quadrant, random: &random)
            let fibre = center - anatomy.discCenter
            let angle = atan2(fibre.y, fibre.x)
            radius = random.uniform(0.04, 0.07)
            let width = random.uniform(0.012, 0.02)
            blobs.append(FundusBlob(center: center, radiusX: radius, radiusY: width, angle: angle,
                                    opacity: random.uniform(0.65, 0.8), softness: 0.6, mode: .absorb, color: blood))
            let along = SIMD2(cos(angle), sin(angle)) * radius * 0.5
            blobs.append(FundusBlob(center: center + along, radiusX: radius * 0.6, radiusY: width * 0.7, angle: angle + random.uniform(-0.2, 0.2),
                                    opacity: 0.4, softness: 0.8, mode: .absorb, color: blood))
        } else if shape < 0.6 {
            // Blot: deeper, irregular, several overlapping patches.
            center = lesionSite(quadrant: quadrant, random: &random)
            radius = random.uniform(0.022, 0.045)
            for _ in 0..<random.integer(2...4) {
                let r = radius * random.uniform(0.5, 0.85)
                blobs.append(FundusBlob(center: center + random.pointInDisc(radius: radius * 0.5),
                                        radiusX: r, radiusY: r * random.uniform(0.6, 1), angle: random.uniform(0, .pi),
                                        opacity: random.uniform(0.5, 0.7), softness: 0.35, mode: .absorb, color: blood))
            }
        } else {
            // Dot: small, round, well defined.
            center = lesionSite(quadrant: quadrant, random: &random)
            radius = random.uniform(0.014, 0.026)
            blobs.append(FundusBlob(center: center, radiusX: radius, radiusY: radius * random.uniform(0.8, 1),
                                    angle: random.uniform(0, .pi), opacity: random.uniform(0.8, 0.92),
                                    softness: 0.25, mode: .absorb, color: blood))
        }
        lesions.append(FundusLesion(kind: .haemorrhage, center: center, radius: radius, blobs: blobs))
    }

    private mutating func addExudates(random: inout FundusRandom) {
        // Hard exudates gather around leaking capillaries, often near the macula, sometimes in a ring.
        var center = anatomy.fovea + 0.22 * SIMD2(random.normal(), random.normal())
        if (center * center).sum() > 0.8 * 0.8 { center = lesionSite(random: &random) }
        let spread = random.uniform(0.03, 0.09)
        let ring = random.chance(0.45)
        let start = random.uniform(0, 2 * .pi), arc = random.uniform(.pi, 2 * .pi)
        let yellow = SIMD3<Float>(1.0, random.uniform(0.86, 0.95), random.uniform(0.45, 0.62))
        var blobs: [FundusBlob] = []
        for k in 0..<random.integer(4...16) {
            let p: SIMD2<Float>
            if ring {
                let a = start + arc * random.uniform()
                p = center + spread * random.uniform(0.8, 1.1) * SIMD2(cos(a), sin(a))
            } else {
                p = random.pointInDisc(center: center, radius: spread * (k == 0 ? 0.2 : 1))
            }
            let r = random.uniform(0.005, 0.014)
            blobs.append(FundusBlob(center: p, radiusX: r, radiusY: r * random.uniform(0.6, 1), angle: random.uniform(0, .pi),
                                    opacity: random.uniform(0.8, 1), softness: 0.2, mode: .paint, color: yellow))
        }
        lesions.append(FundusLesion(kind: .hardExudate, center: center, radius: spread, blobs: blobs))
    }

    private mutating func addCottonWool(random: inout FundusRandom) {
        // Nerve-fibre infarcts: pale, fluffy, along the arcades near the disc.
        let (center, dir) = besideVessel(maxDepth: 1, random: &random)
        let radius = random.uniform(0.035, 0.06)
        let angle = atan2(dir.y, dir.x)
        let pale = SIMD3<Float>(0.96, random.uniform(0.86, 0.92), random.uniform(0.74, 0.84))
        var blobs: [FundusBlob] = []
        for _ in 0..<random.integer(4...6) {
            let r = radius * random.uniform(0.45, 0.8)
            blobs.append(FundusBlob(center: center + random.pointInDisc(radius: radius * 0.6), radiusX: r * random.uniform(1, 1.6),
                                    radiusY: r, angle: angle + random.uniform(-0.5, 0.5),
                                    opacity: random.uniform(0.16, 0.3), softness: 1, mode: .paint, color: pale))
        }
        lesions.append(FundusLesion(kind: .cottonWoolSpot, center: center, radius: radius, blobs: blobs))
    }

    private mutating func addNewVessels(random: inout FundusRandom) {
        // On the disc (NVD) or elsewhere along a major vessel (NVE): a tangle of fine loops.
        let center: SIMD2<Float>
        if random.chance(0.45) {
            center = anatomy.discCenter + random.pointInDisc(radius: anatomy.discRadius * 0.9)
        } else {
            center = besideVessel(maxDepth: 1, random: &random).0
        }
        let extent = random.uniform(0.05, 0.09)
        for _ in 0..<random.integer(6...12) {
            var p = center + random.pointInDisc(radius: extent * 0.4)
            var angle = random.uniform(0, 2 * .pi)
            var turn = random.uniform(-25, 25)
            let d = random.uniform(0.007, 0.011)
            var points = [SIMD3(p.x, p.y, d)]
            for _ in 0..<Int(random.uniform(0.08, 0.2) / 0.006) {
                turn += -0.3 * turn + 20 * random.normal()
                let away = p - center
                if (away * away).sum() > extent * extent {
                    // Steer back into the tuft: tortuous loops, not straight runs.
                    let home = atan2(-away.y, -away.x)
                    angle += 0.35 * remainder(home - angle, 2 * .pi)
                }
                angle += turn * 0.006
                p += 0.006 * SIMD2(cos(angle), sin(angle))
                points.append(SIMD3(p.x, p.y, d))
            }
            newVessels.append(FundusVessel(kind: .newVessel, depth: 9, points: points, opacity: random.uniform(0.75, 0.95)))
        }
        lesions.append(FundusLesion(kind: .newVessels, center: center, radius: extent, blobs: []))
    }

    private mutating func addPreretinalHaemorrhage(random: inout FundusRandom) {
        let (center, _) = besideVessel(maxDepth: 1, random: &random)
        let rx = random.uniform(0.08, 0.13), ry = rx * random.uniform(0.55, 0.75)
        let blood = SIMD3<Float>(0.5, 0.13, 0.17)
        let blobs = [
            FundusBlob(center: center, radiusX: rx, radiusY: ry, angle: random.uniform(-0.15, 0.15),
                       opacity: 0.92, softness: 0.15, mode: .absorb, color: blood),
            // The settled blood makes the lower part darker (the "boat" shape).
            FundusBlob(center: center + SIMD2(0, ry * 0.35), radiusX: rx * 0.8, radiusY: ry * 0.6, angle: 0,
                       opacity: 0.5, softness: 0.4, mode: .absorb, color: blood),
        ]
        lesions.append(FundusLesion(kind: .preretinalHaemorrhage, center: center, radius: rx, blobs: blobs))
    }

    private mutating func addFibrosis(random: inout FundusRandom) {
        let (center, dir) = besideVessel(maxDepth: 1, random: &random)
        let r = random.uniform(0.06, 0.11)
        let blob = FundusBlob(center: center, radiusX: r, radiusY: r * 0.4, angle: atan2(dir.y, dir.x),
                              opacity: random.uniform(0.3, 0.45), softness: 0.9, mode: .paint, color: SIMD3(0.95, 0.9, 0.84))
        lesions.append(FundusLesion(kind: .fibrosis, center: center, radius: r, blobs: [blob]))
    }

    private mutating func addDrusen(random: inout FundusRandom) {
        let center = anatomy.fovea + random.pointInDisc(radius: 0.12)
        var blobs: [FundusBlob] = []
        for _ in 0..<random.integer(2...8) {
            let r = random.uniform(0.007, 0.014)
            blobs.append(FundusBlob(center: random.pointInDisc(center: center, radius: 0.12), radiusX: r, radiusY: r, angle: 0,
                                    opacity: random.uniform(0.3, 0.5), softness: 0.8, mode: .paint, color: SIMD3(0.98, 0.84, 0.5)))
        }
        lesions.append(FundusLesion(kind: .drusen, center: center, radius: 0.12, blobs: blobs))
    }

    private mutating func addDust(random: inout FundusRandom) {
        let center = random.pointInDisc(radius: 0.9)
        let r = random.uniform(0.02, 0.05)
        let blob = FundusBlob(center: center, radiusX: r, radiusY: r, angle: 0, opacity: random.uniform(0.25, 0.45),
                              softness: 1, mode: .absorb, color: SIMD3(0.75, 0.72, 0.72))
        lesions.append(FundusLesion(kind: .dust, center: center, radius: r, blobs: [blob]))
    }
}
