import Foundation

/// Decays the learning rate by `gamma` every `stepSize` steps, as PyTorch's `StepLR` (counted in
/// optimizer steps):
///
///     m(s) = gamma ^ ⌊s / stepSize⌋
public struct StepSchedule: LearningRateSchedule, Equatable, Sendable {
    public let stepSize: Int
    public let gamma: Float

    /// - Throws: `ScheduleError.invalidSetting` when `stepSize < 1` or `gamma` is negative or not
    ///   finite.
    public init(stepSize: Int, gamma: Float) throws {
        try checkScheduleSetting("stepSize", Double(stepSize), stepSize >= 1, "must be ≥ 1")
        try checkScheduleSetting("gamma", Double(gamma), gamma >= 0 && gamma.isFinite, "must be finite and ≥ 0")
        self.stepSize = stepSize
        self.gamma = gamma
    }

    public func multiplier(step: Int) -> Float {
        precondition(step >= 0, "a schedule's step must be ≥ 0, got \(step)")
        return Float(pow(Double(gamma), Double(step / stepSize)))
    }
}
