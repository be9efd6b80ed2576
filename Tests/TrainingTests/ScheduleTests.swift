import Foundation
import Training
import XCTest

/// Schedules against Hugging Face's (and torch's StepLR) multipliers, read from their LambdaLR
/// before each optimizer step (Fixtures/optim_schedules.json, from
/// scripts/make_optimizer_goldens.py), and hand-worked values.
final class ScheduleTests: XCTestCase {
    private struct Golden: Decodable {
        let kind: String
        let warmupSteps: Int?
        let totalSteps: Int?
        let stepSize: Int?
        let gamma: Float?
        let minMultiplier: Float?
        let values: [Double]

        func schedule() throws -> LearningRateSchedule {
            switch kind {
            case "constant": return try ConstantSchedule(warmupSteps: warmupSteps!)
            case "step": return try StepSchedule(stepSize: stepSize!, gamma: gamma!)
            case "linear": return try LinearSchedule(warmupSteps: warmupSteps!, totalSteps: totalSteps!)
            case "cosine":
                return try CosineSchedule(warmupSteps: warmupSteps!, totalSteps: totalSteps!,
                                          minMultiplier: minMultiplier!)
            default: throw CocoaError(.coderInvalidValue)
            }
        }
    }

    func testMatchesHuggingFace() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "optim_schedules", withExtension: "json",
                                                  subdirectory: "Fixtures"))
        let goldens = try JSONDecoder().decode([Golden].self, from: Data(contentsOf: url))
        XCTAssertEqual(goldens.count, 7)
        for golden in goldens {
            let schedule = try golden.schedule()
            for (step, expected) in golden.values.enumerated() {
                XCTAssertEqual(Double(schedule.multiplier(step: step)), expected, accuracy: 1e-6 * max(1, abs(expected)),
                               "\(golden.kind) \(golden) step \(step)")
            }
        }
    }

    func testHandWorkedValues() throws {
        XCTAssertEqual(ConstantSchedule().multiplier(step: 0), 1)
        let constant = try ConstantSchedule(warmupSteps: 2)
        XCTAssertEqual((0..<4).map { constant.multiplier(step: $0) }, [0, 0.5, 1, 1])

        let step = try StepSchedule(stepSize: 2, gamma: 0.1)
        for (s, e) in [1, 1, 0.1, 0.1, 0.01].enumerated() {
            XCTAssertEqual(step.multiplier(step: s), Float(e), accuracy: 1e-8)
        }

        // Warmup 2 of 6: 0, 0.5, then (6 − s) / 4.
        let linear = try LinearSchedule(warmupSteps: 2, totalSteps: 6)
        XCTAssertEqual((0..<9).map { linear.multiplier(step: $0) }, [0, 0.5, 1, 0.75, 0.5, 0.25, 0, 0, 0])

        // No warmup, 4 steps: ½(1 + cos(π s / 4)).
        let cosine = try CosineSchedule(totalSteps: 4)
        let expected: [Float] = [1, 0.5 + 0.5 * Float(0.5.squareRoot()), 0.5, 0.5 - 0.5 * Float(0.5.squareRoot()), 0]
        for (s, e) in expected.enumerated() { XCTAssertEqual(cosine.multiplier(step: s), e, accuracy: 1e-7) }
        // With a floor of 0.2: 0.2 + 0.8 · ½(1 + cos(π s / 4)); held at the floor after the end,
        // where Hugging Face's cosine would rise again.
        let floored = try CosineSchedule(warmupSteps: 1, totalSteps: 5, minMultiplier: 0.2)
        XCTAssertEqual(floored.multiplier(step: 0), 0)
        XCTAssertEqual(floored.multiplier(step: 1), 1)
        XCTAssertEqual(floored.multiplier(step: 3), 0.6, accuracy: 1e-7)
        for s in 5..<12 { XCTAssertEqual(floored.multiplier(step: s), 0.2, accuracy: 1e-7) }
    }

    func testInvalidSettingsThrow() {
        XCTAssertThrowsError(try ConstantSchedule(warmupSteps: -1))
        XCTAssertThrowsError(try StepSchedule(stepSize: 0, gamma: 0.5))
        XCTAssertThrowsError(try StepSchedule(stepSize: 1, gamma: -0.5))
        XCTAssertThrowsError(try LinearSchedule(warmupSteps: 0, totalSteps: 0))
        XCTAssertThrowsError(try LinearSchedule(warmupSteps: 11, totalSteps: 10)) {
            XCTAssertEqual($0 as? ScheduleError, .invalidSetting(name: "warmupSteps", value: 11,
                                                                 reason: "must be in 0...totalSteps (10)"))
        }
        XCTAssertThrowsError(try CosineSchedule(totalSteps: 10, minMultiplier: 1.5))
        XCTAssertNoThrow(try LinearSchedule(warmupSteps: 10, totalSteps: 10))
    }
}
