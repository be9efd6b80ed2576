import Foundation

/// Measures where a run's time goes: training steps, evaluations, checkpoint saves.
public final class TimerHook: TrainerHook {
    public private(set) var runSeconds = 0.0
    public private(set) var stepSeconds: [Double] = []
    public private(set) var evaluations = 0
    public private(set) var checkpointsSaved = 0
    private var runStart = DispatchTime.now()
    private var stepStart = DispatchTime.now()

    public init() {}

    public var meanStepSeconds: Double { stepSeconds.isEmpty ? 0 : stepSeconds.reduce(0, +) / Double(stepSeconds.count) }

    public func runStarted(_ context: TrainerContext) { runStart = .now() }
    public func stepStarted(_ context: TrainerContext) { stepStart = .now() }
    public func stepEnded(_ context: TrainerContext, _ info: StepInfo) { stepSeconds.append(seconds(since: stepStart)) }
    public func validationEnded(_ context: TrainerContext, metrics: [String: Double]) { evaluations += 1 }
    public func checkpointSaved(_ context: TrainerContext, directory: URL) { checkpointsSaved += 1 }
    public func runEnded(_ context: TrainerContext) { runSeconds = seconds(since: runStart) }

    private func seconds(since t: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - t.uptimeNanoseconds) / 1e9
    }
}
