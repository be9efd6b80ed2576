import Foundation

/// A point in a mouth crop, in pixels (x right, y down).
public struct Point2: Codable, Equatable, Sendable {
    public var x: Double
    public var y: Double

    public init(_ x: Double, _ y: Double) {
        self.x = x
        self.y = y
    }
}

/// The 20 mouth landmarks of the 68-point face layout (iBUG 300-W, dlib's predictor), points
/// 48–67 in that order: 48 the left mouth corner (image left), 49–53 the outer upper lip left to
/// right, 54 the right corner, 55–59 the outer lower lip right to left, 60 the inner left corner,
/// 61–63 the inner upper lip, 64 the inner right corner, 65–67 the inner lower lip right to left.
public enum MouthLandmarks {
    public static let count = 20
    /// Indices (into the 20) of the outer contour and the inner contour, each a closed polygon.
    public static let outer = Array(0..<12)
    public static let inner = Array(12..<20)

    /// The landmarks of `shape` for `style` in a `size` × `size` crop centred on the mouth.
    public static func points(_ shape: MouthShape, style: SpeakerStyle, size: Int) -> [Point2] {
        let s = Double(size)
        let cx = s / 2, cy = s * 0.5
        let halfWidth = s * 0.27 * style.width * (1 + 0.22 * shape.spread - 0.25 * shape.round)
        let gap = s * 0.3 * style.jaw * max(0, shape.open)
        let thickness = s * 0.065 * style.lips * (1 + 0.45 * shape.round)
        // The jaw carries the lower lip: two thirds of the opening is below the resting line.
        let upper = cy - gap / 3, lower = cy + 2 * gap / 3
        let corner = cy + gap / 10
        let innerHalf = halfWidth * (0.82 - 0.1 * shape.round)
        func lip(_ edge: Double, _ u: Double) -> Double {        // the lip line at u ∈ [−1, 1] across the mouth
            corner + (edge - corner) * (1 - u * u).squareRoot()
        }
        var p: [Point2] = []
        p.append(Point2(cx - halfWidth, corner))                                            // 48
        for u in [-0.6, -0.25, 0.0, 0.25, 0.6] {                                            // 49–53
            let bow = u == 0 ? 0.3 * thickness : 0                                          // Cupid's bow dips at the centre
            p.append(Point2(cx + u * halfWidth, lip(upper - thickness, abs(u) * 0.95) + bow))
        }
        p.append(Point2(cx + halfWidth, corner))                                            // 54
        for u in [0.6, 0.25, 0.0, -0.25, -0.6] {                                            // 55–59
            p.append(Point2(cx + u * halfWidth, lip(lower + 1.2 * thickness, abs(u) * 0.95)))
        }
        p.append(Point2(cx - innerHalf, corner))                                            // 60
        for u in [-0.45, 0.0, 0.45] { p.append(Point2(cx + u * innerHalf, lip(upper, abs(u)))) }   // 61–63
        p.append(Point2(cx + innerHalf, corner))                                            // 64
        for u in [0.45, 0.0, -0.45] { p.append(Point2(cx + u * innerHalf, lip(lower, abs(u)))) }   // 65–67
        return p
    }

    /// Mouth opening: the distance between the inner lips at the centre (points 62 and 66).
    public static func opening(_ points: [Point2]) -> Double { points[18].y - points[14].y }
}

/// Renders grey mouth crops from landmarks: skin, the lips between the outer and inner contours,
/// the dark mouth inside, and upper teeth when it is open; 4 × 4 supersampled.
public enum MouthRenderer {
    /// Grey values in [0, 1], row-major `size × size`.
    public static func render(_ points: [Point2], style: SpeakerStyle, size: Int) -> [Float] {
        let outer = MouthLandmarks.outer.map { points[$0] }
        let inner = MouthLandmarks.inner.map { points[$0] }
        let upperInner = points[14].y, lowerInner = points[18].y
        let open = lowerInner - upperInner
        let teethBottom = upperInner + 0.3 * open
        let sub = 4
        var out = [Float](repeating: 0, count: size * size)
        for y in 0..<size {
            for x in 0..<size {
                var sum = 0.0
                for j in 0..<sub {
                    for i in 0..<sub {
                        let px = Double(x) + (Double(i) + 0.5) / Double(sub), py = Double(y) + (Double(j) + 0.5) / Double(sub)
                        // Skin with a little shading towards the chin.
                        var v = style.skin - 0.06 * (py / Double(size) - 0.5)
                        if contains(outer, px, py) {
                            v = style.lipTone
                            if open > 0.3 && contains(inner, px, py) {
                                v = py < teethBottom ? 0.85 : 0.1
                            }
                        }
                        sum += v
                    }
                }
                out[y * size + x] = Float(sum / Double(sub * sub))
            }
        }
        return out
    }

    /// Even-odd point-in-polygon.
    static func contains(_ polygon: [Point2], _ x: Double, _ y: Double) -> Bool {
        var inside = false
        var j = polygon.count - 1
        for i in 0..<polygon.count {
            let a = polygon[i], b = polygon[j]
            if (a.y > y) != (b.y > y), x < (b.x - a.x) * (y - a.y) / (b.y - a.y) + a.x { inside.toggle() }
            j = i
        }
        return inside
    }
}
