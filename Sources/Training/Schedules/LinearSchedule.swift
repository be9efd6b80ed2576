/// Linear warmup from 0, then linear decay to 0 at `totalSteps`, as Hugging Face's
/// `get_linear_schedule_with_warmup`:
///
///     m(s) = s / warmupSteps                                          for s < warmupSteps
///     m(s) = max(0, (totalSteps − s) / (totalSteps − warmupSteps))    after
///
/// (each denominator at least 1). The multiplier stays 0 past `totalSteps`.
public struct LinearSchedule: LearningRateSchedule, Equatable, Sendable {
    public let warmupSteps: Int
    public let totalSteps: Int

    /// - Throws: `ScheduleError.invalidSetting` unless `0 ≤ warmupSteps ≤ totalSteps` and
    ///   `totalSteps ≥ 1`.
    public init(warmupSteps: Int = 0, totalSteps: Int) throws {
        try checkScheduleSetting("totalSteps", Double(totalSteps), totalSteps >= 1, "must be ≥ 1")
        try checkScheduleSetting("warmupSteps", Double(warmupSteps), warmupSteps >= 0 && warmupSteps <= totalSteps,
                                 "must be in 0...totalSteps (\(totalSteps))")
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
    }

    public func multiplier(step: Int) -> Float {
        if let warm = warmupMultiplier(step: step, warmupSteps: warmupSteps) { return Float(warm) }
        return Float(max(0, Double(totalSteps - step) / Double(max(1, totalSteps - warmupSteps))))
    }
}
