/// Records every parameter group's learning rate at each step (for plots and checks).
public final class LearningRateMonitor: TrainerHook {
    /// (step, learning rate per group).
    public private(set) var history: [(step: Int, rates: [Float])] = []

    public init() {}

    public func stepEnded(_ context: TrainerContext, _ info: StepInfo) {
        let rates = context.optimizer.groups.indices.map { context.optimizer.learningRate(group: $0) }
        history.append((info.step, rates))
    }
}
