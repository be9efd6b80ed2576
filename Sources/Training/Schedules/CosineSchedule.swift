import Foundation

/// Linear warmup from 0, then a half cosine from 1 down to `minMultiplier` at `totalSteps`, as
/// Hugging Face's `get_cosine_schedule_with_warmup` (num_cycles 0.5), and with a minimum as its
/// `get_cosine_with_min_lr_schedule_with_warmup(min_lr_rate:)`:
///
///     m(s) = s / warmupSteps                                  for s < warmupSteps
///     p    = (s − warmupSteps) / (totalSteps − warmupSteps)   progress, each denominator ≥ 1
///     m(s) = minMultiplier + (1 − minMultiplier) · ½(1 + cos(π·p))
///
/// Past `totalSteps` the multiplier stays at `minMultiplier`. (Hugging Face's keeps following the
/// cosine, which rises again; a run that overshoots its planned length should not speed up.)
public struct CosineSchedule: LearningRateSchedule, Equatable, Sendable {
    public let warmupSteps: Int
    public let totalSteps: Int
    public let minMultiplier: Float

    /// - Throws: `ScheduleError.invalidSetting` unless `0 ≤ warmupSteps ≤ totalSteps`,
    ///   `totalSteps ≥ 1` and `0 ≤ minMultiplier ≤ 1`.
    public init(warmupSteps: Int = 0, totalSteps: Int, minMultiplier: Float = 0) throws {
        try checkScheduleSetting("totalSteps", Double(totalSteps), totalSteps >= 1, "must be ≥ 1")
        try checkScheduleSetting("warmupSteps", Double(warmupSteps), warmupSteps >= 0 && warmupSteps <= totalSteps,
                                 "must be in 0...totalSteps (\(totalSteps))")
        try checkScheduleSetting("minMultiplier", Double(minMultiplier), minMultiplier >= 0 && minMultiplier <= 1,
                                 "must be in [0, 1]")
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.minMultiplier = minMultiplier
    }

    public func multiplier(step: Int) -> Float {
        if let warm = warmupMultiplier(step: step, warmupSteps: warmupSteps) { return Float(warm) }
        let progress = min(1, Double(step - warmupSteps) / Double(max(1, totalSteps - warmupSteps)))
        let cosine = 0.5 * (1 + cos(Double.pi * progress))
        let low = Double(minMultiplier)
        return Float(max(0, cosine * (1 - low) + low))
    }
}
