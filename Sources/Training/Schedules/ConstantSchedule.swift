/// A constant learning rate after an optional linear warmup, as Hugging Face's
/// `get_constant_schedule_with_warmup` (`get_constant_schedule` when `warmupSteps == 0`):
///
///     m(s) = s / warmupSteps    for s < warmupSteps
///     m(s) = 1                  after
public struct ConstantSchedule: LearningRateSchedule, Equatable, Sendable {
    public let warmupSteps: Int

    /// The constant multiplier 1 at every step.
    public init() { warmupSteps = 0 }

    /// - Throws: `ScheduleError.invalidSetting` when `warmupSteps < 0`.
    public init(warmupSteps: Int) throws {
        try checkScheduleSetting("warmupSteps", Double(warmupSteps), warmupSteps >= 0, "must be ≥ 0")
        self.warmupSteps = warmupSteps
    }

    public func multiplier(step: Int) -> Float {
        Float(warmupMultiplier(step: step, warmupSteps: warmupSteps) ?? 1)
    }
}
