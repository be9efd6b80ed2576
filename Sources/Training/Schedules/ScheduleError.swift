/// Errors of learning-rate schedule construction (settings that come from a recipe).
public enum ScheduleError: Error, Equatable, CustomStringConvertible {
    /// A setting is outside its valid range (a negative warmup, a warmup longer than the run, …).
    case invalidSetting(name: String, value: Double, reason: String)

    public var description: String {
        switch self {
        case let .invalidSetting(name, value, reason):
            return "schedule setting \(name) = \(value) is invalid: \(reason)"
        }
    }
}

/// Throws `ScheduleError.invalidSetting` unless `valid`.
func checkScheduleSetting(_ name: String, _ value: Double, _ valid: Bool, _ reason: String) throws {
    if !valid { throw ScheduleError.invalidSetting(name: name, value: value, reason: reason) }
}

/// The linear warmup shared by the schedules, as Hugging Face's: `step / max(1, warmupSteps)`
/// while `step < warmupSteps` (so the first step runs at 0), nil after.
@inline(__always)
func warmupMultiplier(step: Int, warmupSteps: Int) -> Double? {
    precondition(step >= 0, "a schedule's step must be ≥ 0, got \(step)")
    return step < warmupSteps ? Double(step) / Double(max(1, warmupSteps)) : nil
}
