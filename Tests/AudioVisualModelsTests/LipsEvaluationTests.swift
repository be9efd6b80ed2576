@testable import AudioVisualModels
import XCTest

/// The lips metrics on hand-made frames: distances, openings and their correlation.
final class LipsEvaluationTests: XCTestCase {
    /// 20 landmarks at rest with the inner lips (points 62 and 66) `gap` apart.
    func frame(gap: Float, shift: Float = 0) -> [Float] {
        var p = [Float](repeating: 10, count: 40)
        for i in 0..<20 { p[2 * i] += Float(i) + shift }
        p[2 * 14 + 1] = 20 - gap / 2
        p[2 * 18 + 1] = 20 + gap / 2
        return p
    }

    func testLandmarkErrorOpeningErrorAndCorrelation() throws {
        var e = LipsEvaluation()
        let truth = [frame(gap: 0), frame(gap: 4), frame(gap: 8)]
        // Shifted 3 px to the right, openings halved: a perfect correlation with an opening error.
        e.add(LipsPredictions(predicted: [frame(gap: 0, shift: 3), frame(gap: 2, shift: 3), frame(gap: 4, shift: 3)].flatMap { $0 },
                              target: truth.flatMap { $0 }))
        let v = e.values()
        XCTAssertEqual(try XCTUnwrap(v["opening_correlation"]), 1, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(v["opening_error"]), (0 + 2 + 4) / 3, accuracy: 1e-9)
        // Every point moves 3 px sideways; the two inner-lip centre points also move vertically.
        let vertical: [Double] = [0, 1, 2]             // per frame, each of the two points
        var total = 0.0
        for v in vertical { total += 54 + 2 * (9 + v * v).squareRoot() }
        let expected = total / 60
        XCTAssertEqual(try XCTUnwrap(v["landmark_error"]), expected, accuracy: 1e-6)
        // Openings that move against the truth correlate negatively; constant ones leave it undefined.
        var against = LipsEvaluation()
        against.add(LipsPredictions(predicted: [frame(gap: 8), frame(gap: 4), frame(gap: 0)].flatMap { $0 }, target: truth.flatMap { $0 }))
        XCTAssertEqual(try XCTUnwrap(against.values()["opening_correlation"]), -1, accuracy: 1e-9)
        var flat = LipsEvaluation()
        flat.add(LipsPredictions(predicted: [frame(gap: 3), frame(gap: 3), frame(gap: 3)].flatMap { $0 }, target: truth.flatMap { $0 }))
        XCTAssertNil(flat.values()["opening_correlation"])
    }
}
