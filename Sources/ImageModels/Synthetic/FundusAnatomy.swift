#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Draws the healthy anatomy of one eye: background, optic disc, macula and the vessel tree.
///
/// Built in a canonical right eye (disc to the right of the fovea, 0.7 field radii apart, as
/// 4.5 mm over a 45° field's 6.5 mm radius) and then mirrored for a left eye and turned by a few
/// degrees, so that the lesion placement that follows sees final coordinates.
struct FundusAnatomy {
    var eye: FundusScene.Eye
    var discCenter: SIMD2<Float>
    var discRadius: Float
    var cupRatio: Float
    var fovea: SIMD2<Float>
    var background: FundusBackground
    var vessels: [FundusVessel]

    init(random: inout FundusRandom) {
        eye = random.chance(0.5) ? .right : .left
        discRadius = random.uniform(0.115, 0.14)
        cupRatio = random.uniform(0.25, 0.55)
        let disc = SIMD2<Float>(random.uniform(0.38, 0.46), random.uniform(-0.06, 0.05))
        let foveaCanonical = disc + SIMD2(-random.uniform(0.66, 0.74), random.uniform(0.02, 0.09))

        // Pigmentation varies between people: a redder or browner, lighter or darker fundus.
        let shade = random.uniform(0.82, 1.08)
        let color = SIMD3<Float>(random.uniform(0.80, 0.90) * shade, random.uniform(0.31, 0.43) * shade,
                                 random.uniform(0.11, 0.20) * shade)
        background = FundusBackground(
            color: color,
            maculaDepth: SIMD3(random.uniform(0.18, 0.30), random.uniform(0.28, 0.42), random.uniform(0.2, 0.32)),
            maculaSigma: random.uniform(0.09, 0.13),
            foveaDepth: random.uniform(0.08, 0.18),
            // Scene colours above 1 are allowed: the disc often saturates in photographs.
            rimColor: SIMD3(random.uniform(1.0, 1.1), random.uniform(0.76, 0.88), random.uniform(0.46, 0.6)),
            cupColor: SIMD3(1.1, random.uniform(0.98, 1.05), random.uniform(0.78, 0.9)),
            brightness: FundusNoiseGrid(cells: 5, amplitude: 0.06, random: &random),
            greenShift: FundusNoiseGrid(cells: 5, amplitude: 0.06, random: &random),
            mottling: FundusNoiseGrid(cells: 26, amplitude: 0.022, random: &random))

        var tree = VesselTree(fovea: foveaCanonical, disc: disc, discRadius: discRadius)
        tree.growTrunks(random: &random)

        // Final placement: mirror a left eye, turn the whole fundus slightly about the centre.
        let mirror: Float = eye == .right ? 1 : -1
        let turn = random.uniform(-0.08, 0.08)
        let (c, s) = (cos(turn), sin(turn))
        func place(_ p: SIMD2<Float>) -> SIMD2<Float> {
            let q = SIMD2(mirror * p.x, p.y)
            return SIMD2(c * q.x - s * q.y, s * q.x + c * q.y)
        }
        discCenter = place(disc)
        fovea = place(foveaCanonical)
        vessels = tree.vessels.map { vessel in
            var v = vessel
            v.points = vessel.points.map { p in
                let q = place(SIMD2(p.x, p.y))
                return SIMD3(q.x, q.y, p.z)
            }
            return v
        }
    }
}

/// Grows a vessel tree from the optic disc: two arteries and two veins per quadrant, each a
/// smooth random walk whose curvature decays from its start value (so temporal vessels arc
/// around the macula) plus an Ornstein–Uhlenbeck wiggle, branching every so often with Murray's
/// law for the widths (d_parent³ = d_continued³ + d_child³), stopping at the rim of the field,
/// at the foveal avascular zone, or when too thin to see.
struct VesselTree {
    let fovea: SIMD2<Float>
    let disc: SIMD2<Float>
    let discRadius: Float
    var vessels: [FundusVessel] = []
    /// Caps the work per image whatever the random draws do.
    var pointBudget = 3_200

    static let step: Float = 0.012
    static let minimumDiameter: Float = 0.0045

    init(fovea: SIMD2<Float>, disc: SIMD2<Float>, discRadius: Float) {
        self.fovea = fovea
        self.disc = disc
        self.discRadius = discRadius
    }

    struct Sprout {
        var kind: FundusVessel.Kind
        var start: SIMD2<Float>
        var angle: Float
        var diameter: Float
        var depth: Int
        var curvature: Float
        var curvatureLength: Float
        var maxLength: Float
    }

    mutating func growTrunks(random: inout FundusRandom) {
        var sprouts: [Sprout] = []
        let veinD = random.uniform(0.030, 0.038)
        let arteryD = veinD * random.uniform(0.68, 0.78)
        // (start angle, initial curvature, curvature decay length) per quadrant, canonical right
        // eye: superotemporal, inferotemporal (arcades), superonasal, inferonasal.
        let quadrants: [(Float, Float, Float)] = [
            (-.pi / 2 - 0.2, -3.8, 0.5), (.pi / 2 + 0.2, 3.8, 0.5),
            (-.pi / 2 + 0.55, 0.7, 1.0), (.pi / 2 - 0.55, -0.7, 1.0),
        ]
        for (q, (angle, curvature, length)) in quadrants.enumerated() {
            let nasal = q >= 2
            for kind in [FundusVessel.Kind.vein, .artery] {
                let offset = random.pointInDisc(radius: discRadius * 0.25)
                sprouts.append(Sprout(
                    kind: kind, start: disc + offset, angle: angle + random.uniform(-0.18, 0.18),
                    diameter: (kind == .vein ? veinD : arteryD) * random.uniform(0.88, 1.08) * (nasal ? 0.85 : 1),
                    depth: 0, curvature: curvature * random.uniform(0.8, 1.2),
                    curvatureLength: length * random.uniform(0.85, 1.15), maxLength: 2.2))
            }
        }
        // Small papillomacular and nasal vessels, leaving from the disc margin.
        func margin(_ angle: Float) -> SIMD2<Float> { disc + discRadius * 0.8 * SIMD2(cos(angle), sin(angle)) }
        for _ in 0..<random.integer(2...4) {
            let kind: FundusVessel.Kind = random.chance(0.5) ? .artery : .vein
            let angle = Float.pi + random.uniform(-0.45, 0.45)
            sprouts.append(Sprout(kind: kind, start: margin(angle), angle: angle, diameter: random.uniform(0.008, 0.013),
                                  depth: 2, curvature: random.uniform(-0.8, 0.8), curvatureLength: 0.5,
                                  maxLength: random.uniform(0.3, 0.55)))
        }
        for _ in 0..<random.integer(1...2) {
            let kind: FundusVessel.Kind = random.chance(0.5) ? .artery : .vein
            let angle = random.uniform(-0.4, 0.4)
            sprouts.append(Sprout(kind: kind, start: margin(angle), angle: angle, diameter: random.uniform(0.010, 0.015),
                                  depth: 2, curvature: random.uniform(-0.8, 0.8), curvatureLength: 0.6,
                                  maxLength: 1.0))
        }
        // Breadth-first, so the budget trims the finest branches first.
        var head = 0
        while head < sprouts.count {
            let sprout = sprouts[head]
            head += 1
            grow(sprout, random: &random, sprouts: &sprouts)
        }
    }

    mutating func grow(_ sprout: Sprout, random: inout FundusRandom, sprouts: inout [Sprout]) {
        guard pointBudget > 0 else { return }
        let step = VesselTree.step
        var p = sprout.start
        var angle = sprout.angle
        var d = sprout.diameter
        var wiggle: Float = 0
        var s: Float = 0
        var points = [SIMD3(p.x, p.y, d)]
        var side = random.sign()
        var nextBranch = s + random.uniform(0.06, 0.16) * (sprout.depth == 0 ? 1.4 : 1)
        let taper: Float = sprout.depth == 0 ? 0.9975 : 0.995
        let wiggleStrength: Float = sprout.depth == 0 ? 0.9 : 1.4
        while s < sprout.maxLength && pointBudget > 0 {
            wiggle += -0.12 * wiggle + wiggleStrength * random.normal()
            let kappa = sprout.curvature * exp(-s / sprout.curvatureLength) + wiggle
            angle += kappa * step
            p += step * SIMD2(cos(angle), sin(angle))
            s += step
            d *= taper
            pointBudget -= 1
            let outside = (p * p).sum() > 1.06 * 1.06
            let foveaGap = 0.07 + 3 * d
            if ((p - fovea) * (p - fovea)).sum() < foveaGap * foveaGap { break }
            points.append(SIMD3(p.x, p.y, d))
            if outside || d < VesselTree.minimumDiameter { break }
            // Leave the disc before branching, and branch less when thin.
            let offDisc = ((p - disc) * (p - disc)).sum() > discRadius * discRadius * 1.4
            if s >= nextBranch && offDisc && sprout.depth < 4 && d > VesselTree.minimumDiameter * 2 {
                let child = d * random.uniform(0.4, 0.72)
                let branchAngle = angle + side * random.uniform(0.45, 1.1)
                sprouts.append(Sprout(
                    kind: sprout.kind, start: p, angle: branchAngle, diameter: child, depth: sprout.depth + 1,
                    curvature: side * random.uniform(-0.5, 2.0), curvatureLength: random.uniform(0.2, 0.6),
                    maxLength: random.uniform(0.25, 0.9)))
                d = max(VesselTree.minimumDiameter, cbrt(max(d * d * d - child * child * child, 0)) * 1.05)
                side = random.chance(0.75) ? -side : side
                nextBranch = s + random.uniform(0.07, 0.2)
            }
        }
        guard points.count >= 2 else { return }
        vessels.append(FundusVessel(kind: sprout.kind, depth: sprout.depth, points: points,
                                    opacity: sprout.kind == .vein ? 1 : 0.9))
    }
}
