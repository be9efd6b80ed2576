import XCTest
import ImageModels

/// The synthetic fundus generator: reproducible, valid pixels, lesions that follow the grade, and
/// two sites that differ as two cameras do. Small images (debug builds are slow).
final class FundusGeneratorTests: XCTestCase {
    /// Field-of-view geometry worked out from the camera's documented meaning, not the renderer.
    private func field(_ camera: FundusCamera, size: Int) -> (cx: Float, cy: Float, r: Float) {
        let half = Float(size) / 2
        return (half * (1 + camera.fieldCenterX), half * (1 + camera.fieldCenterY), half * camera.fieldRadius)
    }

    private func distance(_ x: Int, _ y: Int, _ f: (cx: Float, cy: Float, r: Float)) -> Float {
        let dx = Float(x) + 0.5 - f.cx, dy = Float(y) + 0.5 - f.cy
        return (dx * dx + dy * dy).squareRoot()
    }

    func testSameSeedAndIndexGiveIdenticalPixels() {
        let a = FundusGenerator(site: .target, size: 48, seed: 11)
        let b = FundusGenerator(site: .target, size: 48, seed: 11)
        for (index, grade) in [(0, 0), (3, 2), (17, 4)] {
            XCTAssertEqual(a.image(index: index, grade: grade), b.image(index: index, grade: grade))
        }
        // Different index or seed: a different eye.
        func changedFraction(_ x: [Float], _ y: [Float]) -> Double {
            Double(zip(x, y).filter { abs($0 - $1) > 0.02 }.count) / Double(x.count)
        }
        XCTAssertGreaterThan(changedFraction(a.image(index: 0, grade: 2), a.image(index: 1, grade: 2)), 0.2)
        let c = FundusGenerator(site: .target, size: 48, seed: 12)
        XCTAssertGreaterThan(changedFraction(a.image(index: 0, grade: 2), c.image(index: 0, grade: 2)), 0.2)
    }

    func testParallelBatchEqualsOneByOne() {
        let g = FundusGenerator(site: .source, size: 32, seed: 5)
        let indices = [9, 2, 7, 0, 4, 4], grades = [0, 1, 2, 3, 4, 0]
        let batch = g.images(indices: indices, grades: grades)
        for k in indices.indices {
            XCTAssertEqual(batch[k], g.image(index: indices[k], grade: grades[k]), "item \(k)")
        }
        let t = g.tensor(index: 9, grade: 0)
        XCTAssertEqual(t.shape, [3, 32, 32])
        XCTAssertEqual(t.scalars, batch[0])
    }

    func testValuesInUnitRangeAndBlackOutsideTheField() {
        let size = 40
        for site in [FundusSite.source, .target] {
            let g = FundusGenerator(site: site, size: size, seed: 3)
            let f = field(site.camera, size: size)
            for grade in 0..<5 {
                let pixels = g.image(index: grade, grade: grade)
                XCTAssertEqual(pixels.count, 3 * size * size)
                XCTAssertTrue(pixels.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 1 }, "\(site.name) grade \(grade)")
                var insideSum: Float = 0, insideCount = 0
                for y in 0..<size {
                    for x in 0..<size {
                        let d = distance(x, y, f)
                        let rgb = (0..<3).map { pixels[$0 * size * size + y * size + x] }
                        if d > f.r + 1 {
                            XCTAssertEqual(rgb, [0, 0, 0], "\(site.name) pixel (\(x), \(y)) outside the field")
                        } else if d < f.r - 2 {
                            insideSum += rgb.reduce(0, +); insideCount += 1
                        }
                    }
                }
                // The fundus is lit: orange-red, far from black, inside the field.
                XCTAssertGreaterThan(insideSum / Float(3 * insideCount), 0.15, "\(site.name) grade \(grade)")
            }
        }
    }

    func testFundusColoursAndAnatomy() {
        // Orange-red background (red > green > blue), bright disc, darker macula.
        let size = 96
        let g = FundusGenerator(site: .custom(FundusCamera(noise: 0, vignetting: 0)), size: size, seed: 21)
        let n = size * size
        for index in 0..<16 {
            let scene = g.scene(index: index, grade: 0)
            let pixels = g.image(index: index, grade: 0)
            let f = field(g.site.camera, size: size)
            // A quantile colour (by brightness) of a round region: robust to vessels crossing it.
            func colour(at p: SIMD2<Float>, radius: Float, quantile: Double = 0.5) -> SIMD3<Float> {
                var colours: [SIMD3<Float>] = []
                for y in 0..<size {
                    for x in 0..<size {
                        let rx = (Float(x) + 0.5 - f.cx) / f.r, ry = (Float(y) + 0.5 - f.cy) / f.r
                        if (rx - p.x) * (rx - p.x) + (ry - p.y) * (ry - p.y) < radius * radius {
                            colours.append(SIMD3(pixels[y * size + x], pixels[n + y * size + x], pixels[2 * n + y * size + x]))
                        }
                    }
                }
                return colours.sorted { $0.sum() < $1.sum() }[Int(Double(colours.count - 1) * quantile)]
            }
            // The disc's tissue, between the vessels on it: its brighter half.
            let disc = colour(at: scene.discCenter, radius: scene.discRadius * 0.7, quantile: 0.75)
            let macula = colour(at: scene.fovea, radius: 0.05)
            // Background: a ring between the disc and the macula's far side, away from both.
            let away = scene.fovea + (scene.fovea - scene.discCenter) * 0.45
            let background = colour(at: away + SIMD2(0, 0.25), radius: 0.08)
            XCTAssertGreaterThan(background.x, background.y, "index \(index): red over green")
            XCTAssertGreaterThan(background.y, background.z, "index \(index): green over blue")
            XCTAssertGreaterThan(disc.sum(), background.sum() * 1.25, "index \(index): bright disc")
            XCTAssertGreaterThan(disc.y / disc.x, background.y / background.x, "index \(index): disc is yellower")
            XCTAssertLessThan(macula.sum(), background.sum(), "index \(index): darker macula")
            // The disc is on the nasal side: right of the fovea in a right eye.
            XCTAssertEqual(scene.discCenter.x > scene.fovea.x, scene.eye == .right)
        }
    }

    func testTheSameEyeAtEveryGrade() {
        let g = FundusGenerator(site: .source, size: 32, seed: 8)
        let base = g.scene(index: 6, grade: 0)
        for grade in 1..<5 {
            let s = g.scene(index: 6, grade: grade)
            XCTAssertEqual(s.discCenter, base.discCenter)
            XCTAssertEqual(s.fovea, base.fovea)
            XCTAssertEqual(s.eye, base.eye)
        }
    }

    func testLesionsFollowTheGradingScale() {
        let g = FundusGenerator(site: .source, size: 16, seed: 99)
        let dr: [FundusLesion.Kind] = [.microaneurysm, .haemorrhage, .hardExudate, .cottonWoolSpot, .newVessels,
                                      .preretinalHaemorrhage, .fibrosis]
        var haemorrhages = [[Int]](repeating: [], count: 5)
        var totals = [Double](repeating: 0, count: 5)
        let eyes = 60
        for index in 0..<eyes {
            for grade in 0..<5 {
                let s = g.scene(index: index, grade: grade)
                let count = dr.reduce(0) { $0 + s.count($1) }
                totals[grade] += Double(count) / Double(eyes)
                haemorrhages[grade].append(s.count(.haemorrhage))
                switch grade {
                case 0:
                    XCTAssertEqual(count, 0, "grade 0 has no retinopathy")
                case 1:
                    XCTAssertGreaterThan(s.count(.microaneurysm), 0)
                    XCTAssertEqual(count, s.count(.microaneurysm), "grade 1 has microaneurysms only")
                case 2, 3:
                    XCTAssertGreaterThan(s.count(.haemorrhage), 0)
                    XCTAssertEqual(s.count(.newVessels), 0)
                default:
                    XCTAssertGreaterThan(s.count(.newVessels), 0, "grade 4 is proliferative")
                }
                // Look-alikes are the same whatever the grade.
                XCTAssertEqual(s.count(.dust), g.scene(index: index, grade: 0).count(.dust))
            }
        }
        // More lesions with grade, on average.
        XCTAssertLessThan(totals[0], totals[1])
        XCTAssertLessThan(totals[1], totals[2])
        XCTAssertLessThan(totals[2], totals[3])
        XCTAssertGreaterThan(totals[4], totals[2])
        XCTAssertGreaterThan(Double(haemorrhages[3].reduce(0, +)), 2.5 * Double(haemorrhages[2].reduce(0, +)))
        // ...yet neighbouring grades overlap: a bad grade 2 has more haemorrhages than a mild grade 3.
        XCTAssertGreaterThan(haemorrhages[2].max()!, haemorrhages[3].min()!)
        XCTAssertGreaterThan(Set(haemorrhages[2]).count, 4, "counts vary within a grade")
    }

    func testLesionPixelsGrowWithGrade() {
        // The anatomy and the camera do not depend on the grade, so image(i, g) − image(i, 0) shows
        // the lesions alone: dark red ones darken green most, pale ones brighten every channel.
        let size = 64, n = size * size
        let g = FundusGenerator(site: .source, size: size, seed: 4)
        var dark = [Double](repeating: 0, count: 5), pale = [Double](repeating: 0, count: 5)
        let eyes = 12
        for index in 0..<eyes {
            let healthy = g.image(index: index, grade: 0)
            for grade in 0..<5 {
                let image = g.image(index: index, grade: grade)
                for i in 0..<n {
                    let dr = image[i] - healthy[i], dg = image[n + i] - healthy[n + i], db = image[2 * n + i] - healthy[2 * n + i]
                    if dg < -0.04 && dg < dr { dark[grade] += 1 / Double(eyes) }
                    if dr + dg + db > 0.15 { pale[grade] += 1 / Double(eyes) }
                }
            }
        }
        XCTAssertEqual(dark[0], 0)
        XCTAssertEqual(pale[0], 0)
        XCTAssertGreaterThan(dark[1], 0, "microaneurysms show")
        XCTAssertLessThan(dark[1], dark[2])
        XCTAssertLessThan(dark[2], dark[3])
        XCTAssertGreaterThan(dark[4], dark[1])
        XCTAssertEqual(pale[1], 0, "grade 1 has no exudates or cotton-wool spots")
        XCTAssertGreaterThan(pale[3], pale[1])
        XCTAssertGreaterThan(pale[3], 0)
    }

    func testSitesDifferLikeTwoCameras() {
        let size = 48, n = size * size
        func channelMeans(_ site: FundusSite) -> SIMD3<Double> {
            let g = FundusGenerator(site: site, size: size, seed: 2)
            let f = field(site.camera, size: size)
            var sum = SIMD3<Double>(repeating: 0)
            for index in 0..<10 {
                let p = g.image(index: index, grade: index % 5)
                for y in 0..<size {
                    for x in 0..<size where distance(x, y, f) < f.r * 0.8 {
                        let i = y * size + x
                        sum += SIMD3(Double(p[i]), Double(p[n + i]), Double(p[2 * n + i]))
                    }
                }
            }
            return sum
        }
        let source = channelMeans(.source), target = channelMeans(.target)
        // The target camera is cooler and greener: more green and blue relative to red.
        XCTAssertGreaterThan(target.y / target.x, source.y / source.x * 1.15)
        XCTAssertGreaterThan(target.z / target.x, source.z / source.x * 1.1)

        // Field of view: the source's lies inside the frame (top row black), the target's larger
        // one is clipped at the top edge.
        let s = FundusGenerator(site: .source, size: size, seed: 2).image(index: 0, grade: 0)
        let t = FundusGenerator(site: .target, size: size, seed: 2).image(index: 0, grade: 0)
        XCTAssertEqual(s[size / 2], 0)
        XCTAssertGreaterThan(t[size / 2] + t[n + size / 2], 0.05)
    }

    func testBlurAndNoiseSettingsDoWhatTheySay() {
        // Same eye, one camera setting changed: the mean squared difference between neighbouring
        // pixels (high-frequency energy) falls with blur and rises with noise.
        let size = 64
        func roughness(_ camera: FundusCamera) -> Double {
            let p = FundusGenerator(site: .custom(camera), size: size, seed: 6).image(index: 1, grade: 3)
            var sum = 0.0
            for c in 0..<3 {
                for y in 8..<(size - 8) {
                    for x in 8..<(size - 9) {
                        let i = c * size * size + y * size + x
                        sum += Double((p[i + 1] - p[i]) * (p[i + 1] - p[i]))
                    }
                }
            }
            return sum
        }
        let plain = FundusCamera(noise: 0)
        var blurred = plain; blurred.blur = 0.02
        var noisy = plain; noisy.noise = 0.05
        XCTAssertLessThan(roughness(blurred), roughness(plain) * 0.6)
        XCTAssertGreaterThan(roughness(noisy), roughness(plain) * 1.3)
        // Noise alone: the difference has the requested standard deviation (clamping aside).
        let a = FundusGenerator(site: .custom(noisy), size: size, seed: 6).image(index: 1, grade: 0)
        let b = FundusGenerator(site: .custom(plain), size: size, seed: 6).image(index: 1, grade: 0)
        let inside = zip(a, b).filter { $1 > 0.1 && $1 < 0.9 }.map { Double($0 - $1) }
        let sd = (inside.map { $0 * $0 }.reduce(0, +) / Double(inside.count)).squareRoot()
        XCTAssertEqual(sd, 0.05, accuracy: 0.006)
    }

    func testSiteNames() {
        XCTAssertEqual(FundusSite(name: "Target"), .target)
        XCTAssertEqual(FundusSite(name: "source"), .source)
        XCTAssertNil(FundusSite(name: "clinic"))
        XCTAssertEqual(FundusSite.custom(.target).camera, FundusSite.target.camera)
    }

    func testInterleavedBytes() {
        // 1×2 image, planar R = [0, 1], G = [0.5, 0.2], B = [1, 0].
        let bytes = FundusGenerator.interleavedRGB8([0, 1, 0.5, 0.2, 1, 0], width: 2, height: 1)
        XCTAssertEqual(bytes, [0, 128, 255, 255, 51, 0])
    }
}
